package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

var update = flag.Bool("update", false, "rewrite schema.json from the provider")

// liveSchema is the schema the provider serves (GetSchema, in process).
func liveSchema(t *testing.T) []byte {
	t.Helper()
	prov, err := provider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(context.Background(), Name, semver.MustParse(Version), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal([]byte(resp.Schema), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return append(out, '\n')
}

// TestSchemaFileCurrent: schema.json (what the SDK generator and the
// README's numbers read) is the schema the provider serves.
func TestSchemaFileCurrent(t *testing.T) {
	live := liveSchema(t)
	if *update {
		if err := os.WriteFile("schema.json", live, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != string(live) {
		t.Fatalf("schema.json is not the provider's schema: run `go test -run TestSchemaFileCurrent -update` in provider/")
	}
}

// TestSchemaDocumented: every input and output of the component and every
// property of its types has a description, type, and the default and
// secrecy docs and the program give it; docs holds nothing unused.
func TestSchemaDocumented(t *testing.T) {
	var spec pschema.PackageSpec
	if err := json.Unmarshal(liveSchema(t), &spec); err != nil {
		t.Fatal(err)
	}
	net, ok := spec.Resources["vpclink:index:Network"]
	if !ok || !net.IsComponent {
		t.Fatalf("no component vpclink:index:Network in %v", spec.Resources)
	}
	used := map[string]bool{}
	count := 0
	check := func(path string, p pschema.PropertySpec) {
		count++
		used[path] = true
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("%s has no description", path)
		}
		if p.Type == "" && p.Ref == "" {
			t.Errorf("%s has no type", path)
		}
		if want := docs[path].Default; !reflect.DeepEqual(p.Default, jsonNumber(want)) {
			t.Errorf("%s: default %v, want %v", path, p.Default, want)
		}
		if secret := strings.HasSuffix(path, "sshPrivateKey"); p.Secret != secret {
			t.Errorf("%s: secret %v, want %v", path, p.Secret, secret)
		}
	}
	for name, p := range net.InputProperties {
		check(name, p)
	}
	for name, p := range net.Properties {
		check("out:"+name, p)
	}
	for tok, prefix := range map[string]string{"vpclink:index:Site": "sites[].", "vpclink:index:Link": "links[]."} {
		typ, ok := spec.Types[tok]
		if !ok {
			t.Fatalf("no type %s", tok)
		}
		if typ.Description == "" {
			t.Errorf("%s has no description", tok)
		}
		used[strings.TrimPrefix(tok, "vpclink:index:")] = true
		for name, p := range typ.Properties {
			check(prefix+name, p)
		}
	}
	if net.Description == "" {
		t.Error("Network has no description")
	}
	used["Network"] = true
	for k := range docs {
		if !used[k] {
			t.Errorf("docs[%q] is not in the schema", k)
		}
	}
	// Inputs: exactly the stack configuration's keys.
	sameKeys(t, "inputs", net.InputProperties, topology.Keys)
	// Only sites must be given; every output is always there.
	if !reflect.DeepEqual(net.RequiredInputs, []string{"sites"}) {
		t.Errorf("required inputs %v, want [sites]", net.RequiredInputs)
	}
	if len(net.Required) != len(net.Properties) {
		t.Errorf("required outputs %v, want all of them", net.Required)
	}
	sameKeys(t, "Site", spec.Types["vpclink:index:Site"].Properties, topology.SiteFields)
	sameKeys(t, "Link", spec.Types["vpclink:index:Link"].Properties, topology.LinkFields)
	t.Logf("%d documented properties (inputs, outputs and their types' fields)", count)
}

// jsonNumber is v as encoding/json decodes it into an any.
func jsonNumber(v any) any {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// sameKeys checks that props has exactly the keys want.
func sameKeys(t *testing.T, what string, props map[string]pschema.PropertySpec, want []string) {
	t.Helper()
	var got []string
	for name := range props {
		got = append(got, name)
	}
	sort.Strings(got)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s: %v, want the configuration's %v", what, got, w)
	}
}
