package random

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
)

// The package schema of pulumi-random 4.21.1, the reference for which
// inputs RandomPassword has, their defaults and which outputs are secret.
const schemaFile = upstreamDir + "pulumi-random-4.21.1.schema.json"

type schemaProperty struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Secret      bool   `json:"secret"`
}

type schemaResource struct {
	Properties      map[string]schemaProperty `json:"properties"`
	Required        []string                  `json:"required"`
	InputProperties map[string]schemaProperty `json:"inputProperties"`
	RequiredInputs  []string                  `json:"requiredInputs"`
}

func loadSchema(t *testing.T) schemaResource {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the pulumi-random schema %s is not here (it lives outside the repository, in ../shared/upstream-data)", schemaFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Resources map[string]schemaResource `json:"resources"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	r, ok := s.Resources[PasswordType]
	if !ok {
		t.Fatalf("%s has no %s", schemaFile, PasswordType)
	}
	return r
}

// sample is a valid value of a schema property's type.
func sample(t *testing.T, k string, p schemaProperty) resource.PropertyValue {
	switch p.Type {
	case "integer":
		return resource.NewProperty(0.0)
	case "boolean":
		return resource.NewProperty(true)
	case "string":
		return resource.NewProperty("!#")
	case "object":
		return resource.NewProperty(resource.PropertyMap{"rotation": resource.NewProperty("1")})
	}
	t.Fatalf("schema input %s has type %q; extend sample", k, p.Type)
	return resource.PropertyValue{}
}

// The stand-in accepts exactly the schema's inputs of RandomPassword: it
// must neither accept one the schema does not have nor refuse one it has.
func TestSchemaInputs(t *testing.T) {
	s := loadSchema(t)
	for k := range InputProperties {
		if _, ok := s.InputProperties[k]; !ok {
			t.Errorf("the stand-in accepts %q, which RandomPassword's inputProperties (4.21.1) do not have", k)
		}
	}
	p := New()
	for k, prop := range s.InputProperties {
		if !InputProperties[k] {
			t.Errorf("the stand-in lacks input %q of RandomPassword (4.21.1)", k)
		}
		news := resource.PropertyMap{"length": resource.NewProperty(8.0), resource.PropertyKey(k): sample(t, k, prop)}
		if k == "length" {
			news["length"] = resource.NewProperty(3.0)
		}
		for _, f := range check(t, p, news) {
			t.Errorf("Check with %s = %v: failure %s: %s", k, news[resource.PropertyKey(k)], f.GetProperty(), f.GetReason())
		}
	}
	for _, bogus := range []string{"id", "result", "bcryptHash", "minSpecials", "seed"} {
		if _, ok := s.InputProperties[bogus]; ok {
			t.Fatalf("%q is an input in the schema; pick another", bogus)
		}
		failures := check(t, p, resource.PropertyMap{"length": resource.NewProperty(8.0), resource.PropertyKey(bogus): resource.NewProperty("x")})
		if len(failures) != 1 || failures[0].GetProperty() != bogus || !strings.Contains(failures[0].GetReason(), "not emulated") {
			t.Errorf("Check with %q: failures %v, want one refusing %q by name", bogus, failures, bogus)
		}
	}
	if want := s.RequiredInputs; len(want) != 1 || want[0] != "length" {
		t.Errorf("schema requiredInputs %v; the stand-in requires only length", want)
	}
	failures := check(t, p, resource.PropertyMap{"special": resource.NewProperty(true)})
	if len(failures) != 1 || failures[0].GetProperty() != "length" {
		t.Errorf("Check without length: failures %v, want one on length", failures)
	}
}

// Every input the program sets (components/hexsecret.Args) is one the
// schema has and the stand-in accepts.
func TestSchemaProgramInputs(t *testing.T) {
	s := loadSchema(t)
	in := programInputs(t, 32)
	for k := range in {
		if _, ok := s.InputProperties[string(k)]; !ok {
			t.Errorf("the program sets %q, which RandomPassword's inputProperties (4.21.1) do not have", k)
		}
		if !InputProperties[string(k)] {
			t.Errorf("the program sets %q, which the stand-in does not accept", k)
		}
	}
	for _, f := range check(t, New(), in) {
		t.Errorf("Check of the program's inputs %v: failure %s: %s", in, f.GetProperty(), f.GetReason())
	}
}

// The inputs the program ignores changes of (hexsecret.Inputs) are exactly
// the schema's: an input a provider release adds would otherwise replace
// every key seed.
func TestSchemaInputsIgnoredByTheProgram(t *testing.T) {
	s := loadSchema(t)
	var schema []string
	for k := range s.InputProperties {
		schema = append(schema, k)
	}
	sort.Strings(schema)
	ignored := append([]string(nil), hexsecret.Inputs...)
	sort.Strings(ignored)
	if strings.Join(schema, " ") != strings.Join(ignored, " ") {
		t.Errorf("hexsecret.Inputs = %v, the 4.21.1 schema's inputs are %v", ignored, schema)
	}
}

// defaultRE finds "Default value is `x`" in a description (the value may
// sit in a per-language <span>).
var defaultRE = regexp.MustCompile("Default value is (?:<span[^>]*>)?`([^`]+)`")

// The defaults the stand-in puts in its outputs are the ones the schema's
// descriptions give, and its outputs are the schema's: every required
// output present, nothing the schema lacks but the bridge's "id" and
// "__meta", and exactly the schema's secret outputs secret.
func TestSchemaOutputs(t *testing.T) {
	s := loadSchema(t)
	p := New()
	id, out := create(t, p, resource.PropertyMap{"length": resource.NewProperty(12.0)}, false)
	if id != ID {
		t.Errorf("id %q, want %q", id, ID)
	}
	described := 0
	for k, prop := range s.InputProperties {
		m := defaultRE.FindStringSubmatch(prop.Description)
		if m == nil {
			continue
		}
		described++
		var want resource.PropertyValue
		b, errBool := strconv.ParseBool(m[1])
		n, errNum := strconv.Atoi(m[1])
		switch {
		case prop.Type == "boolean" && errBool == nil:
			want = resource.NewProperty(b)
		case prop.Type == "integer" && errNum == nil:
			want = resource.NewProperty(float64(n))
		default:
			t.Fatalf("schema default of %s (%s) is %q; extend the test", k, prop.Type, m[1])
		}
		if got := out[resource.PropertyKey(k)]; !got.DeepEquals(want) {
			t.Errorf("default of %s = %v, the schema says %v", k, got, want)
		}
	}
	if described < 9 {
		t.Errorf("only %d schema inputs describe a default; has the schema's wording changed?", described)
	}
	for _, k := range s.Required {
		if _, ok := out[resource.PropertyKey(k)]; !ok {
			t.Errorf("output %q, required by the schema, is missing", k)
		}
	}
	var secrets []string
	for k, prop := range s.Properties {
		if prop.Secret {
			secrets = append(secrets, k)
		}
	}
	sort.Strings(secrets)
	if strings.Join(secrets, ",") != strings.Join(SecretOutputs, ",") {
		t.Errorf("schema secret outputs %v, the stand-in's %v", secrets, SecretOutputs)
	}
	for k, v := range out {
		_, inSchema := s.Properties[string(k)]
		if !inSchema && k != "id" && k != "__meta" {
			t.Errorf("output %q is not in the schema", k)
		}
		if v.IsSecret() != s.Properties[string(k)].Secret {
			t.Errorf("output %q secret = %v, schema says %v", k, v.IsSecret(), s.Properties[string(k)].Secret)
		}
	}
}
