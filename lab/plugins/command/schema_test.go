package command

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// schemaProperty is the part of a schema property the comparison reads.
type schemaProperty struct {
	Type             string `json:"type"`
	Ref              string `json:"$ref"`
	Secret           bool   `json:"secret"`
	ReplaceOnChanges bool   `json:"replaceOnChanges"`
	Default          any    `json:"default"`
}

type schemaObject struct {
	Properties      map[string]schemaProperty `json:"properties"`
	InputProperties map[string]schemaProperty `json:"inputProperties"`
	Required        []string                  `json:"required"`
}

type packageSchema struct {
	Resources map[string]schemaObject `json:"resources"`
	Types     map[string]schemaObject `json:"types"`
	Functions map[string]any          `json:"functions"`
}

// programUses are the inputs of command:remote:Command the program sets
// (components/vpclink/link.go: identity, the setup registration in
// NewLink, check, and connection), plus connection.port, which the SDK's
// ConnectionArgs defaults (Connection.Defaults) always send.
var programUses = map[string][]string{
	"":           {"connection", "create", "delete", "stdin", "triggers"},
	"connection": {"host", "hostKey", "user", "privateKey", "dialErrorLimit", "perDialTimeout", "port"},
}

func loadSchema(t *testing.T) packageSchema {
	t.Helper()
	path := filepath.Join("..", "..", "..", "..", "shared", "upstream-data", "pulumi-command-1.2.1.schema.json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("the upstream schema is not here (%s): nothing to compare the stand-in with", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var s packageSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// sample is a value of a schema property's type.
func sample(p schemaProperty) resource.PropertyValue {
	switch {
	case p.Ref == "#/types/command:remote:Logging":
		return resource.NewProperty("stdout")
	case p.Ref != "" || p.Type == "object":
		return resource.NewProperty(resource.PropertyMap{"host": resource.NewProperty("127.0.0.1"), "X": resource.NewProperty("1")})
	case p.Type == "string":
		return resource.NewProperty("x")
	case p.Type == "boolean":
		return resource.NewProperty(false)
	case p.Type == "integer", p.Type == "number":
		return resource.NewProperty(3.0)
	case p.Type == "array":
		return resource.NewProperty([]resource.PropertyValue{resource.NewProperty("y")})
	}
	return resource.NewProperty("x")
}

func failed(failures []*pulumirpc.CheckFailure, path string) bool {
	for _, f := range failures {
		if f.GetProperty() == path {
			return true
		}
	}
	return false
}

// The stand-in accepts no property the real schema lacks, refuses by name
// each schema property it does not implement, accepts every one the
// program sets, and agrees with the schema on defaults, secrets,
// replacement, outputs and the set of resources and functions.
func TestStandInMatchesSchema(t *testing.T) {
	s := loadSchema(t)
	res, ok := s.Resources[RemoteCommand]
	if !ok {
		t.Fatalf("the schema has no %s", RemoteCommand)
	}
	connType := s.Types["command:remote:Connection"]
	if len(connType.Properties) == 0 {
		t.Fatal("the schema has no command:remote:Connection")
	}

	// What the stand-in accepts is in the schema.
	for k := range inputKeys {
		if _, ok := res.InputProperties[k]; !ok {
			t.Errorf("the stand-in accepts %q, which the schema lacks", k)
		}
	}
	for k := range connectionKeys {
		if _, ok := connType.Properties[k]; !ok {
			t.Errorf("the stand-in accepts connection.%q, which the schema lacks", k)
		}
	}

	f := newFixture(t, nil)
	// What the program sets is accepted.
	for _, k := range programUses[""] {
		if !inputKeys[k] {
			t.Errorf("the program sets %q; the stand-in does not implement it", k)
		}
	}
	for _, k := range programUses["connection"] {
		if !connectionKeys[k] {
			t.Errorf("the program sets connection.%q; the stand-in does not implement it", k)
		}
	}

	// Each schema input: accepted when implemented, else refused by name.
	for k, p := range res.InputProperties {
		if k == "connection" {
			continue
		}
		news := resource.PropertyMap{"connection": f.conn(nil), resource.PropertyKey(k): sample(p)}
		_, failures := f.check(news)
		if inputKeys[k] == failed(failures, k) {
			t.Errorf("%s: implemented=%v, Check failures %v", k, inputKeys[k], failures)
		}
	}
	for k, p := range connType.Properties {
		news := resource.PropertyMap{"connection": f.conn(map[string]any{k: sample(p)})}
		_, failures := f.check(news)
		if connectionKeys[k] == failed(failures, "connection."+k) {
			t.Errorf("connection.%s: implemented=%v, Check failures %v", k, connectionKeys[k], failures)
		}
	}
	// And recursively: a field the schema's Connection lacks is refused.
	_, failures := f.check(resource.PropertyMap{"connection": f.conn(map[string]any{"bastion": "x"})})
	if !failed(failures, "connection.bastion") {
		t.Errorf("connection.bastion accepted: %v", failures)
	}

	// Defaults: Check fills in exactly the schema's (connection only: the
	// resource's own inputs have none).
	checked, failures := f.check(resource.PropertyMap{"connection": resource.NewProperty(resource.PropertyMap{"host": resource.NewProperty("h")})})
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	conn := checked["connection"].SecretValue().Element.ObjectValue()
	for k, p := range connType.Properties {
		got, has := conn[resource.PropertyKey(k)]
		switch {
		case p.Default == nil && has && k != "host":
			t.Errorf("Check set connection.%s, which has no default", k)
		case p.Default != nil && (!has || !got.DeepEquals(resource.NewPropertyValue(p.Default))):
			t.Errorf("connection.%s = %v, schema default %v", k, got, p.Default)
		}
	}
	for k, p := range res.InputProperties {
		if p.Default != nil {
			t.Errorf("the schema now has a default for %s: the stand-in applies none", k)
		}
		if _, has := checked[resource.PropertyKey(k)]; has && k != "connection" {
			t.Errorf("Check added %s", k)
		}
	}

	// Secrets: the schema's secret inputs are secret in the checked inputs
	// and in the outputs; inside connection, its secret fields too.
	full := f.checked(map[string]any{"create": "echo out", "stdin": "in"})
	out := f.mustCreate(full)
	for k, p := range res.Properties {
		v, has := out[resource.PropertyKey(k)]
		if !has {
			if contains(res.Required, k) {
				t.Errorf("output %s (required) missing", k)
			}
			continue
		}
		if v.IsSecret() != p.Secret {
			t.Errorf("output %s: secret=%v, schema secret=%v", k, v.IsSecret(), p.Secret)
		}
		if in, ok := res.InputProperties[k]; ok && in.Secret && !full[resource.PropertyKey(k)].IsSecret() {
			t.Errorf("checked input %s is not secret", k)
		}
	}
	for k := range out {
		if _, ok := res.Properties[string(k)]; !ok {
			t.Errorf("output %s is not in the schema", k)
		}
	}
	inner := full["connection"].SecretValue().Element.ObjectValue()
	for k, p := range connType.Properties {
		if v, ok := inner[resource.PropertyKey(k)]; ok && v.IsSecret() != p.Secret {
			t.Errorf("connection.%s: secret=%v, schema %v", k, v.IsSecret(), p.Secret)
		}
	}

	// replaceOnChanges: those inputs replace, the others update.
	for k, p := range res.InputProperties {
		if !inputKeys[k] || k == "connection" {
			continue
		}
		olds := resource.PropertyMap{"connection": full["connection"]}
		news := olds.Copy()
		news[resource.PropertyKey(k)] = sample(p)
		d := f.diff(olds, olds, news)
		if replaced := len(d.GetReplaces()) > 0; replaced != p.ReplaceOnChanges || d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME {
			t.Errorf("a change of %s: replaces=%v, schema replaceOnChanges=%v", k, d.GetReplaces(), p.ReplaceOnChanges)
		}
	}

	// Every other resource and every function is refused.
	var others []string
	for token := range s.Resources {
		if token != RemoteCommand {
			others = append(others, token)
		}
	}
	sort.Strings(others)
	for _, token := range others {
		_, err := f.p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: "urn:pulumi:dev::vpclink::" + token + "::x"})
		if err == nil || !strings.Contains(err.Error(), "not emulated") {
			t.Errorf("%s: %v", token, err)
		}
	}
	for token := range s.Functions {
		if _, err := f.p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: token}); err == nil {
			t.Errorf("function %s answered", token)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
