package topology

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSchemaMatchesConfigStructs: every field of Config, Site and Link is a
// key or field of the schema, by its json name (or config tag), with the
// schema's type, and every key and field of the schema is a Go field: a new
// field cannot be added without its description, nor a description stay
// behind a removed field.
func TestSchemaMatchesConfigStructs(t *testing.T) {
	matchStruct(t, "vpclink", reflect.TypeFor[Config](), InputSchema())
}

func matchStruct(t *testing.T, where string, st reflect.Type, docs []KeyDoc) {
	t.Helper()
	byName := map[string]KeyDoc{}
	for _, d := range docs {
		byName[d.Name] = d
	}
	seen := map[string]bool{}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("config")
		if name == "" {
			name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
		}
		if name == "" || name == "-" {
			t.Errorf("%s: Go field %s.%s has no json name nor config tag: which key is it?", where, st.Name(), f.Name)
			continue
		}
		seen[name] = true
		d, ok := byName[name]
		if !ok {
			t.Errorf("%s: Go field %s.%s (%q) is not in the schema (schema.go): define its type, default and description there", where, st.Name(), f.Name, name)
			continue
		}
		path := where + "." + name
		typ, items, elem := goType(f.Type)
		if typ != d.Type || items != d.Items {
			t.Errorf("%s: the schema says %s of %q, the Go field %s.%s is %s (%s of %q)", path, d.Type, d.Items, st.Name(), f.Name, f.Type, typ, items)
		}
		if elem != nil {
			matchStruct(t, path, elem, d.Fields)
		} else if len(d.Fields) > 0 {
			t.Errorf("%s: the schema gives fields, the Go field %s.%s has none", path, st.Name(), f.Name)
		}
	}
	for _, d := range docs {
		if !seen[d.Name] {
			t.Errorf("%s: %q is in the schema but no field of %s", where, d.Name, st.Name())
		}
	}
}

// goType is the schema type of a Go field's type, and the struct of the
// elements of a list of objects.
func goType(t reflect.Type) (Type, Type, reflect.Type) {
	switch t.Kind() {
	case reflect.String:
		return TypeString, "", nil
	case reflect.Int:
		return TypeInteger, "", nil
	case reflect.Bool:
		return TypeBoolean, "", nil
	case reflect.Pointer:
		return goType(t.Elem())
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return TypeArray, TypeString, nil
		case reflect.Struct:
			return TypeArray, TypeObject, t.Elem()
		}
	}
	return Type("Go " + t.String()), "", nil
}

// TestSchemaIsComplete: every key and field has a type the CLI takes, a
// description, either a default or what leaving it out means (or is
// required), a default of its type, and allowed values its description names.
func TestSchemaIsComplete(t *testing.T) {
	var check func(path string, docs []KeyDoc)
	check = func(path string, docs []KeyDoc) {
		names := map[string]bool{}
		for _, d := range docs {
			p := path + d.Name
			if names[d.Name] {
				t.Errorf("%s: defined twice", p)
			}
			names[d.Name] = true
			switch d.Type {
			case TypeString, TypeInteger, TypeBoolean:
				if d.Items != "" || len(d.Fields) > 0 {
					t.Errorf("%s: a %s with items or fields", p, d.Type)
				}
			case TypeArray:
				if d.Items != TypeString && d.Items != TypeObject {
					t.Errorf("%s: array of %q", p, d.Items)
				}
				if (d.Items == TypeObject) != (len(d.Fields) > 0) {
					t.Errorf("%s: an array of %s with %d fields", p, d.Items, len(d.Fields))
				}
			default:
				t.Errorf("%s: type %q", p, d.Type)
			}
			desc := d.Description
			if desc == "" || !strings.HasSuffix(desc, ".") || strings.ContainsAny(desc, "\n\t|") || strings.Contains(desc, "  ") {
				t.Errorf("%s: description %q is not one paragraph of single-spaced sentences without '|'", p, desc)
			}
			if strings.Contains(desc, "](") {
				t.Errorf("%s: a Markdown link in the description (it is shown in Pulumi.yaml too): put it in ReadmeNote", p)
			}
			given := 0
			for _, b := range []bool{d.Required, d.Default != nil, d.Unset != ""} {
				if b {
					given++
				}
			}
			if given != 1 {
				t.Errorf("%s: give exactly one of Required, Default, Unset (required %v, default %v, unset %q)", p, d.Required, d.Default, d.Unset)
			}
			if d.Default != nil {
				want := map[Type]reflect.Type{TypeString: reflect.TypeFor[string](), TypeInteger: reflect.TypeFor[int](), TypeBoolean: reflect.TypeFor[bool](), TypeArray: reflect.TypeFor[[]string]()}[d.Type]
				if reflect.TypeOf(d.Default) != want || d.Type == TypeArray && d.Items != TypeString {
					t.Errorf("%s: default %#v is not a %s", p, d.Default, d.Type)
				}
			}
			for _, a := range d.Allowed {
				if !strings.Contains(desc, a) {
					t.Errorf("%s: the description does not name the allowed value %s", p, a)
				}
			}
			if d.Default != nil && len(d.Allowed) > 0 && d.Default != d.Allowed[0] {
				t.Errorf("%s: default %v is not the first allowed value (%v)", p, d.Default, d.Allowed)
			}
			check(p+"[i].", d.Fields)
		}
	}
	check("", InputSchema())
}

// The order of Keys and of the fields is that of Decode's reports and of the
// messages naming valid keys: a change to it shows here.
func TestSchemaKeepsKeyOrder(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"Keys", Keys, []string{"sites", "links", "instanceType", "os", "sshUser", "sshAllowedCidrs",
			"sshPublicKey", "sshPrivateKey", "tunnelPort", "tunnelMtu", "tunnelMode", "postDeployCheck",
			"hub", "summaryCidr", "highAvailability", "failbackHoldDownSeconds"}},
		{"SiteFields", SiteFields, []string{"name", "region", "vpcCidr", "vpnSubnetCidr", "terminalSubnetCidr",
			"vpnPrivateIp", "terminalPrivateIp", "terminal", "availabilityZone", "instanceType", "ami", "os",
			"highAvailability", "secondaryVpnSubnetCidr", "secondaryVpnPrivateIp", "secondaryAvailabilityZone"}},
		{"LinkFields", LinkFields, []string{"name", "sites", "port", "tunnelAddresses", "mode",
			"secondaryPort", "secondaryTunnelAddresses"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got, want := shape(linkSchema), "sites, name?, port?, tunnelAddresses?, mode?, secondaryPort?, secondaryTunnelAddresses?"; got != want {
		t.Errorf("a link's shape in messages: %q, want %q", got, want)
	}
}

// TestInputSchema: what a component schema takes from the definition, and
// that a caller's changes to it do not reach the program's.
func TestInputSchema(t *testing.T) {
	mode, ok := Lookup("links", "mode")
	if !ok || mode.Type != TypeString || !slices.Equal(mode.Allowed, TunnelModes) || !strings.Contains(mode.Description, "tls or static") {
		t.Errorf(`Lookup("links", "mode") = %+v, %v`, mode, ok)
	}
	if k, ok := Lookup("tunnelMode"); !ok || k.Default != DefaultTunnelMode {
		t.Errorf(`Lookup("tunnelMode") = %+v, %v`, k, ok)
	}
	if k, ok := Lookup("sshPrivateKey"); !ok || !k.Secret {
		t.Errorf("sshPrivateKey is not secret in the schema: %+v", k)
	}
	if _, ok := Lookup("links", "ports"); ok {
		t.Error(`Lookup("links", "ports") found a field`)
	}
	if _, ok := Lookup("nothing", "mode"); ok {
		t.Error(`Lookup("nothing", "mode") found a field`)
	}

	s := InputSchema()
	s[0].Fields[0].Description = "changed"
	s[3].Allowed[0] = "changed"
	s[5].Default.([]string)[0] = "changed"
	if d, _ := Lookup("sites", "name"); d.Description == "changed" {
		t.Error("a change to InputSchema's fields reached the schema")
	}
	if OSes[0] == "changed" || DefaultSSHAllowedCIDRs[0] == "changed" {
		t.Errorf("a change to InputSchema's values reached the program: OSes %v, DefaultSSHAllowedCIDRs %v", OSes, DefaultSSHAllowedCIDRs)
	}
}

func TestMaxMeshSites(t *testing.T) {
	n := maxMeshSites()
	if n*(n-1)/2 > MaxDefaultTunnels || (n+1)*n/2 <= MaxDefaultTunnels || n != 181 {
		t.Errorf("maxMeshSites() = %d for %d tunnels", n, MaxDefaultTunnels)
	}
	if got := tunnelNetworkStem(); got != "10.254." {
		t.Errorf("tunnelNetworkStem() = %q", got)
	}
}
