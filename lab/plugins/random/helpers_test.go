package random

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

// upstreamDir holds the real plugin's recorded exchange and schemas,
// relative to this package's directory.
const upstreamDir = "../../../../shared/upstream-data/"

// urnOf is the URN of a resource of type typ named name in a lab stack.
func urnOf(typ, name string) string {
	return "urn:pulumi:lab::vpclink::" + typ + "::" + name
}

var passwordURN = urnOf(PasswordType, "static-key")

func mustStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := skeleton.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustMap(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := skeleton.Unmarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// props builds a PropertyMap from Go values (ints become numbers).
func props(kv map[string]any) resource.PropertyMap {
	m := resource.PropertyMap{}
	for k, v := range kv {
		if i, ok := v.(int); ok {
			v = float64(i)
		}
		m[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
	}
	return m
}

// check runs Check on news and returns the failures.
func check(t *testing.T, p *Provider, news resource.PropertyMap) []*pulumirpc.CheckFailure {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: passwordURN, News: mustStruct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetFailures()
}

// create runs Create and returns the id and the outputs (secrets kept).
func create(t *testing.T, p *Provider, in resource.PropertyMap, preview bool) (string, resource.PropertyMap) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: passwordURN, Properties: mustStruct(t, in), Preview: preview})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetId(), mustMap(t, resp.GetProperties())
}

// secretString is the string inside a secret output, failing if the
// output is not a secret string.
func secretString(t *testing.T, out resource.PropertyMap, k resource.PropertyKey) string {
	t.Helper()
	v, ok := out[k]
	if !ok || !v.IsSecret() {
		t.Fatalf("output %s = %v, want a secret", k, v)
	}
	e := v.SecretValue().Element
	if !e.IsString() {
		t.Fatalf("output %s = secret %v, want a secret string", k, e)
	}
	return e.StringValue()
}

// programInputs are the RandomPassword inputs components/hexsecret sets for
// n bytes, read from hexsecret.Args by reflection (each set field under its
// `pulumi` tag), so that they follow the program.
func programInputs(t *testing.T, n int) resource.PropertyMap {
	t.Helper()
	args := hexsecret.Args(n)
	tags := args.ElementType()
	v := reflect.ValueOf(args).Elem()
	m := resource.PropertyMap{}
	for i := range v.NumField() {
		f := v.Field(i)
		if f.IsNil() {
			continue
		}
		name := v.Type().Field(i).Name
		sf, ok := tags.FieldByName(name)
		if !ok {
			t.Fatalf("hexsecret.Args sets %s, which the SDK's arguments do not have", name)
		}
		key := resource.PropertyKey(strings.Split(sf.Tag.Get("pulumi"), ",")[0])
		switch x := f.Elem().Interface().(type) {
		case pulumi.Int:
			m[key] = resource.NewProperty(float64(x))
		case pulumi.Bool:
			m[key] = resource.NewProperty(bool(x))
		case pulumi.String:
			m[key] = resource.NewProperty(string(x))
		default:
			t.Fatalf("hexsecret.Args sets %s to a %T; extend programInputs", name, x)
		}
	}
	if len(m) == 0 {
		t.Fatal("hexsecret.Args sets no input")
	}
	return m
}
