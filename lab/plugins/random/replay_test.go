package random

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The replay feeds the stand-in the requests the engine sent the real
// plugin in upstream's own test of one RandomPassword (provider 4.16/4.17,
// recorded in pulumi-random-4.16.0-randompassword.grpc.jsonl), and compares
// the answers field by field with the real plugin's: equal for what is
// deterministic (Check's inputs, the id, every output but the two random
// ones, "__meta", which outputs are secret and how the secret is encoded),
// the same shape for the random ones (length, alphabet and minimums of
// result; a bcrypt hash of the same cost that verifies against result).
//
// The recording and the 4.21.1 schema the stand-in otherwise follows differ
// only where the recording is silent, so nothing here had to be adapted:
//   - the recording sets the deprecated "number" (4.21.1 still accepts it and
//     answers both "number" and "numeric", as the recording does); the
//     program sets "numeric";
//   - defaults: the recording sets every boolean and minimum explicitly, so
//     only "numeric" shows a default (true, mirroring "number"); 4.21.1's
//     descriptions give the same defaults (true, 0), which the schema test
//     checks; neither declares a "default" field, and the recorded Check
//     added none to its inputs, so the stand-in's Check adds none either;
//   - 4.21.1 documents a check the recording does not exercise (numeric,
//     upper, lower and special all configured false is refused);
//   - "id" and "__meta" are outputs of the real plugin that the schema does
//     not list (the bridge adds them);
//   - GetPluginInfo answered 4.17.0-alpha; the stand-in reports Version;
//   - Configure answered acceptSecrets false and acceptResources true; the
//     stand-in keeps the lab skeleton's answer (acceptSecrets true,
//     acceptResources false): the engine then sends secret inputs as
//     secrets, which the stand-in keeps, and RandomPassword takes no
//     resource references. Only supportsPreview is compared.
const recording = upstreamDir + "pulumi-random-4.16.0-randompassword.grpc.jsonl"

// secretSig is the property-map signature of a secret value.
const secretSig = "4dabf18193072939515e22adb298388d"
const secretSigValue = "1b47061264138c4ac30d75fd1eb44270"

type recordedCall struct {
	Method   string          `json:"method"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
}

// recorded returns the recorded calls to the provider, by method name
// (Check, Create...), skipping the test when the recording is absent.
func recorded(t *testing.T) map[string]recordedCall {
	t.Helper()
	data, err := os.ReadFile(recording)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the real plugin's recorded exchange %s is not here (it lives outside the repository, in ../shared/upstream-data); nothing to replay", recording)
	}
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]recordedCall{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var c recordedCall
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", recording, err)
		}
		if m, ok := strings.CutPrefix(c.Method, "/pulumirpc.ResourceProvider/"); ok {
			if _, seen := calls[m]; !seen {
				calls[m] = c
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"CheckConfig", "Configure", "Check", "Create"} {
		if _, ok := calls[m]; !ok {
			t.Fatalf("%s has no %s call", recording, m)
		}
	}
	return calls
}

func decode(t *testing.T, raw json.RawMessage, into proto.Message) {
	t.Helper()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, into); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
}

func TestReplayProviderCalls(t *testing.T) {
	calls := recorded(t)
	p := New()
	ctx := context.Background()

	var ccReq pulumirpc.CheckRequest
	var ccWant pulumirpc.CheckResponse
	decode(t, calls["CheckConfig"].Request, &ccReq)
	decode(t, calls["CheckConfig"].Response, &ccWant)
	cc, err := p.CheckConfig(ctx, &ccReq)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(cc.GetInputs(), ccWant.GetInputs()) || len(cc.GetFailures()) != len(ccWant.GetFailures()) {
		t.Errorf("CheckConfig = %v, recorded %v", cc, &ccWant)
	}

	var cfReq pulumirpc.ConfigureRequest
	var cfWant pulumirpc.ConfigureResponse
	decode(t, calls["Configure"].Request, &cfReq)
	decode(t, calls["Configure"].Response, &cfWant)
	cf, err := p.Configure(ctx, &cfReq)
	if err != nil {
		t.Fatal(err)
	}
	if cf.GetSupportsPreview() != cfWant.GetSupportsPreview() {
		t.Errorf("Configure supportsPreview = %v, recorded %v", cf.GetSupportsPreview(), cfWant.GetSupportsPreview())
	}
}

func TestReplayCheck(t *testing.T) {
	calls := recorded(t)
	var req pulumirpc.CheckRequest
	var want pulumirpc.CheckResponse
	decode(t, calls["Check"].Request, &req)
	decode(t, calls["Check"].Response, &want)
	got, err := New().Check(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetFailures()) != len(want.GetFailures()) {
		t.Errorf("Check failures = %v, recorded %v", got.GetFailures(), want.GetFailures())
	}
	compareFields(t, "Check inputs", got.GetInputs(), want.GetInputs())
}

// compareFields reports every top-level field of got that differs from want.
func compareFields(t *testing.T, what string, got, want *structpb.Struct) {
	t.Helper()
	for _, k := range unionKeys(got.GetFields(), want.GetFields()) {
		g, w := got.GetFields()[k], want.GetFields()[k]
		if !proto.Equal(g, w) {
			t.Errorf("%s[%q] = %v, recorded %v", what, k, g, w)
		}
	}
}

func unionKeys(a, b map[string]*structpb.Value) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]*structpb.Value{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func TestReplayCreate(t *testing.T) {
	calls := recorded(t)
	var req pulumirpc.CreateRequest
	var want pulumirpc.CreateResponse
	decode(t, calls["Create"].Request, &req)
	decode(t, calls["Create"].Response, &want)
	got, err := New().Create(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}

	if got.GetId() != want.GetId() {
		t.Errorf("Create id = %q, recorded %q", got.GetId(), want.GetId())
	}

	// Field by field, on the wire: deterministic outputs are equal, the two
	// random ones are secrets encoded alike.
	gf, wf := got.GetProperties().GetFields(), want.GetProperties().GetFields()
	random := map[string]bool{"result": true, "bcryptHash": true}
	for _, k := range unionKeys(gf, wf) {
		g, w := gf[k], wf[k]
		if g == nil || w == nil {
			t.Errorf("Create output %q = %v, recorded %v", k, g, w)
			continue
		}
		if !random[k] {
			if !proto.Equal(g, w) {
				t.Errorf("Create output %q = %v, recorded %v", k, g, w)
			}
			continue
		}
		for name, v := range map[string]*structpb.Value{"stand-in": g, "recorded": w} {
			s := v.GetStructValue().GetFields()
			if s[secretSig].GetStringValue() != secretSigValue || s["value"].GetStringValue() == "" || len(s) != 2 {
				t.Errorf("Create output %q (%s) = %v, want a secret {%q: %q, value: string}", k, name, v, secretSig, secretSigValue)
			}
		}
	}

	// The shape of the random values, judged alike for the real plugin's
	// and the stand-in's (so the rules checked are the real ones).
	ins := mustMap(t, req.GetProperties())
	params := paramsOf(withDefaults(ins))
	gotOut, wantOut := mustMap(t, got.GetProperties()), mustMap(t, want.GetProperties())
	recordedResult := secretString(t, wantOut, "result")
	for name, out := range map[string]resource.PropertyMap{"stand-in": gotOut, "recorded": wantOut} {
		result, hash := secretString(t, out, "result"), secretString(t, out, "bcryptHash")
		if len(result) != len(recordedResult) || len(result) != params.Length {
			t.Errorf("%s result %q: length %d, want %d", name, result, len(result), params.Length)
		}
		assertShape(t, name, params, result)
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(result)); err != nil {
			t.Errorf("%s bcryptHash %q does not verify against result: %v", name, hash, err)
		}
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.DefaultCost || !strings.HasPrefix(hash, "$2a$") {
			t.Errorf("%s bcryptHash %q: cost %d (%v), want a $2a$ hash of cost %d", name, hash, cost, err, bcrypt.DefaultCost)
		}
	}
	if secretString(t, gotOut, "result") == recordedResult {
		t.Errorf("the stand-in's result equals the recorded one: not random")
	}
}

// assertShape checks that result is drawn from the alphabet of p, each
// class's minimum included. (The recorded inputs enable every class, so
// the class of each character is unambiguous.)
func assertShape(t *testing.T, name string, p Params, result string) {
	t.Helper()
	counts := map[string]int{}
	classes := []struct {
		name, chars string
		min         int
	}{{"upper", UpperChars, p.MinUpper}, {"lower", LowerChars, p.MinLower}, {"numeric", NumericChars, p.MinNumeric}, {"special", p.Specials(), p.MinSpecial}}
	for _, r := range result {
		if !strings.ContainsRune(p.Alphabet(), r) {
			t.Errorf("%s result %q: %q is outside the alphabet %q", name, result, r, p.Alphabet())
		}
		for _, c := range classes {
			if strings.ContainsRune(c.chars, r) {
				counts[c.name]++
			}
		}
	}
	for _, c := range classes {
		if counts[c.name] < c.min {
			t.Errorf("%s result %q: %d %s characters, want at least %d", name, result, counts[c.name], c.name, c.min)
		}
	}
}

// The state the recorded run left holds, for the password, what the
// recorded Create answered: the stand-in's outputs have the same keys, the
// same id, and the same secrets.
func TestReplayState(t *testing.T) {
	calls := recorded(t)
	data, err := os.ReadFile(upstreamDir + "pulumi-random-4.16.0-randompassword.stack.json")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("the recorded stack state is not here")
	}
	if err != nil {
		t.Fatal(err)
	}
	var stack struct {
		Deployment struct {
			Resources []struct {
				Type    string                     `json:"type"`
				ID      string                     `json:"id"`
				Outputs map[string]json.RawMessage `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(data, &stack); err != nil {
		t.Fatal(err)
	}
	var req pulumirpc.CreateRequest
	decode(t, calls["Create"].Request, &req)
	got, err := New().Create(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	out := mustMap(t, got.GetProperties())
	found := false
	for _, r := range stack.Deployment.Resources {
		if r.Type != PasswordType {
			continue
		}
		found = true
		if r.ID != got.GetId() {
			t.Errorf("state id %q, stand-in %q", r.ID, got.GetId())
		}
		for k, raw := range r.Outputs {
			v, ok := out[resource.PropertyKey(k)]
			if !ok {
				t.Errorf("state output %q missing from the stand-in's", k)
				continue
			}
			if secret := bytes.Contains(raw, []byte(secretSig)); secret != v.IsSecret() {
				t.Errorf("state output %q secret = %v, stand-in's %v", k, secret, v.IsSecret())
			}
		}
		if len(r.Outputs) != len(out) {
			t.Errorf("state has %d outputs, the stand-in answers %d", len(r.Outputs), len(out))
		}
	}
	if !found {
		t.Fatalf("the recorded state has no %s", PasswordType)
	}
}
