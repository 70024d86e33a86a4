package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPluginInfoVersion(t *testing.T) {
	info, err := New(nil).GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.2.1" || Version != "1.2.1" {
		t.Fatalf("GetPluginInfo = %v, %v; want 1.2.1", info, err)
	}
}

// The real Check (pulumi-go-provider infer) applies the schema's defaults
// to connection, marks connection (and privateKey inside it) secret, and
// adds nothing else: addPreviousOutputInEnv and logging have no schema
// default.
func TestCheckAppliesSchemaDefaultsAndSecrets(t *testing.T) {
	f := newFixture(t, nil)
	news := resource.PropertyMap{
		"create": resource.NewProperty("true"),
		// Given plain, to see Check make it secret.
		"connection": resource.NewProperty(resource.PropertyMap{
			"host":       resource.NewProperty("127.0.0.1"),
			"privateKey": resource.NewProperty("KEY"),
		}),
	}
	out, failures := f.check(news)
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	c := out["connection"]
	if !c.IsSecret() {
		t.Fatalf("checked connection is not secret: %v", c)
	}
	obj := c.SecretValue().Element.ObjectValue()
	want := map[string]any{"host": "127.0.0.1", "user": "root", "port": 22.0, "dialErrorLimit": 10.0, "perDialTimeout": 15.0}
	for k, v := range want {
		if got := obj[resource.PropertyKey(k)]; !got.DeepEquals(resource.NewPropertyValue(v)) {
			t.Errorf("connection.%s = %v, want %v", k, got, v)
		}
	}
	if !obj["privateKey"].IsSecret() {
		t.Errorf("connection.privateKey is not secret inside connection")
	}
	for _, k := range []resource.PropertyKey{"addPreviousOutputInEnv", "logging", "stdout", "stderr"} {
		if _, ok := out[k]; ok {
			t.Errorf("Check added %s", k)
		}
	}
	// Given values win over defaults.
	out = f.checked(map[string]any{"connection": f.conn(map[string]any{"user": "admin", "dialErrorLimit": 40.0})})
	obj = out["connection"].SecretValue().Element.ObjectValue()
	if obj["user"].StringValue() != "admin" || obj["dialErrorLimit"].NumberValue() != 40 {
		t.Errorf("Check overrode given values: %v", obj)
	}
	// An unknown connection (preview: the address is still to be made) is
	// accepted as it is.
	news = resource.PropertyMap{"connection": resource.MakeComputed(resource.NewProperty(""))}
	out, failures = f.check(news)
	if len(failures) > 0 || !out["connection"].ContainsUnknowns() {
		t.Errorf("unknown connection: %v, %v", out, failures)
	}
}

func TestCheckRefusesByName(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name  string
		news  resource.PropertyMap
		props []string // the failures' properties
		text  string   // in the first failure's reason
	}{
		{"not in the schema", resource.PropertyMap{"connection": f.conn(nil), "interpreter": resource.NewProperty("sh")},
			[]string{"interpreter"}, `property "interpreter" of command:remote:Command is not emulated`},
		{"proxy", resource.PropertyMap{"connection": f.conn(map[string]any{"proxy": map[string]any{"host": "10.0.0.1"}})},
			[]string{"connection.proxy"}, `property "connection.proxy" of command:remote:Command is not emulated`},
		{"password and agent", resource.PropertyMap{"connection": f.conn(map[string]any{"password": "x", "agentSocketPath": "/tmp/a", "privateKeyPassword": "y"})},
			[]string{"connection.agentSocketPath", "connection.password", "connection.privateKeyPassword"}, "not emulated"},
		{"not a connection field", resource.PropertyMap{"connection": f.conn(map[string]any{"timeout": 3.0})},
			[]string{"connection.timeout"}, "not emulated"},
		{"missing connection", resource.PropertyMap{"create": resource.NewProperty("true")},
			[]string{"connection"}, "missing required property"},
		{"missing host", resource.PropertyMap{"connection": f.conn(map[string]any{"host": nil})},
			[]string{"connection.host"}, "missing required property"},
		{"wrong type", resource.PropertyMap{"connection": f.conn(nil), "create": resource.NewProperty(3.0)},
			[]string{"create"}, "must be a string"},
		{"not an integer", resource.PropertyMap{"connection": f.conn(map[string]any{"perDialTimeout": 1.5})},
			[]string{"connection.perDialTimeout"}, "must be an integer"},
		{"logging enum", resource.PropertyMap{"connection": f.conn(nil), "logging": resource.NewProperty("all")},
			[]string{"logging"}, "not one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, failures := checkVia(t, f.p, testURN, c.news)
			var props []string
			for _, fl := range failures {
				props = append(props, fl.GetProperty())
			}
			sort.Strings(props)
			if !reflect.DeepEqual(props, c.props) {
				t.Fatalf("failures on %v, want %v (%v)", props, c.props, failures)
			}
			if !strings.Contains(failures[0].GetReason(), c.text) {
				t.Errorf("reason %q lacks %q", failures[0].GetReason(), c.text)
			}
		})
	}
}

func TestOtherTypesAndFunctionsRefused(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	for _, token := range []string{"command:local:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"} {
		urn := "urn:pulumi:dev::vpclink::" + token + "::x"
		_, err := p.Check(ctx, &pulumirpc.CheckRequest{Urn: urn})
		if err == nil || !strings.Contains(err.Error(), token+" is not emulated") {
			t.Errorf("Check of %s: %v", token, err)
		}
		if _, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: urn}); err == nil {
			t.Errorf("Create of %s accepted", token)
		}
		if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: urn}); err == nil {
			t.Errorf("Delete of %s accepted", token)
		}
	}
	if _, err := p.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: "command:local:run"}); err == nil || !strings.Contains(err.Error(), "command:local:run is not emulated") {
		t.Errorf("Invoke: %v", err)
	}
	// The explicit provider of main.go has no settings; any is refused.
	resp, err := p.CheckConfig(ctx, &pulumirpc.CheckRequest{News: mustStruct(t, resource.PropertyMap{"version": resource.NewProperty("1.2.1")})})
	if err != nil || len(resp.GetFailures()) != 0 {
		t.Errorf("CheckConfig of the program's provider: %v %v", resp, err)
	}
	resp, _ = p.CheckConfig(ctx, &pulumirpc.CheckRequest{News: mustStruct(t, resource.PropertyMap{"foo": resource.NewProperty("x")})})
	if len(resp.GetFailures()) != 1 || resp.GetFailures()[0].GetProperty() != "foo" {
		t.Errorf("CheckConfig accepted foo: %v", resp)
	}
}

func TestCreateRunsCreate(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "echo hello; echo warn >&2", "delete": "echo bye"})
	id, out, err := f.create(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "setup") || len(id) != len("setup")+8 {
		t.Errorf("id %q: want the name and 8 hex digits", id)
	}
	if str(t, out, "stdout") != "hello" || str(t, out, "stderr") != "warn" {
		t.Errorf("outputs: %v", out)
	}
	if got := f.srv.commands(); !reflect.DeepEqual(got, []string{"echo hello; echo warn >&2"}) {
		t.Errorf("ran %q", got)
	}
	if _, sessions := f.srv.snapshot(); sessions[0].user != "ubuntu" {
		t.Errorf("logged in as %q", sessions[0].user)
	}
	// No create: nothing runs, empty outputs.
	_, out, err = f.create(f.checked(map[string]any{"delete": "echo bye"}), false)
	if err != nil || str(t, out, "stdout") != "" || len(f.srv.commands()) != 1 {
		t.Errorf("create unset: %v %v %v", out, err, f.srv.commands())
	}
}

// stdout and stderr lose exactly one trailing newline (strings.TrimSuffix).
func TestTrailingNewlineTrimmed(t *testing.T) {
	f := newFixture(t, nil)
	out := f.mustCreate(f.checked(map[string]any{"create": `printf 'a\n\n'; printf 'b\n' >&2`}))
	if got := str(t, out, "stdout"); got != "a\n" {
		t.Errorf("stdout %q, want %q", got, "a\n")
	}
	if got := str(t, out, "stderr"); got != "b" {
		t.Errorf("stderr %q, want %q", got, "b")
	}
	out = f.mustCreate(f.checked(map[string]any{"create": `printf 'no newline'`}))
	if got := str(t, out, "stdout"); got != "no newline" {
		t.Errorf("stdout %q", got)
	}
}

func TestStdinDelivered(t *testing.T) {
	f := newFixture(t, nil)
	file := filepath.Join(f.dir, "stdin")
	key := "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
	f.mustCreate(f.checked(map[string]any{"create": "cat > " + file, "stdin": resource.MakeSecret(resource.NewProperty(key))}))
	if got := readFile(t, file); got != key {
		t.Errorf("stdin arrived as %q", got)
	}
}

func TestUpdateRunsUpdateElseCreate(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "echo create1", "update": "echo update1"})
	state := f.mustCreate(in)

	news := f.checked(map[string]any{"create": "echo create2", "update": "echo update2"})
	out, err := f.update(state, in, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if str(t, out, "stdout") != "update2" || str(t, out, "create") != "echo create2" {
		t.Errorf("with update: %v", out)
	}
	news2 := f.checked(map[string]any{"create": "echo create3"})
	out, err = f.update(out, news, news2, false)
	if err != nil {
		t.Fatal(err)
	}
	if str(t, out, "stdout") != "create3" {
		t.Errorf("without update: %v", out)
	}
	// Neither: nothing runs, the previous outputs stay.
	// (Secret in the state through additionalSecretOutputs: returned
	// plain, as the real provider does; the engine marks it again.)
	news3 := f.checked(map[string]any{"delete": "echo bye"})
	out["stdout"] = resource.MakeSecret(out["stdout"])
	out, err = f.update(out, news2, news3, false)
	if err != nil || str(t, out, "stdout") != "create3" {
		t.Errorf("neither: %v %v", out, err)
	}
	want := []string{"echo create1", "echo update2", "echo create3"}
	if got := f.srv.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}
}

// A changed connection (here the pinned host key, as when an instance is
// replaced) is an in-place update that runs the command again, on the new
// connection.
func TestConnectionChangeUpdatesAndRuns(t *testing.T) {
	f := newFixture(t, nil)
	other := startServer(t, nil)
	in := f.checked(map[string]any{"create": "echo on-first"})
	state := f.mustCreate(in)
	news := f.checked(map[string]any{"create": "echo on-first", "connection": f.conn(map[string]any{
		"port": other.port(), "hostKey": other.hostKey, "privateKey": other.clientKey,
	})})
	d := f.diff(in, state, news)
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 || !reflect.DeepEqual(d.GetDiffs(), []string{"connection"}) {
		t.Fatalf("diff of connection: %v", d)
	}
	if _, err := f.update(state, in, news, false); err != nil {
		t.Fatal(err)
	}
	if len(f.srv.commands()) != 1 || !reflect.DeepEqual(other.commands(), []string{"echo on-first"}) {
		t.Errorf("first server ran %q, second %q", f.srv.commands(), other.commands())
	}
}

// Delete runs the delete command of the old state: its connection and its
// stdin, not anything newer.
func TestDeleteRunsWithOldInputs(t *testing.T) {
	f := newFixture(t, nil)
	file := filepath.Join(f.dir, "deleted")
	in := f.checked(map[string]any{"create": "true", "delete": "cat > " + file, "stdin": resource.MakeSecret(resource.NewProperty("old key\n"))})
	state := f.mustCreate(in)
	if err := f.delete(state, in); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, file); got != "old key\n" {
		t.Errorf("delete got stdin %q", got)
	}
	// A replaced command: the engine deletes the old one with its own
	// state; the new inputs play no part.
	newFile := filepath.Join(f.dir, "new")
	news := f.checked(map[string]any{"create": "true", "delete": "cat > " + newFile, "stdin": "new key\n"})
	f.mustCreate(news)
	os.Remove(file)
	if err := f.delete(state, in); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, file); got != "old key\n" {
		t.Errorf("old delete got %q", got)
	}
	if _, err := os.Stat(newFile); err == nil {
		t.Errorf("the new delete command ran")
	}
	// No delete command: nothing runs.
	n := len(f.srv.commands())
	if err := f.delete(f.mustCreate(f.checked(map[string]any{"create": "true"})), nil); err != nil || len(f.srv.commands()) != n+1 {
		t.Errorf("delete unset: %v %q", err, f.srv.commands())
	}
}

func TestPreviousOutputEnvAccepted(t *testing.T) {
	f := newFixture(t, func(name string) bool { return strings.HasPrefix(name, "PULUMI_COMMAND_") })
	file := filepath.Join(f.dir, "env")
	show := fmt.Sprintf(`printf '%%s|%%s' "$PULUMI_COMMAND_STDOUT" "$PULUMI_COMMAND_STDERR" > %s`, file)
	in := f.checked(map[string]any{"create": "echo first; echo oops >&2", "update": show, "delete": show})
	state := f.mustCreate(in)
	if _, sessions := f.srv.snapshot(); len(sessions[0].env)+len(sessions[0].refused) != 0 {
		t.Errorf("create sent env %v %v", sessions[0].env, sessions[0].refused)
	}
	// As the engine stores them under additionalSecretOutputs (the
	// program's setup): secret in the state, sent revealed.
	state["stdout"], state["stderr"] = resource.MakeSecret(state["stdout"]), resource.MakeSecret(state["stderr"])
	news := f.checked(map[string]any{"create": "echo first; echo oops >&2", "update": show + "; echo second", "delete": show})
	out, err := f.update(state, in, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, file); got != "first|oops" {
		t.Errorf("update saw %q", got)
	}
	out["stdout"] = resource.MakeSecret(out["stdout"])
	if err := f.delete(out, news); err != nil {
		t.Fatal(err)
	}
	// The update printed only "second" (stderr empty: not sent).
	if got := readFile(t, file); got != "second|" {
		t.Errorf("delete saw %q", got)
	}
	_, sessions := f.srv.snapshot()
	if last := sessions[len(sessions)-1]; !reflect.DeepEqual(last.env, map[string]string{EnvStdout: "second"}) {
		t.Errorf("delete env %v", last.env)
	}
	if entries := f.log.take(); len(warnings(entries)) != 0 {
		t.Errorf("warned: %v", entries)
	}
}

func warnings(entries []logEntry) []logEntry {
	var out []logEntry
	for _, e := range entries {
		if e.sev == diag.Warning || e.sev == diag.Error {
			out = append(out, e)
		}
	}
	return out
}

// Without AcceptEnv the real provider warns once per variable (both
// non-empty here) and runs the command anyway, on update and on delete.
func TestPreviousOutputEnvRefusedWarns(t *testing.T) {
	f := newFixture(t, nil)
	file := filepath.Join(f.dir, "ran")
	in := f.checked(map[string]any{"create": "echo out; echo err >&2", "update": "echo updated > " + file, "delete": "echo deleted > " + file})
	state := f.mustCreate(in)
	f.log.take()
	news := f.checked(map[string]any{"create": "echo out; echo err >&2 ", "update": "echo updated > " + file + "; echo out; echo err >&2", "delete": "echo deleted > " + file})
	out, err := f.update(state, in, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, file) != "updated\n" {
		t.Errorf("update did not run")
	}
	checkWarnings(t, f.log.take())
	if err := f.delete(out, news); err != nil {
		t.Fatal(err)
	}
	if readFile(t, file) != "deleted\n" {
		t.Errorf("delete did not run")
	}
	checkWarnings(t, f.log.take())
}

func checkWarnings(t *testing.T, entries []logEntry) {
	t.Helper()
	want := []logEntry{
		{diag.Warning, testURN, SetenvMessage(EnvStdout), false},
		{diag.Warning, testURN, SetenvMessage(EnvStderr), false},
	}
	if got := warnings(entries); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %+v, want %+v", got, want)
	}
	// The real text, word for word (pulumi-command 1.2.1,
	// provider/pkg/provider/remote/commandOutputs.go, logAndWrapSetenvErr).
	const text = "Unable to set 'PULUMI_COMMAND_STDOUT'. This only works if your SSH server is configured to accept\n" +
		"\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n" +
		"\tprefix the command itself with the variables in the form 'VAR=value command'"
	if SetenvMessage(EnvStdout) != text {
		t.Errorf("warning text %q", SetenvMessage(EnvStdout))
	}
}

func TestAddPreviousOutputInEnvFalse(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "echo out", "delete": "true", "addPreviousOutputInEnv": false})
	state := f.mustCreate(in)
	if err := f.delete(state, in); err != nil {
		t.Fatal(err)
	}
	_, sessions := f.srv.snapshot()
	if last := sessions[len(sessions)-1]; len(last.refused)+len(last.env) != 0 {
		t.Errorf("env sent: %v %v", last.env, last.refused)
	}
	if w := warnings(f.log.take()); len(w) != 0 {
		t.Errorf("warned: %v", w)
	}
}

func TestEnvironmentAccepted(t *testing.T) {
	f := newFixture(t, func(name string) bool { return name == "SITE" })
	out := f.mustCreate(f.checked(map[string]any{"create": `echo "$SITE"`, "environment": map[string]any{"SITE": "a"}}))
	if str(t, out, "stdout") != "a" {
		t.Errorf("stdout %v", out["stdout"])
	}
}

// A refused `environment` entry fails the command (unlike the previous
// outputs): it never runs.
func TestEnvironmentRefused(t *testing.T) {
	f := newFixture(t, func(name string) bool { return name == "SITE" })
	_, _, err := f.create(f.checked(map[string]any{"create": "echo ran", "environment": map[string]any{"SITE": "a", "NAME": "b"}}), false)
	if err == nil || err.Error() != `could not set environment variable "NAME": ssh: setenv failed` {
		t.Fatalf("err = %v", err)
	}
	if got := f.srv.commands(); len(got) != 0 {
		t.Errorf("ran %q", got)
	}
	want := []logEntry{{diag.Error, testURN, SetenvMessage("NAME"), false}}
	if got := warnings(f.log.take()); !reflect.DeepEqual(got, want) {
		t.Errorf("logged %v", got)
	}
}

func TestHostKeyPinning(t *testing.T) {
	f := newFixture(t, nil)
	// Pinned and matching.
	f.mustCreate(f.checked(map[string]any{"create": "true"}))
	// Unset: any host key is accepted.
	f.mustCreate(f.checked(map[string]any{"create": "true", "connection": f.conn(map[string]any{"hostKey": nil})}))
	if len(f.srv.commands()) != 2 {
		t.Fatalf("ran %q", f.srv.commands())
	}
	// Another key of the same type: the handshake fails, and is retried
	// like any dial failure: dialErrorLimit 2 is 3 attempts.
	impostor, _ := newKey(t)
	before, _ := f.srv.snapshot()
	_, _, err := f.create(f.checked(map[string]any{"create": "echo never", "connection": f.conn(map[string]any{"hostKey": authorizedKey(impostor)})}), false)
	if err == nil || err.Error() != "after 2 failed attempts: ssh: handshake failed: ssh: host key mismatch" {
		t.Fatalf("err = %v", err)
	}
	if after, _ := f.srv.snapshot(); after-before != 3 {
		t.Errorf("%d connections, want 3", after-before)
	}
	if len(f.srv.commands()) != 2 {
		t.Errorf("ran %q", f.srv.commands())
	}
	// An unparsable key fails at once.
	_, _, err = f.create(f.checked(map[string]any{"create": "true", "connection": f.conn(map[string]any{"hostKey": "not a key"})}), false)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to parse host key: ") {
		t.Errorf("err = %v", err)
	}
}

func TestDialRetriesClosedPort(t *testing.T) {
	for _, limit := range []int{0, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			rec := &recorder{}
			p := New(rec)
			d := &dialRecorder{}
			d.install(p)
			port := closedPort(t)
			f := &fixture{t: t, p: p, log: rec, srv: &testServer{}}
			in := f.checked(map[string]any{"create": "true", "connection": resource.NewProperty(resource.PropertyMap{
				"host": resource.NewProperty("127.0.0.1"), "port": resource.NewProperty(port),
				"dialErrorLimit": resource.NewProperty(float64(limit)),
			})})
			_, _, err := f.create(in, false)
			want := fmt.Sprintf("after %d failed attempts: dial tcp 127.0.0.1:%d: connect: connection refused", limit, int(port))
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v, want %s", err, want)
			}
			// The limit counts failures that are retried: one attempt more.
			if d.attempts != limit+1 {
				t.Errorf("%d attempts, want %d", d.attempts, limit+1)
			}
			var wantStatus []string
			for i := 1; i <= limit; i++ {
				wantStatus = append(wantStatus, fmt.Sprintf("Dial %d/%d failed: retrying", i, limit))
			}
			if got := statuses(rec.take()); !reflect.DeepEqual(got, wantStatus) {
				t.Errorf("status %q, want %q", got, wantStatus)
			}
			wantWaits := []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 225 * time.Millisecond}[:limit]
			if !reflect.DeepEqual(d.waits, wantWaits) && !(limit == 0 && len(d.waits) == 0) {
				t.Errorf("waits %v, want %v", d.waits, wantWaits)
			}
		})
	}
}

// -1 retries until cancelled; the back-off grows by 1.5 up to 5 s.
func TestDialForever(t *testing.T) {
	rec := &recorder{}
	p := New(rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &dialRecorder{cancel: cancel, cancelAt: 15}
	d.install(p)
	port := closedPort(t)
	s := spec{conn: conn{host: "127.0.0.1", port: port, user: "root", dialErrorLimit: -1, perDialTimeout: 15}}
	_, err := p.connect(ctx, testURN, s.conn)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if d.attempts != 15 {
		t.Errorf("%d attempts", d.attempts)
	}
	st := statuses(rec.take())
	if len(st) == 0 || st[0] != "Dial 1/inf failed: retrying" {
		t.Errorf("status %q", st)
	}
	if len(d.waits) < 13 || d.waits[0] != 100*time.Millisecond || d.waits[1] != 150*time.Millisecond || d.waits[12] != 5*time.Second || d.waits[11] != 5*time.Second {
		t.Errorf("waits %v", d.waits)
	}
	for i := 1; i < len(d.waits); i++ {
		if d.waits[i] > 5*time.Second || d.waits[i] < d.waits[i-1] {
			t.Errorf("waits %v", d.waits)
		}
	}
}

// perDialTimeout bounds each attempt's TCP connect (0: no bound); the
// default is 15 s.
func TestPerDialTimeout(t *testing.T) {
	for _, c := range []struct {
		given any
		want  time.Duration
	}{{7.0, 7 * time.Second}, {0.0, 0}, {nil, 15 * time.Second}} {
		rec := &recorder{}
		p := New(rec)
		d := &dialRecorder{}
		d.install(p)
		f := &fixture{t: t, p: p, log: rec, srv: &testServer{}}
		conn := resource.PropertyMap{
			"host": resource.NewProperty("127.0.0.1"), "port": resource.NewProperty(closedPort(t)),
			"dialErrorLimit": resource.NewProperty(1.0),
		}
		if c.given != nil {
			conn["perDialTimeout"] = resource.NewPropertyValue(c.given)
		}
		_, _, err := f.create(f.checked(map[string]any{"create": "true", "connection": resource.NewProperty(conn)}), false)
		if err == nil {
			t.Fatal("dialled a closed port")
		}
		if !reflect.DeepEqual(d.timeouts, []time.Duration{c.want, c.want}) {
			t.Errorf("perDialTimeout %v: timeouts %v", c.given, d.timeouts)
		}
	}
}

func TestDiffTriggersReplaceOthersUpdate(t *testing.T) {
	f := newFixture(t, nil)
	base := map[string]any{
		"create": "echo a", "update": "echo u", "delete": "echo d", "stdin": resource.MakeSecret(resource.NewProperty("k")),
		"environment": map[string]any{"A": "1"}, "logging": "stdoutAndStderr", "addPreviousOutputInEnv": true,
		"triggers": []any{"i-1"},
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k2, v2 := range base {
			m[k2] = v2
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	olds := f.checked(base)
	state := outputs(olds, resource.NewProperty("a"), resource.NewProperty(""))
	if d := f.diff(olds, state, f.checked(base)); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change: %v", d)
	}
	cases := []struct {
		key     string
		value   any
		replace bool
		path    string
		kind    pulumirpc.PropertyDiff_Kind
	}{
		{"triggers", []any{"i-2"}, true, "triggers[0]", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"triggers", []any{"i-1", "i-3"}, true, "triggers[1]", pulumirpc.PropertyDiff_ADD_REPLACE},
		{"triggers", nil, true, "triggers", pulumirpc.PropertyDiff_DELETE_REPLACE},
		{"create", "echo b", false, "create", pulumirpc.PropertyDiff_UPDATE},
		{"update", nil, false, "update", pulumirpc.PropertyDiff_DELETE},
		{"delete", "echo e", false, "delete", pulumirpc.PropertyDiff_UPDATE},
		{"stdin", resource.MakeSecret(resource.NewProperty("k2")), false, "stdin", pulumirpc.PropertyDiff_UPDATE},
		{"environment", map[string]any{"A": "2"}, false, "environment.A", pulumirpc.PropertyDiff_UPDATE},
		{"logging", "none", false, "logging", pulumirpc.PropertyDiff_UPDATE},
		{"addPreviousOutputInEnv", false, false, "addPreviousOutputInEnv", pulumirpc.PropertyDiff_UPDATE},
		{"connection", f.conn(map[string]any{"hostKey": "ssh-ed25519 AAAA"}), false, "connection", pulumirpc.PropertyDiff_UPDATE},
	}
	for _, c := range cases {
		t.Run(c.key+"/"+c.path, func(t *testing.T) {
			d := f.diff(olds, state, f.checked(with(c.key, c.value)))
			if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || !d.GetHasDetailedDiff() || d.GetDeleteBeforeReplace() {
				t.Fatalf("diff %v", d)
			}
			if !reflect.DeepEqual(d.GetDiffs(), []string{c.key}) {
				t.Errorf("diffs %v", d.GetDiffs())
			}
			if got := len(d.GetReplaces()) > 0; got != c.replace {
				t.Errorf("replaces %v, want replace=%v", d.GetReplaces(), c.replace)
			}
			pd, ok := d.GetDetailedDiff()[c.path]
			if !ok || pd.GetKind() != c.kind || len(d.GetDetailedDiff()) != 1 {
				t.Errorf("detailed diff %v, want %s: %v", d.GetDetailedDiff(), c.path, c.kind)
			}
		})
	}
}

// connection is secret in the outputs whatever the input was; a secret
// stdin stays secret, a plain one plain; stdout and stderr are plain even
// then (marking them is the engine's additionalSecretOutputs).
func TestSecrecyOfOutputs(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "cat", "stdin": resource.MakeSecret(resource.NewProperty("secret key"))})
	// As if the engine had passed connection plain: still secret out.
	in["connection"] = in["connection"].SecretValue().Element
	out := f.mustCreate(in)
	if !out["connection"].IsSecret() {
		t.Errorf("connection not secret: %v", out["connection"])
	}
	if !out["stdin"].IsSecret() {
		t.Errorf("secret stdin came out plain")
	}
	if out["stdout"].IsSecret() || out["stderr"].IsSecret() || str(t, out, "stdout") != "secret key" {
		t.Errorf("stdout/stderr: %v %v", out["stdout"], out["stderr"])
	}
	news := f.checked(map[string]any{"create": "cat", "stdin": "plain"})
	up, err := f.update(out, in, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if !up["connection"].IsSecret() || up["stdin"].IsSecret() || up["stdout"].IsSecret() || str(t, up, "stdout") != "plain" {
		t.Errorf("update outputs: %v", up)
	}
	_, prev, err := f.create(in, true)
	if err != nil || !prev["connection"].IsSecret() || !prev["stdin"].IsSecret() {
		t.Errorf("preview outputs: %v %v", prev, err)
	}
}

// A failed command reports its status, the whole command (quoted as Go's
// %q) and its output, and leaves no outputs.
func TestFailureMessageFormat(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct{ cmd, want string }{
		{"echo one; echo two; exit 3", "Process exited with status 3: running \"echo one; echo two; exit 3\":\none\ntwo\n"},
		{"echo bad >&2\nexit 4", "Process exited with status 4: running \"echo bad >&2\\nexit 4\":\nbad\n"},
	} {
		_, _, err := f.create(f.checked(map[string]any{"create": c.cmd}), false)
		if err == nil || err.Error() != c.want {
			t.Errorf("err = %q, want %q", err, c.want)
		}
	}
	// Update and delete alike.
	in := f.checked(map[string]any{"create": "true", "delete": "exit 5"})
	state := f.mustCreate(in)
	if err := f.delete(state, in); err == nil || err.Error() != "Process exited with status 5: running \"exit 5\":\n" {
		t.Errorf("delete err = %q", err)
	}
	news := f.checked(map[string]any{"create": "exit 6"})
	if _, err := f.update(state, in, news, false); err == nil || !strings.HasPrefix(err.Error(), "Process exited with status 6: running \"exit 6\":") {
		t.Errorf("update err = %q", err)
	}
}

// The output is streamed to the engine, a status message per line, unless
// logging says otherwise.
func TestLoggingStreamsOutput(t *testing.T) {
	f := newFixture(t, nil)
	cmd := "echo o1; echo o2; echo e1 >&2"
	for _, c := range []struct {
		logging any
		want    []string
	}{
		{nil, []string{"e1", "o1", "o2"}},
		{"stdoutAndStderr", []string{"e1", "o1", "o2"}},
		{"stdout", []string{"o1", "o2"}},
		{"stderr", []string{"e1"}},
		{"none", nil},
	} {
		props := map[string]any{"create": cmd}
		if c.logging != nil {
			props["logging"] = c.logging
		}
		out := f.mustCreate(f.checked(props))
		entries := f.log.take()
		got := statuses(entries)
		sort.Strings(got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("logging %v: logged %q, want %q", c.logging, got, c.want)
		}
		for _, e := range entries {
			if e.sev != diag.Info || e.urn != testURN {
				t.Errorf("logging %v: entry %+v", c.logging, e)
			}
		}
		if str(t, out, "stdout") != "o1\no2" || str(t, out, "stderr") != "e1" {
			t.Errorf("logging %v changed the outputs: %v", c.logging, out)
		}
	}
}

func TestPreviewRunsNothing(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "echo a", "delete": "echo d"})
	_, out, err := f.create(in, true)
	if err != nil {
		t.Fatal(err)
	}
	if !out["stdout"].IsComputed() || !out["stderr"].IsComputed() {
		t.Errorf("preview outputs %v", out)
	}
	if str(t, out, "create") != "echo a" {
		t.Errorf("preview lost inputs: %v", out)
	}
	// Unknown inputs (a preview before the host exists) are fine too.
	unknown := f.checked(map[string]any{"create": "echo a"})
	unknown["connection"] = resource.MakeComputed(resource.NewProperty(""))
	if _, _, err := f.create(unknown, true); err != nil {
		t.Errorf("preview with unknown connection: %v", err)
	}
	state := f.mustCreate(in)
	news := f.checked(map[string]any{"create": "echo b", "delete": "echo d"})
	up, err := f.update(state, in, news, true)
	if err != nil {
		t.Fatal(err)
	}
	if !up["stdout"].IsComputed() || str(t, up, "create") != "echo b" {
		t.Errorf("update preview %v", up)
	}
	// Unchanged inputs (an update forced by the engine): the outputs stay.
	if up, err = f.update(state, in, in, true); err != nil || str(t, up, "stdout") != "a" {
		t.Errorf("unchanged update preview %v %v", up, err)
	}
	conns, _ := f.srv.snapshot()
	if conns != 1 || !reflect.DeepEqual(f.srv.commands(), []string{"echo a"}) {
		t.Errorf("preview connected: %d connections, ran %q", conns, f.srv.commands())
	}
}

func TestReadReturnsStateUnchanged(t *testing.T) {
	f := newFixture(t, nil)
	in := f.checked(map[string]any{"create": "echo a", "stdin": resource.MakeSecret(resource.NewProperty("k"))})
	state := f.mustCreate(in)
	resp, err := f.p.Read(context.Background(), &pulumirpc.ReadRequest{Urn: testURN, Id: "setup1", Properties: mustStruct(t, state), Inputs: mustStruct(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "setup1" || !reflect.DeepEqual(resp.GetProperties().AsMap(), mustStruct(t, state).AsMap()) || !reflect.DeepEqual(resp.GetInputs().AsMap(), mustStruct(t, in).AsMap()) {
		t.Errorf("read %v", resp)
	}
	if len(f.srv.commands()) != 1 {
		t.Errorf("read ran %q", f.srv.commands())
	}
}
