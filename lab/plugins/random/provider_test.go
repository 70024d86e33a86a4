package random

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestPluginInfo(t *testing.T) {
	info, err := New().GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != Version || Version != "4.21.2" {
		t.Errorf("GetPluginInfo = %v, %v; want %s (what pulumi-random/sdk/v4 v4.21.2 asks for)", info, err, Version)
	}
}

// The program's provider has no settings; anything else is refused.
func TestCheckConfig(t *testing.T) {
	p := New()
	for _, c := range []struct {
		news resource.PropertyMap
		fail string
	}{
		{resource.PropertyMap{}, ""},
		{props(map[string]any{"version": "4.21.2"}), ""},
		{props(map[string]any{"seed": "x"}), "seed"},
	} {
		resp, err := p.CheckConfig(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf("pulumi:providers:random", "random"), News: mustStruct(t, c.news)})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, f := range resp.GetFailures() {
			got += f.GetProperty()
		}
		if got != c.fail {
			t.Errorf("CheckConfig(%v): failures on %q, want %q", c.news, got, c.fail)
		}
	}
}

func TestOtherTypesNotEmulated(t *testing.T) {
	p := New()
	urn := urnOf("random:index/randomBytes:RandomBytes", "b")
	ctx := context.Background()
	_, errCheck := p.Check(ctx, &pulumirpc.CheckRequest{Urn: urn})
	_, errCreate := p.Create(ctx, &pulumirpc.CreateRequest{Urn: urn})
	_, errDiff := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn})
	_, errRead := p.Read(ctx, &pulumirpc.ReadRequest{Urn: urn})
	_, errUpdate := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: urn})
	_, errDelete := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: urn})
	for _, err := range []error{errCheck, errCreate, errDiff, errRead, errUpdate, errDelete} {
		if err == nil || err.Error() != "vpclink lab: resource type random:index/randomBytes:RandomBytes is not emulated" {
			t.Errorf("got %v, want RandomBytes refused by name", err)
		}
	}
	if _, err := p.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: "random:index/getX:getX"}); err == nil {
		t.Error("Invoke answered")
	}
}

// Defaults appear in Create's outputs, never in Check's inputs.
func TestDefaults(t *testing.T) {
	base := map[string]any{"length": 10}
	all := map[string]any{"lower": true, "upper": true, "special": true, "number": true, "numeric": true, "minLower": 0, "minUpper": 0, "minNumeric": 0, "minSpecial": 0}
	for _, c := range []struct {
		name string
		in   map[string]any
		want map[string]any // differences from all
	}{
		{"nothing set", nil, nil},
		{"numeric false", map[string]any{"numeric": false}, map[string]any{"number": false, "numeric": false}},
		{"number false (deprecated)", map[string]any{"number": false}, map[string]any{"number": false, "numeric": false}},
		{"both set alike", map[string]any{"number": false, "numeric": false}, map[string]any{"number": false, "numeric": false}},
		{"classes off", map[string]any{"lower": false, "upper": false}, map[string]any{"lower": false, "upper": false}},
		{"minimums set", map[string]any{"minUpper": 1, "minSpecial": 2}, map[string]any{"minUpper": 1, "minSpecial": 2}},
		{"override and keepers kept", map[string]any{"overrideSpecial": "-_", "keepers": map[string]any{"k": "v"}}, map[string]any{"overrideSpecial": "-_", "keepers": map[string]any{"k": "v"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := props(base)
			for k, v := range props(c.in) {
				in[k] = v
			}
			p := New()
			resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: passwordURN, News: mustStruct(t, in)})
			if err != nil || len(resp.GetFailures()) > 0 {
				t.Fatalf("Check: %v %v", resp.GetFailures(), err)
			}
			if checked := mustMap(t, resp.GetInputs()); !checked.DeepEquals(in) {
				t.Errorf("Check inputs %v, want the news unchanged %v", checked, in)
			}
			_, out := create(t, p, in, false)
			want := props(base)
			for k, v := range props(all) {
				want[k] = v
			}
			for k, v := range props(c.want) {
				want[k] = v
			}
			for k, v := range want {
				if !out[k].DeepEquals(v) {
					t.Errorf("output %s = %v, want %v", k, out[k], v)
				}
			}
			for _, k := range []resource.PropertyKey{"overrideSpecial", "keepers"} {
				if _, set := in[k]; !set {
					if v, ok := out[k]; ok {
						t.Errorf("output %s = %v, want absent (not set)", k, v)
					}
				}
			}
			if len(out) != len(want)+4 { // + id, __meta, result, bcryptHash
				t.Errorf("outputs %v: %d keys, want %d", out, len(out), len(want)+4)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		name     string
		in       map[string]any
		property string
		reason   string
	}{
		{"length missing", map[string]any{"special": true}, "length", "missing required property 'length'"},
		{"length zero", map[string]any{"length": 0}, "length", "length must be at least 1, got 0"},
		{"length negative", map[string]any{"length": -3}, "length", "length must be at least 1, got -3"},
		{"length fractional", map[string]any{"length": 2.5}, "length", "length must be an integer, got 2.5"},
		{"length a string", map[string]any{"length": "16"}, "length", `length must be an integer, got "16"`},
		{"length below minimums", map[string]any{"length": 7, "minUpper": 2, "minLower": 2, "minNumeric": 2, "minSpecial": 2}, "length", "length must be at least minUpper + minLower + minNumeric + minSpecial = 8, got 7"},
		{"negative minimum", map[string]any{"length": 8, "minSpecial": -1}, "minSpecial", "minSpecial -1 is not emulated"},
		{"minimum a bool", map[string]any{"length": 8, "minLower": true}, "minLower", "minLower must be an integer, got true"},
		{"flag a string", map[string]any{"length": 8, "upper": "yes"}, "upper", `upper must be a boolean, got "yes"`},
		{"number and numeric disagree", map[string]any{"length": 8, "number": true, "numeric": false}, "numeric", "number (true) and numeric (false) are both configured with different values"},
		{"every class off", map[string]any{"length": 8, "numeric": false, "upper": false, "lower": false, "special": false}, "numeric", "at least one of numeric, upper, lower and special must be true"},
		{"every class off (number)", map[string]any{"length": 8, "number": false, "upper": false, "lower": false, "special": false}, "number", "at least one of number, upper, lower and special must be true"},
		{"override not a string", map[string]any{"length": 8, "overrideSpecial": 3}, "overrideSpecial", "overrideSpecial must be a string, got 3"},
		{"override not ASCII", map[string]any{"length": 8, "overrideSpecial": "é"}, "overrideSpecial", "is not emulated (only ASCII characters are)"},
		{"keepers not a map", map[string]any{"length": 8, "keepers": "x"}, "keepers", `keepers must be a map of strings, got "x"`},
		{"keeper not a string", map[string]any{"length": 8, "keepers": map[string]any{"n": 1}}, "keepers", "keepers.n must be a string, got 1"},
		{"unknown property", map[string]any{"length": 8, "seed": "x"}, "seed", `vpclink lab: property "seed" of random:index/randomPassword:RandomPassword is not emulated`},
	} {
		t.Run(c.name, func(t *testing.T) {
			failures := check(t, New(), props(c.in))
			if len(failures) != 1 || failures[0].GetProperty() != c.property || !strings.Contains(failures[0].GetReason(), c.reason) {
				t.Errorf("Check(%v) failures %v, want one on %s containing %q", c.in, failures, c.property, c.reason)
			}
		})
	}
	// Accepted edge cases: length equal to the minimums, some classes off,
	// unknown values in a preview.
	for _, in := range []resource.PropertyMap{
		props(map[string]any{"length": 8, "minUpper": 2, "minLower": 2, "minNumeric": 2, "minSpecial": 2}),
		props(map[string]any{"length": 1, "numeric": false, "upper": false, "lower": false}),
		{"length": resource.MakeComputed(resource.NewProperty("")), "minUpper": resource.NewProperty(4.0)},
		{"length": resource.NewProperty(4.0), "keepers": resource.MakeComputed(resource.NewProperty(""))},
	} {
		if failures := check(t, New(), in); len(failures) > 0 {
			t.Errorf("Check(%v) failures %v, want none", in, failures)
		}
	}
}

func runDiff(t *testing.T, oldInputs, news resource.PropertyMap, ignore ...string) *pulumirpc.DiffResponse {
	t.Helper()
	_, olds := create(t, New(), oldInputs, false)
	resp, err := New().Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: passwordURN, Id: ID, Olds: mustStruct(t, olds), OldInputs: mustStruct(t, oldInputs), News: mustStruct(t, news), IgnoreChanges: ignore,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Any change of any input replaces; what does not change the inputs after
// defaults is no change.
func TestDiffReplacesOnAnyChange(t *testing.T) {
	old := props(map[string]any{"length": 16, "lower": false, "upper": false, "numeric": true, "special": true, "overrideSpecial": "abcdef", "minNumeric": 0, "minSpecial": 0, "keepers": map[string]any{"rotation": "1"}})
	changes := map[string]resource.PropertyValue{
		"length": resource.NewProperty(18.0), "lower": resource.NewProperty(true), "upper": resource.NewProperty(true),
		"numeric": resource.NewProperty(false), "number": resource.NewProperty(false), "special": resource.NewProperty(false),
		"overrideSpecial": resource.NewProperty("ABCDEF"), "minNumeric": resource.NewProperty(1.0), "minSpecial": resource.NewProperty(1.0),
		"minUpper": resource.NewProperty(1.0), "minLower": resource.NewProperty(1.0),
		"keepers": resource.NewProperty(resource.PropertyMap{"rotation": resource.NewProperty("2")}),
	}
	for k := range InputProperties {
		if _, ok := changes[k]; !ok {
			t.Fatalf("no change for input %s", k)
		}
	}
	for k, v := range changes {
		t.Run(k, func(t *testing.T) {
			news := old.Copy()
			news[resource.PropertyKey(k)] = v
			if k == "number" { // set alone, as the two must agree
				delete(news, "numeric")
			}
			resp := runDiff(t, old, news)
			want := []string{k}
			if k == "number" || k == "numeric" { // each mirrors the other
				want = []string{"number", "numeric"}
			}
			if resp.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || fmt.Sprint(resp.GetReplaces()) != fmt.Sprint(want) || fmt.Sprint(resp.GetDiffs()) != fmt.Sprint(want) {
				t.Errorf("Diff changing %s: changes %v diffs %v replaces %v, want %v replaced", k, resp.GetChanges(), resp.GetDiffs(), resp.GetReplaces(), want)
			}
			if d := resp.GetDetailedDiff()[k]; !resp.GetHasDetailedDiff() || d.GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE && d.GetKind() != pulumirpc.PropertyDiff_ADD_REPLACE || !d.GetInputDiff() {
				t.Errorf("Diff changing %s: detailed %v", k, resp.GetDetailedDiff())
			}
		})
	}
	for _, c := range []struct {
		name   string
		change func(resource.PropertyMap)
		want   string
		kind   pulumirpc.PropertyDiff_Kind
	}{
		{"keepers removed", func(m resource.PropertyMap) { delete(m, "keepers") }, "keepers", pulumirpc.PropertyDiff_DELETE_REPLACE},
		{"keeper added", func(m resource.PropertyMap) {
			m["keepers"] = resource.NewProperty(resource.PropertyMap{"rotation": resource.NewProperty("1"), "host": resource.NewProperty("a")})
		}, "keepers", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"override removed", func(m resource.PropertyMap) { delete(m, "overrideSpecial") }, "overrideSpecial", pulumirpc.PropertyDiff_DELETE_REPLACE},
		{"keeper unknown", func(m resource.PropertyMap) {
			m["keepers"] = resource.NewProperty(resource.PropertyMap{"rotation": resource.MakeComputed(resource.NewProperty(""))})
		}, "keepers", pulumirpc.PropertyDiff_UPDATE_REPLACE},
	} {
		news := old.Copy()
		c.change(news)
		resp := runDiff(t, old, news)
		if fmt.Sprint(resp.GetReplaces()) != "["+c.want+"]" || resp.GetDetailedDiff()[c.want].GetKind() != c.kind {
			t.Errorf("%s: replaces %v detailed %v, want %s %v", c.name, resp.GetReplaces(), resp.GetDetailedDiff(), c.want, c.kind)
		}
	}
	for _, c := range []struct {
		name   string
		change func(resource.PropertyMap)
		ignore []string
	}{
		{"same inputs", func(resource.PropertyMap) {}, nil},
		{"default left out", func(m resource.PropertyMap) { delete(m, "minNumeric"); delete(m, "special") }, nil},
		{"default spelt out", func(m resource.PropertyMap) { m["minUpper"] = resource.NewProperty(0.0) }, nil},
		{"number for numeric", func(m resource.PropertyMap) { delete(m, "numeric"); m["number"] = resource.NewProperty(true) }, nil},
		{"secret keeper of the same value", func(m resource.PropertyMap) {
			m["keepers"] = resource.NewProperty(resource.PropertyMap{"rotation": resource.MakeSecret(resource.NewProperty("1"))})
		}, nil},
		{"ignored change", func(m resource.PropertyMap) { m["length"] = resource.NewProperty(20.0) }, []string{"length"}},
	} {
		news := old.Copy()
		c.change(news)
		if resp := runDiff(t, old, news, c.ignore...); resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE || len(resp.GetReplaces()) > 0 {
			t.Errorf("%s: changes %v replaces %v, want none", c.name, resp.GetChanges(), resp.GetReplaces())
		}
	}
}

// The program's inputs give lowercase hex of n random bytes, secret, with a
// bcrypt hash of it, under the constant id.
func TestProgramHexAlphabet(t *testing.T) {
	p := New()
	for _, n := range []int{1, 2, 16, 32, 64} {
		in := programInputs(t, n)
		hex := regexp.MustCompile(fmt.Sprintf("^[0-9a-f]{%d}$", 2*n))
		seen := map[rune]bool{}
		var last string
		for range 10 {
			id, out := create(t, p, in, false)
			if id != ID || !out["id"].DeepEquals(resource.NewProperty(ID)) || !out["__meta"].DeepEquals(resource.NewProperty(Meta)) {
				t.Fatalf("id %q, outputs id %v __meta %v", id, out["id"], out["__meta"])
			}
			result := secretString(t, out, "result")
			if !hex.MatchString(result) {
				t.Fatalf("hexsecret.Args(%d): result %q, want %s", n, result, hex)
			}
			if n >= 16 && result == last {
				t.Fatalf("the same result twice: %q", result)
			}
			last = result
			for _, r := range result {
				seen[r] = true
			}
			if n == 16 {
				if err := bcrypt.CompareHashAndPassword([]byte(secretString(t, out, "bcryptHash")), []byte(result)); err != nil {
					t.Fatalf("bcryptHash does not verify: %v", err)
				}
			}
		}
		if n >= 32 && len(seen) != 16 {
			t.Errorf("hexsecret.Args(%d): 10 results use %d of the 16 hex digits", n, len(seen))
		}
	}
}

// The classes and minimums are honoured; as in the real provider a minimum
// is honoured even for a class turned off.
func TestClassesAndMinimums(t *testing.T) {
	for _, c := range []struct {
		in   map[string]any
		want *regexp.Regexp
		min  map[string]int // chars -> at least
	}{
		{map[string]any{"length": 40}, regexp.MustCompile(`^[A-Za-z0-9!@#$%&*()\-_=+\[\]{}<>:?]{40}$`), nil},
		{map[string]any{"length": 40, "special": false}, regexp.MustCompile(`^[A-Za-z0-9]{40}$`), nil},
		{map[string]any{"length": 40, "upper": false, "numeric": false, "special": false}, regexp.MustCompile(`^[a-z]{40}$`), nil},
		{map[string]any{"length": 30, "number": false, "lower": false, "upper": false, "overrideSpecial": "-_"}, regexp.MustCompile(`^[-_]{30}$`), nil},
		{map[string]any{"length": 8, "minUpper": 2, "minLower": 2, "minNumeric": 2, "minSpecial": 2}, regexp.MustCompile(`^.{8}$`),
			map[string]int{UpperChars: 2, LowerChars: 2, NumericChars: 2, SpecialChars: 2}},
		{map[string]any{"length": 6, "lower": false, "upper": false, "special": false, "minUpper": 3}, regexp.MustCompile(`^[0-9A-Z]{6}$`),
			map[string]int{UpperChars: 3}},
		{map[string]any{"length": 4, "minSpecial": 4, "overrideSpecial": "%"}, regexp.MustCompile(`^%{4}$`), nil},
		{map[string]any{"length": 100}, regexp.MustCompile(`^.{100}$`), nil},
	} {
		for range 10 {
			in := props(c.in)
			if failures := check(t, New(), in); len(failures) > 0 {
				t.Fatalf("Check(%v): %v", c.in, failures)
			}
			_, out := create(t, New(), in, false)
			result := secretString(t, out, "result")
			if !c.want.MatchString(result) {
				t.Errorf("inputs %v: result %q, want %s", c.in, result, c.want)
			}
			for chars, n := range c.min {
				count := 0
				for _, r := range result {
					if strings.ContainsRune(chars, r) {
						count++
					}
				}
				if count < n {
					t.Errorf("inputs %v: result %q has %d of %q, want at least %d", c.in, result, count, chars, n)
				}
			}
		}
	}
	// bcrypt takes at most 72 bytes: a longer password hashes its prefix.
	_, out := create(t, New(), props(map[string]any{"length": 100}), false)
	result := secretString(t, out, "result")
	if err := bcrypt.CompareHashAndPassword([]byte(secretString(t, out, "bcryptHash")), []byte(result[:72])); err != nil {
		t.Errorf("bcryptHash of a 100-character password: %v", err)
	}
}

func TestPreview(t *testing.T) {
	in := programInputs(t, 32)
	in["keepers"] = resource.MakeComputed(resource.NewProperty(""))
	id, out := create(t, New(), in, true)
	if id != "" {
		t.Errorf("preview id %q, want empty", id)
	}
	for _, k := range []resource.PropertyKey{"result", "bcryptHash", "id"} {
		if !out[k].IsComputed() {
			t.Errorf("preview %s = %v, want unknown", k, out[k])
		}
	}
	if !out["length"].DeepEquals(resource.NewProperty(64.0)) || !out["number"].DeepEquals(resource.NewProperty(true)) || !out["keepers"].IsComputed() {
		t.Errorf("preview outputs %v, want the inputs with defaults", out)
	}
}

func TestReadUpdateDelete(t *testing.T) {
	p := New()
	ctx := context.Background()
	in := programInputs(t, 16)
	_, out := create(t, p, in, false)
	read, err := p.Read(ctx, &pulumirpc.ReadRequest{Urn: passwordURN, Id: ID, Properties: mustStruct(t, out), Inputs: mustStruct(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	if read.GetId() != ID || !mustMap(t, read.GetProperties()).DeepEquals(out) || !mustMap(t, read.GetInputs()).DeepEquals(in) {
		t.Errorf("Read = %v, want the state unchanged", read)
	}

	news := in.Copy()
	news["keepers"] = resource.NewProperty(resource.PropertyMap{"k": resource.NewProperty("v")})
	up, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: passwordURN, Id: ID, Olds: mustStruct(t, out), News: mustStruct(t, news), OldInputs: mustStruct(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	updated := mustMap(t, up.GetProperties())
	for _, k := range []resource.PropertyKey{"result", "bcryptHash", "id", "__meta"} {
		if !updated[k].DeepEquals(out[k]) {
			t.Errorf("Update %s = %v, want kept %v", k, updated[k], out[k])
		}
	}
	if !updated["keepers"].DeepEquals(news["keepers"]) || !updated["number"].DeepEquals(resource.NewProperty(true)) {
		t.Errorf("Update = %v, want the news with defaults", updated)
	}

	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: passwordURN, Id: ID, Properties: mustStruct(t, out)}); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// A secret input stays secret in the outputs.
func TestSecretInputKept(t *testing.T) {
	in := props(map[string]any{"length": 8})
	in["keepers"] = resource.MakeSecret(resource.NewProperty(resource.PropertyMap{"k": resource.NewProperty("v")}))
	if failures := check(t, New(), in); len(failures) > 0 {
		t.Fatal(failures)
	}
	_, out := create(t, New(), in, false)
	if !out["keepers"].IsSecret() {
		t.Errorf("keepers %v, want still secret", out["keepers"])
	}
}
