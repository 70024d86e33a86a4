package command

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/skeleton"
)

const testURN = "urn:pulumi:dev::vpclink::command:remote:Command::setup"

// logEntry is one diagnostic the provider sent to the engine.
type logEntry struct {
	sev    diag.Severity
	urn    resource.URN
	msg    string
	status bool // LogStatus (ephemeral) rather than Log
}

// recorder captures what would be logged through the engine.
type recorder struct {
	mu      sync.Mutex
	entries []logEntry
}

func (r *recorder) Log(_ context.Context, sev diag.Severity, urn resource.URN, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, logEntry{sev, urn, msg, false})
	return nil
}

func (r *recorder) LogStatus(_ context.Context, sev diag.Severity, urn resource.URN, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, logEntry{sev, urn, msg, true})
	return nil
}

func (r *recorder) take() []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.entries
	r.entries = nil
	return out
}

// fixture is a provider, its log and an SSH server on 127.0.0.1.
type fixture struct {
	t   *testing.T
	p   *Provider
	log *recorder
	srv *testServer
	dir string
}

func newFixture(t *testing.T, acceptEnv func(string) bool) *fixture {
	t.Helper()
	rec := &recorder{}
	return &fixture{t: t, p: New(rec), log: rec, srv: startServer(t, acceptEnv), dir: t.TempDir()}
}

// conn is a connection to the fixture's server (host key pinned unless
// extra sets hostKey to nil), with extra fields set or removed (nil).
func (f *fixture) conn(extra map[string]any) resource.PropertyValue {
	m := resource.PropertyMap{
		"host":           resource.NewProperty("127.0.0.1"),
		"port":           resource.NewProperty(f.srv.port()),
		"user":           resource.NewProperty("ubuntu"),
		"privateKey":     resource.MakeSecret(resource.NewProperty(f.srv.clientKey)),
		"hostKey":        resource.NewProperty(f.srv.hostKey),
		"dialErrorLimit": resource.NewProperty(2.0),
		"perDialTimeout": resource.NewProperty(5.0),
	}
	for k, v := range extra {
		if v == nil {
			delete(m, resource.PropertyKey(k))
		} else {
			m[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	// As the Go SDK sends it: the whole connection secret.
	return resource.MakeSecret(resource.NewProperty(m))
}

// checked runs Check on props (plus a connection when props has none) and
// fails the test on any failure.
func (f *fixture) checked(props map[string]any) resource.PropertyMap {
	f.t.Helper()
	news := resource.NewPropertyMapFromMap(props)
	if _, ok := news["connection"]; !ok {
		news["connection"] = f.conn(nil)
	}
	out, failures := f.check(news)
	if len(failures) > 0 {
		f.t.Fatalf("Check failed: %v", failures)
	}
	return out
}

func (f *fixture) check(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	f.t.Helper()
	return checkVia(f.t, f.p, testURN, news)
}

func checkVia(t *testing.T, p *Provider, urn string, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	s, err := skeleton.Marshal(news)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urn, News: s})
	if err != nil {
		t.Fatal(err)
	}
	out, err := skeleton.Unmarshal(resp.GetInputs())
	if err != nil {
		t.Fatal(err)
	}
	return out, resp.GetFailures()
}

func mustStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := skeleton.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) create(in resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	f.t.Helper()
	resp, err := f.p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: mustStruct(f.t, in), Preview: preview})
	if err != nil {
		return "", nil, err
	}
	out, err := skeleton.Unmarshal(resp.GetProperties())
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.GetId(), out, nil
}

// mustCreate creates (for real) and returns the outputs.
func (f *fixture) mustCreate(in resource.PropertyMap) resource.PropertyMap {
	f.t.Helper()
	_, out, err := f.create(in, false)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return out
}

func (f *fixture) update(state, oldInputs, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	f.t.Helper()
	resp, err := f.p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Urn: testURN, Id: "setup12345678", Olds: mustStruct(f.t, state), OldInputs: mustStruct(f.t, oldInputs),
		News: mustStruct(f.t, news), Preview: preview,
	})
	if err != nil {
		return nil, err
	}
	out, err := skeleton.Unmarshal(resp.GetProperties())
	if err != nil {
		f.t.Fatal(err)
	}
	return out, nil
}

func (f *fixture) delete(state, oldInputs resource.PropertyMap) error {
	f.t.Helper()
	_, err := f.p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Urn: testURN, Id: "setup12345678", Properties: mustStruct(f.t, state), OldInputs: mustStruct(f.t, oldInputs),
	})
	return err
}

func (f *fixture) diff(oldInputs, state, news resource.PropertyMap) *pulumirpc.DiffResponse {
	f.t.Helper()
	resp, err := f.p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Urn: testURN, Id: "setup12345678", Olds: mustStruct(f.t, state), OldInputs: mustStruct(f.t, oldInputs), News: mustStruct(f.t, news),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp
}

// str is the plain string of an output, failing on anything else.
func str(t *testing.T, m resource.PropertyMap, k resource.PropertyKey) string {
	t.Helper()
	v := m[k]
	if v.IsSecret() {
		t.Fatalf("%s is secret", k)
	}
	if !v.IsString() {
		t.Fatalf("%s = %v, not a string", k, v)
	}
	return v.StringValue()
}

// closedPort is a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) float64 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	n, _ := strconv.Atoi(p)
	return float64(n)
}

// dialRecorder replaces the provider's TCP dial and back-off wait: it
// counts attempts, records each attempt's timeout and each wait, and never
// sleeps.
type dialRecorder struct {
	mu       sync.Mutex
	attempts int
	timeouts []time.Duration
	waits    []time.Duration
	// cancel is called at attempt cancelAt; from then on waits never end.
	cancel   func()
	cancelAt int
	blocked  bool
}

func (d *dialRecorder) install(p *Provider) {
	p.dial = func(network, addr string, timeout time.Duration) (net.Conn, error) {
		d.mu.Lock()
		d.attempts++
		n := d.attempts
		d.timeouts = append(d.timeouts, timeout)
		if n == d.cancelAt {
			d.blocked = true
			d.cancel()
		}
		d.mu.Unlock()
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			return nil, &net.AddrError{Err: "test dials stay on 127.0.0.1", Addr: addr}
		}
		return net.DialTimeout(network, addr, timeout)
	}
	p.after = func(d2 time.Duration) <-chan time.Time {
		d.mu.Lock()
		d.waits = append(d.waits, d2)
		blocked := d.blocked
		d.mu.Unlock()
		if blocked {
			return nil
		}
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
}

// statuses are the status messages among entries.
func statuses(entries []logEntry) []string {
	var out []string
	for _, e := range entries {
		if e.status {
			out = append(out, e.msg)
		}
	}
	return out
}
