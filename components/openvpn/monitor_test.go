package openvpn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two ENIs of an HA site and its route table, as the lab's ids look.
const (
	testPrimaryENI   = "eni-0aaaaaaaaaaaaaaaa"
	testSecondaryENI = "eni-0bbbbbbbbbbbbbbbb"
	testRTB          = "rtb-0cccccccccccccccc"
)

func baseMonitor() Monitor {
	return Monitor{
		Region: "eu-west-1", RouteTableID: testRTB, PrimaryENI: testPrimaryENI, SecondaryENI: testSecondaryENI,
		Links: []MonitorLink{
			{Name: "a-b", ProbeAddress: "10.254.0.2", Destinations: []string{"10.1.0.0/16", "10.3.0.0/16"}},
			{Name: "a-c", ProbeAddress: "10.254.0.6", Destinations: []string{"10.2.0.0/16"}},
		},
	}
}

func TestMonitorRejects(t *testing.T) {
	for _, tc := range []struct {
		change func(*Monitor)
		want   string // the error names the field and the value
	}{
		{func(m *Monitor) { m.Region = "eu west 1" }, `Region "eu west 1"`},
		{func(m *Monitor) { m.Region = "" }, `Region ""`},
		{func(m *Monitor) { m.RouteTableID = "rtb-xyz" }, `RouteTableID "rtb-xyz"`},
		{func(m *Monitor) { m.PrimaryENI = "eni-1;reboot" }, `PrimaryENI "eni-1;reboot"`},
		{func(m *Monitor) { m.SecondaryENI = "" }, `SecondaryENI ""`},
		{func(m *Monitor) { m.SecondaryENI = m.PrimaryENI }, `SecondaryENI "` + testPrimaryENI + `": the same as PrimaryENI`},
		{func(m *Monitor) { m.HoldDownSeconds = 4 }, "HoldDownSeconds 4"},
		{func(m *Monitor) { m.HoldDownSeconds = 3601 }, "HoldDownSeconds 3601"},
		{func(m *Monitor) { m.HoldDownSeconds = -1 }, "HoldDownSeconds -1"},
		{func(m *Monitor) { m.Links = nil }, "Links: none"},
		{func(m *Monitor) { m.Links[1].Name = "A C" }, `Links[1].Name "A C"`},
		{func(m *Monitor) { m.Links[1].Name = "a-b" }, `Links[1].Name "a-b": duplicate`},
		{func(m *Monitor) { m.Links[1].Name = "monitor" }, `Links[1].Name "monitor": its tunnel's unit would be vpclink-monitor.service`},
		{func(m *Monitor) { m.Links[0].ProbeAddress = "10.254.0.300" }, `ProbeAddress "10.254.0.300"`},
		{func(m *Monitor) { m.Links[0].ProbeAddress = "fd00::2" }, `ProbeAddress "fd00::2"`},
		{func(m *Monitor) { m.Links[0].Destinations = nil }, `link "a-b": Destinations: none`},
		{func(m *Monitor) { m.Links[0].Destinations = []string{"10.1.0.1/16"} }, `Destinations "10.1.0.1/16"`},
		{func(m *Monitor) { m.Links[0].Destinations = []string{"10.1.0.0/16 10.2.0.0/16"} }, `Destinations "10.1.0.0/16 10.2.0.0/16"`},
		{func(m *Monitor) { m.Links[1].Destinations = []string{"10.1.0.0/16"} }, `Destinations "10.1.0.0/16": already routed over link "a-b"`},
	} {
		m := baseMonitor()
		tc.change(&m)
		_, err := MonitorScript(m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MonitorScript with %s: error %v, want one containing %q", tc.want, err, tc.want)
		}
	}
	for _, h := range []int{0, MinHoldDownSeconds, MaxHoldDownSeconds} {
		m := baseMonitor()
		m.HoldDownSeconds = h
		if _, err := MonitorScript(m); err != nil {
			t.Errorf("HoldDownSeconds %d: %v", h, err)
		}
	}
}

func TestMonitorScripts(t *testing.T) {
	m := baseMonitor()
	script, err := MonitorScript(m)
	if err != nil {
		t.Fatal(err)
	}
	bashSyntax(t, "monitor setup", script)
	checkCommand(t, "monitor", script)
	bashSyntax(t, "monitor daemon", MonitorDaemon())
	conf, err := MonitorConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	wantConf := "region eu-west-1\nroute-table " + testRTB + "\nprimary-eni " + testPrimaryENI +
		"\nsecondary-eni " + testSecondaryENI + "\nhold-down 60\nlink a-b 10.254.0.2 10.1.0.0/16 10.3.0.0/16\nlink a-c 10.254.0.6 10.2.0.0/16\n"
	if !strings.HasSuffix(conf, wantConf) {
		t.Errorf("configuration:\n%s\nwant it to end with\n%s", conf, wantConf)
	}
	for _, w := range []string{
		"<<'VPCLINK_MONITOR'\n" + MonitorDaemon() + "VPCLINK_MONITOR\n",
		"<<'VPCLINK_MONITOR_CONF'\n" + conf + "VPCLINK_MONITOR_CONF\n",
		`install_file 755 "$MON"`,
		`install_file 644 "$CONF"`,
		"ExecStart=$MON $CONF",
		"Restart=always",
		"WantedBy=multi-user.target",
		`systemctl enable -q "$UNIT"`,
		"MON='" + MonitorPath + "'",
		"CONF='" + MonitorConfigPath + "'",
		"UNIT='" + MonitorUnit + "'",
		"9>&-", // the background daemon must not hold the host lock
	} {
		if !strings.Contains(script, w) {
			t.Errorf("monitor setup lacks %q", w)
		}
	}
	for _, w := range []string{"LOST_PROBES=2\n", "RETRY_SECONDS=${VPCLINK_MONITOR_RETRY_SECONDS:-5}\n", "ping -n -q -c 1 -W 1 ", "curl -s ", "-K -"} {
		if !strings.Contains(MonitorDaemon(), w) {
			t.Errorf("monitor daemon lacks %q", w)
		}
	}
	if strings.Contains(MonitorDaemon(), "@") && regexp.MustCompile(`@[A-Z]+@`).MatchString(MonitorDaemon()) {
		t.Error("monitor daemon has an unreplaced @NAME@")
	}
	teardown, err := MonitorTeardownScript()
	if err != nil {
		t.Fatal(err)
	}
	bashSyntax(t, "monitor teardown", teardown)
	checkCommand(t, "monitor-teardown", teardown)
	for _, w := range []string{`systemctl disable --now "$UNIT"`, "rm -f '" + MonitorPath + "' '" + MonitorConfigPath + "'", "exit 0"} {
		if !strings.Contains(teardown, w) {
			t.Errorf("monitor teardown lacks %q", w)
		}
	}
}

// fakeAWS is IMDSv2 and the EC2 Query API of one route table, on loopback.
type fakeAWS struct {
	t                              *testing.T
	akid, secret, token, imdsToken string
	mu                             sync.Mutex
	routes                         map[string]string // destination -> ENI
	calls                          []ec2Call
	failures                       map[string]int // "ReplaceRoute 10.2.0.0/16": answers UnauthorizedOperation so often
	problems                       []string       // what a real AWS would have refused
	imdsFailures                   int            // IMDS token requests still to answer HTTP 500
	describes                      int            // DescribeRouteTables calls answered
	signed, unsignedTokenRequests  int
}

type ec2Call struct {
	at                time.Time
	action, dest, eni string
	before            string // the destination's target when the call came
	code              string // the AWS error code answered, "" for success
}

func (f *fakeAWS) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	const creds = "/latest/meta-data/iam/security-credentials/"
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		f.mu.Lock()
		fail := f.imdsFailures > 0
		if fail {
			f.imdsFailures--
		}
		f.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "21600" {
			f.problem("IMDS token request without the TTL header")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		io.WriteString(w, f.imdsToken)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, creds):
		if r.Header.Get("X-aws-ec2-metadata-token") != f.imdsToken {
			f.problem("IMDS GET %s without the token", r.URL.Path)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, creds) {
		case "":
			io.WriteString(w, "vpclink-a-monitor-role")
		case "vpclink-a-monitor-role":
			fmt.Fprintf(w, "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-30T13:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n"+
				"  \"AccessKeyId\" : \"%s\",\n  \"SecretAccessKey\" : \"%s\",\n  \"Token\" : \"%s\",\n  \"Expiration\" : \"2026-11-30T19:00:00Z\"\n}",
				f.akid, f.secret, f.token)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/":
		f.ec2(w, r, body)
	default:
		f.problem("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func ec2Error(w http.ResponseWriter, status int, code string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code><Message>fake</Message></Error></Errors><RequestID>r-1</RequestID></Response>", code)
}

func (f *fakeAWS) ec2(w http.ResponseWriter, r *http.Request, body []byte) {
	if err := verifySigV4(r, body, f.akid, f.secret, "eu-west-1", "ec2"); err != nil {
		f.problem("EC2 request: %v", err)
		ec2Error(w, http.StatusUnauthorized, "AuthFailure")
		return
	}
	if r.Header.Get("X-Amz-Security-Token") != f.token {
		f.problem("EC2 request without the session token")
		ec2Error(w, http.StatusUnauthorized, "AuthFailure")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded; charset=utf-8" {
		f.problem("EC2 request with Content-Type %q", ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Version") != "2016-11-15" {
		f.problem("EC2 request body %q", body)
		ec2Error(w, http.StatusBadRequest, "MissingParameter")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signed++
	if slices.Contains(strings.Split(signedHeaders(r), ";"), "x-amz-security-token") {
		// curl signs every header it sends; so does AWS's SDK.
	} else {
		f.unsignedTokenRequests++
	}
	action := form.Get("Action")
	const xmlns = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`
	switch action {
	case "DescribeRouteTables":
		if form.Get("RouteTableId.1") != testRTB {
			ec2Error(w, http.StatusBadRequest, "InvalidRouteTableID.NotFound")
			return
		}
		f.describes++
		var b strings.Builder
		fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeRouteTablesResponse %s>\n    <requestId>r-2</requestId>\n    <routeTableSet>\n        <item>\n"+
			"            <routeTableId>%s</routeTableId>\n            <vpcId>vpc-01</vpcId>\n            <routeSet>\n", xmlns, testRTB)
		route := func(dest, target string) {
			fmt.Fprintf(&b, "                <item>\n                    <destinationCidrBlock>%s</destinationCidrBlock>\n%s                    <state>active</state>\n                    <origin>CreateRoute</origin>\n                </item>\n", dest, target)
		}
		route("10.0.0.0/16", "                    <gatewayId>local</gatewayId>\n")
		for _, d := range slices.Sorted(func(yield func(string) bool) {
			for d := range f.routes {
				if !yield(d) {
					return
				}
			}
		}) {
			route(d, "                    <instanceId>i-0aaaaaaaaaaaaaaaa</instanceId>\n                    <instanceOwnerId>123456789012</instanceOwnerId>\n"+
				"                    <networkInterfaceId>"+f.routes[d]+"</networkInterfaceId>\n")
		}
		route("0.0.0.0/0", "                    <gatewayId>igw-01</gatewayId>\n")
		fmt.Fprintf(&b, "            </routeSet>\n            <associationSet>\n                <item>\n                    <main>true</main>\n                </item>\n            </associationSet>\n"+
			"            <tagSet/>\n        </item>\n    </routeTableSet>\n</DescribeRouteTablesResponse>\n")
		io.WriteString(w, b.String())
	case "ReplaceRoute", "CreateRoute":
		dest, eni := form.Get("DestinationCidrBlock"), form.Get("NetworkInterfaceId")
		c := ec2Call{at: time.Now(), action: action, dest: dest, eni: eni, before: f.routes[dest]}
		defer func() { f.calls = append(f.calls, c) }()
		if form.Get("RouteTableId") != testRTB || eni != testPrimaryENI && eni != testSecondaryENI {
			c.code = "MissingParameter"
			ec2Error(w, http.StatusBadRequest, c.code)
			return
		}
		if n := f.failures[action+" "+dest]; n > 0 {
			f.failures[action+" "+dest] = n - 1
			c.code = "UnauthorizedOperation"
			ec2Error(w, http.StatusForbidden, c.code)
			return
		}
		_, exists := f.routes[dest]
		switch {
		case action == "ReplaceRoute" && !exists:
			c.code = "InvalidRoute.NotFound"
			ec2Error(w, http.StatusBadRequest, c.code)
			return
		case action == "CreateRoute" && exists:
			c.code = "RouteAlreadyExists"
			ec2Error(w, http.StatusBadRequest, c.code)
			return
		}
		f.routes[dest] = eni
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse %s>\n    <requestId>r-3</requestId>\n    <return>true</return>\n</%sResponse>\n", action, xmlns, action)
	default:
		ec2Error(w, http.StatusBadRequest, "InvalidAction")
	}
}

// signedHeaders returns the SignedHeaders of a SigV4 Authorization header.
func signedHeaders(r *http.Request) string {
	_, after, _ := strings.Cut(r.Header.Get("Authorization"), "SignedHeaders=")
	h, _, _ := strings.Cut(after, ",")
	return h
}

// verifySigV4 checks a request's AWS Signature Version 4 (Authorization
// header form, no query string), as AWS does for the EC2 Query API.
func verifySigV4(r *http.Request, body []byte, akid, secret, region, service string) error {
	const algorithm = "AWS4-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return fmt.Errorf("authorization %q is not %s", auth, algorithm)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != akid || scope[2] != region || scope[3] != service || scope[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q, want %s/DATE/%s/%s/aws4_request", fields["Credential"], akid, region, service)
	}
	date := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(date, scope[1]) {
		return fmt.Errorf("x-amz-date %q does not match the scope's date %s", date, scope[1])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return fmt.Errorf("signed headers %q lack host or x-amz-date", fields["SignedHeaders"])
	}
	var canonical strings.Builder
	for _, h := range signed {
		v := strings.Join(r.Header.Values(h), ",")
		if h == "host" {
			v = r.Host
		}
		fmt.Fprintf(&canonical, "%s:%s\n", h, strings.Join(strings.Fields(v), " "))
	}
	sum := func(s []byte) string { h := sha256.Sum256(s); return hex.EncodeToString(h[:]) }
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	request := strings.Join([]string{r.Method, "/", r.URL.RawQuery, canonical.String(), fields["SignedHeaders"], sum(body)}, "\n")
	toSign := strings.Join([]string{algorithm, date, strings.Join(scope[1:], "/"), sum([]byte(request))}, "\n")
	key := mac([]byte("AWS4"+secret), scope[1])
	for _, s := range []string{region, service, "aws4_request"} {
		key = mac(key, s)
	}
	if want := hex.EncodeToString(mac(key, toSign)); !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not match (signed headers %s)", fields["SignedHeaders"])
	}
	return nil
}

// syncBuffer is an output buffer that the test reads while a process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFakeAWS returns a fake AWS with fresh credentials and the given routes.
func newFakeAWS(t *testing.T, routes map[string]string) *fakeAWS {
	return &fakeAWS{
		t: t, akid: "ASIA" + strings.ToUpper(randomHex(t, 8)), secret: randomHex(t, 20),
		token: "IQoJb3JpZ2luX2VjE" + randomHex(t, 40), imdsToken: "AQAEA" + randomHex(t, 20),
		routes: routes, failures: map[string]int{},
	}
}

// monitorRun is the daemon script running under bash against a fakeAWS,
// with a fake ping first on its PATH.
type monitorRun struct {
	t       *testing.T
	f       *fakeAWS
	out     syncBuffer
	done    chan struct{} // closed when the daemon has exited
	err     error         // its exit status, once done is closed
	ctl     string        // the fake ping's control directory
	argvLog string        // curl's arguments and environment, call after call
	// daemon, conf and env run it (failback runs it once more); creds is
	// where it keeps the credentials.
	daemon, conf, creds string
	env                 []string
	started             time.Time
}

// startMonitor starts the daemon with m's configuration; env is added to
// its environment. It skips the test without curl --aws-sigv4.
func startMonitor(t *testing.T, f *fakeAWS, m Monitor, env ...string) *monitorRun {
	t.Helper()
	bash := bashPath(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not found")
	}
	if help, _ := exec.Command(curl, "--help", "all").Output(); !bytes.Contains(help, []byte("--aws-sigv4")) {
		t.Skip("this curl has no --aws-sigv4 (curl 7.75 or later needed)")
	}
	for _, tool := range []string{"awk", "sed", "grep", "tr", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	r := &monitorRun{t: t, f: f, done: make(chan struct{}), ctl: filepath.Join(dir, "ping"), argvLog: filepath.Join(dir, "curl-argv")}
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, r.ctl} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, text string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	// ping: PING_CTL/ADDRESS holds "down" (every probe is lost) or a count
	// of probes still to lose; no file: answered.
	write(filepath.Join(bin, "ping"), "#!"+bash+`
addr=${!#}
[ "$*" = "-n -q -c 1 -W 1 $addr" ] || { echo "ping $*" >>"$PING_CTL/bad-arguments"; exit 2; }
f=$PING_CTL/$addr
if [ -f "$f" ]; then
  v=$(cat "$f")
  if [ "$v" = down ]; then sleep 0.3; exit 1; fi
  if [ "$v" -gt 0 ] 2>/dev/null; then echo $((v - 1)) >"$f.tmp"; mv -f "$f.tmp" "$f"; sleep 0.3; exit 1; fi
fi
exit 0
`, 0o755)
	// curl: records its arguments and environment, then runs the real one.
	write(filepath.Join(bin, "curl"), "#!"+bash+`
{ printf '%s\n' "$@"; tr '\0' '\n' </proc/$$/environ; echo ---; } >>`+shellQuote(r.argvLog)+`
exec `+shellQuote(curl)+` "$@"
`, 0o755)
	daemon, conf := filepath.Join(dir, "vpclink-monitor"), filepath.Join(dir, "monitor.conf")
	write(daemon, MonitorDaemon(), 0o755)
	text, err := MonitorConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	write(conf, text, 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bash, daemon, conf)
	r.daemon, r.conf, r.creds = daemon, conf, filepath.Join(dir, "credentials")
	cmd.Env = append(append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PING_CTL="+r.ctl,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+srv.URL, "AWS_ENDPOINT_URL_EC2="+srv.URL,
		"VPCLINK_MONITOR_CREDENTIALS="+r.creds), env...)
	r.env = cmd.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// failback runs `vpclink-monitor --failback` once, as the teardown does,
// with the daemon's configuration and environment.
func (r *monitorRun) failback() (string, error) {
	cmd := exec.Command(bashPath(r.t), r.daemon, "--failback", r.conf)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds; the test fails after timeout or when
// the daemon exits.
func (r *monitorRun) waitFor(what string, timeout time.Duration, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		select {
		case <-r.done:
			r.t.Fatalf("the monitor exited (%v) while waiting for %s; output:\n%s", r.err, what, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within %s; output:\n%s", what, timeout, r.out.String())
		}
	}
}

// logged is a condition: the output holds s.
func (r *monitorRun) logged(s string) func() bool {
	return func() bool { return strings.Contains(r.out.String(), s) }
}

// route is the fake table's target of destination d.
func (r *monitorRun) route(d string) string {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.f.routes[d]
}

// setRoute changes the fake table behind the monitor's back.
func (r *monitorRun) setRoute(d, eni string) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if eni == "" {
		delete(r.f.routes, d)
	} else {
		r.f.routes[d] = eni
	}
}

// calls returns the ReplaceRoute and CreateRoute calls for d so far.
func (r *monitorRun) calls(d string) []ec2Call {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	var cs []ec2Call
	for _, c := range r.f.calls {
		if c.dest == d {
			cs = append(cs, c)
		}
	}
	return cs
}

// probes sets what the fake ping does for addr: "down", a count of probes
// to lose, or "" (answer).
func (r *monitorRun) probes(addr, v string) {
	r.t.Helper()
	p := filepath.Join(r.ctl, addr)
	if v == "" {
		if err := os.Remove(p); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// check makes the checks every run ends with: AWS would have accepted
// every request and no ReplaceRoute was redundant; ping had the right
// arguments; no secret in the output, in curl's arguments or environment;
// every output line is a log line.
func (r *monitorRun) check() {
	t, f := r.t, r.f
	t.Helper()
	select {
	case <-r.done:
		t.Errorf("the monitor exited (%v); it must run until stopped", r.err)
	default:
	}
	f.mu.Lock()
	for _, c := range f.calls {
		if c.action == "ReplaceRoute" && c.before == c.eni {
			t.Errorf("ReplaceRoute %s to %s, which it already had", c.dest, c.eni)
		}
	}
	if f.signed == 0 {
		t.Error("no signed EC2 request arrived")
	}
	if f.unsignedTokenRequests > 0 {
		t.Errorf("%d requests did not sign x-amz-security-token", f.unsignedTokenRequests)
	}
	for _, p := range f.problems {
		t.Errorf("fake AWS: %s", p)
	}
	f.mu.Unlock()
	if b, err := os.ReadFile(filepath.Join(r.ctl, "bad-arguments")); err == nil {
		t.Errorf("ping called with other arguments:\n%s", b)
	}
	argv, err := os.ReadFile(r.argvLog)
	if err != nil || !bytes.Contains(argv, []byte("--aws-sigv4")) {
		t.Fatalf("the curl wrapper recorded no signed call (%v)", err)
	}
	output := r.out.String()
	for name, s := range map[string]string{"secret key": f.secret, "session token": f.token, "IMDS token": f.imdsToken} {
		if strings.Contains(output, s) {
			t.Errorf("the %s is in the monitor's output", name)
		}
		if bytes.Contains(argv, []byte(s)) {
			t.Errorf("the %s is in curl's command line or environment", name)
		}
	}
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (vpclink-monitor|link [a-z0-9-]+): \S`)
	for _, l := range strings.Split(strings.TrimSuffix(output, "\n"), "\n") {
		if !line.MatchString(l) {
			t.Errorf("output line %q is not a log line", l)
		}
	}
	if t.Failed() || os.Getenv("SHOWLOG") != "" {
		t.Logf("output:\n%s", output)
	}
}

// TestMonitorDaemonRuns runs the monitor's daemon script under bash against
// a fake IMDSv2 and EC2 on loopback, with a fake ping whose answers the test
// controls, through an outage of the primary tunnel of one link and back,
// while the other link fails back after a failed call. About 15 s.
func TestMonitorDaemonRuns(t *testing.T) {
	f := newFakeAWS(t, map[string]string{"10.1.0.0/16": testPrimaryENI, "10.3.0.0/16": testPrimaryENI, "10.2.0.0/16": testSecondaryENI})
	// The other link's failback is refused once (a policy being updated,
	// say): it is retried, and a-b does not wait for it.
	f.failures["ReplaceRoute 10.2.0.0/16"] = 1
	m := baseMonitor()
	m.HoldDownSeconds = 5
	r := startMonitor(t, f, m)
	waitFor, logged, calls, route, out := r.waitFor, r.logged, r.calls, r.route, &r.out

	// Start: a-b's routes are on the primary, a-c's on the secondary.
	waitFor("the start lines", 5*time.Second, func() bool {
		return logged("link a-b: start -> primary")() && logged("link a-c: start -> secondary (routes already on "+testSecondaryENI+")")()
	})
	if cs := append(calls("10.1.0.0/16"), calls("10.3.0.0/16")...); len(cs) != 0 {
		t.Errorf("a table that matches got calls: %+v", cs)
	}

	// One lost probe is no outage.
	r.probes("10.254.0.2", "1")
	waitFor("the single lost probe", 5*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(r.ctl, "10.254.0.2")); return string(b) == "0\n" })
	waitFor("the probe answered again", 3*time.Second, logged("link a-b: probe 10.254.0.2 answered again"))
	time.Sleep(1500 * time.Millisecond)
	if !logged("link a-b: probe 10.254.0.2 lost (1 of 2)")() || logged("link a-b: primary tunnel lost")() {
		t.Errorf("a single lost probe: want one lost line and no transition; output:\n%s", out.String())
	}
	if cs := append(calls("10.1.0.0/16"), calls("10.3.0.0/16")...); len(cs) != 0 {
		t.Errorf("a single lost probe moved routes: %+v", cs)
	}

	// Outage of a-b's primary tunnel. The other VPN instance's monitor
	// has already moved one route (no call for it), and someone has
	// deleted another (ReplaceRoute: InvalidRoute.NotFound, CreateRoute).
	r.setRoute("10.1.0.0/16", testSecondaryENI)
	r.setRoute("10.3.0.0/16", "")
	down := time.Now()
	r.probes("10.254.0.2", "down")
	waitFor("failover of a-b", 4*time.Second, func() bool {
		return route("10.1.0.0/16") == testSecondaryENI && route("10.3.0.0/16") == testSecondaryENI
	})
	took := time.Since(down)
	t.Logf("failover: routes on the secondary %v after the first lost probe could start", took.Round(time.Millisecond))
	if took > 3500*time.Millisecond {
		t.Errorf("failover took %v, want about 3 s at most", took)
	}
	waitFor("the failover's log lines", 2*time.Second, logged("link a-b: 10.3.0.0/16 none -> "+testSecondaryENI+" (ReplaceRoute: InvalidRoute.NotFound; CreateRoute "))
	for _, w := range []string{
		"link a-b: primary tunnel lost (2 probes) -> secondary\n",
		"link a-b: DescribeRouteTables ok (",
		"link a-b: 10.1.0.0/16 already " + testSecondaryENI + "\n",
	} {
		if !logged(w)() {
			t.Errorf("no %q in the output:\n%s", w, out.String())
		}
	}

	// The tunnel comes back, loses one probe during the hold-down (which
	// starts again), then stays up: failback 5 s after the last loss.
	up := time.Now()
	r.probes("10.254.0.2", "")
	waitFor("the tunnel answering again", 3*time.Second, logged("link a-b: primary tunnel answers again; failback after 5 s of answered probes"))
	time.Sleep(2 * time.Second)
	r.probes("10.254.0.2", "1")
	waitFor("the hold-down's lost probe", 3*time.Second, logged("link a-b: probe 10.254.0.2 lost during the hold-down; failback postponed"))
	lost := time.Now()
	waitFor("failback of a-b", 9*time.Second, func() bool { return route("10.1.0.0/16") == testPrimaryENI })
	back := calls("10.1.0.0/16")
	if len(back) != 1 || back[0].action != "ReplaceRoute" || back[0].eni != testPrimaryENI {
		t.Fatalf("calls for 10.1.0.0/16: %+v, want the failback's ReplaceRoute only", back)
	}
	if wait := back[0].at.Sub(lost); wait < 4900*time.Millisecond || wait > 8*time.Second {
		t.Errorf("failback %v after the last lost probe, want the 5 s hold-down (and at most 8 s); %v after the tunnel came back",
			wait.Round(time.Millisecond), back[0].at.Sub(up).Round(time.Millisecond))
	}
	waitFor("the failback's log lines", 2*time.Second, logged("link a-b: 10.3.0.0/16 "+testSecondaryENI+" -> "+testPrimaryENI+" (ReplaceRoute "))
	if !logged("link a-b: primary tunnel answered for 5 s -> primary\n")() {
		t.Errorf("no failback line in the output:\n%s", out.String())
	}

	// a-c failed back at about 5 s; its first call was refused and retried.
	waitFor("a-c's retried failback", 10*time.Second, func() bool { return route("10.2.0.0/16") == testPrimaryENI })
	for _, w := range []string{
		"link a-c: primary tunnel answered for 5 s -> primary\n",
		"link a-c: 10.2.0.0/16 " + testSecondaryENI + " -> " + testPrimaryENI + " failed: UnauthorizedOperation, HTTP 403 (ReplaceRoute ",
		"ms); retry in 1 s\n", // the first retry of a failed call comes after 1 s
	} {
		if !logged(w)() {
			t.Errorf("no %q in the output:\n%s", w, out.String())
		}
	}
	waitFor("a-c's success line", 2*time.Second, logged("link a-c: 10.2.0.0/16 "+testSecondaryENI+" -> "+testPrimaryENI+" (ReplaceRoute "))
	t.Logf("whole run %v", time.Since(r.started).Round(time.Millisecond))

	r.check()
}

// TestMonitorReconciles: IMDS fails at start (the monitor waits and
// retries), then someone moves a route behind the monitor's back (a
// pulumi up --refresh, a hand in the console): the next reconciliation
// moves it back, logging only that. About 5 s.
func TestMonitorReconciles(t *testing.T) {
	f := newFakeAWS(t, map[string]string{"10.1.0.0/16": testPrimaryENI, "10.3.0.0/16": testPrimaryENI})
	f.imdsFailures = 1
	m := baseMonitor()
	m.Links = m.Links[:1]
	m.HoldDownSeconds = MinHoldDownSeconds
	r := startMonitor(t, f, m, "VPCLINK_MONITOR_RETRY_SECONDS=1", "VPCLINK_MONITOR_RECONCILE_SECONDS=1")
	r.waitFor("the start", 4*time.Second, r.logged("link a-b: start -> primary"))
	if !r.logged("vpclink-monitor: reading the route table at start: IMDS token: HTTP 500; retry in 1 s\n")() {
		t.Errorf("no line about the failed start; output:\n%s", r.out.String())
	}
	r.waitFor("two quiet reconciliations", 4*time.Second, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.describes >= 3 })
	moved := time.Now()
	r.setRoute("10.3.0.0/16", testSecondaryENI)
	r.waitFor("the route moved back", 4*time.Second, func() bool { return r.route("10.3.0.0/16") == testPrimaryENI })
	t.Logf("moved back after %v", time.Since(moved).Round(time.Millisecond))
	r.waitFor("its log line", 2*time.Second, r.logged("link a-b: 10.3.0.0/16 "+testSecondaryENI+" -> "+testPrimaryENI+" (ReplaceRoute "))
	if cs := r.calls("10.1.0.0/16"); len(cs) != 0 {
		t.Errorf("calls for a route that never moved: %+v", cs)
	}
	if r.logged("DescribeRouteTables ok")() || r.logged(" already ")() {
		t.Errorf("a reconciliation logged what it did not change; output:\n%s", r.out.String())
	}
	// Both routes on the secondary ENI: the other monitor of the site
	// decided (it saw the tunnel fail where this one did not). This one
	// follows the table, calls nothing, and fails back only after a whole
	// hold-down of answered probes: two monitors never take turns.
	before := len(r.calls("10.1.0.0/16"))
	adopted := time.Now()
	r.setRoute("10.1.0.0/16", testSecondaryENI)
	r.setRoute("10.3.0.0/16", testSecondaryENI)
	r.waitFor("the table followed", 4*time.Second, r.logged("link a-b: routes found on "+testSecondaryENI+" (moved by the other monitor or by hand) -> secondary"))
	r.waitFor("the failback after the hold-down", time.Duration(m.HoldDownSeconds+5)*time.Second, func() bool { return r.route("10.1.0.0/16") == testPrimaryENI })
	if d := time.Since(adopted); d < time.Duration(m.HoldDownSeconds)*time.Second {
		t.Errorf("failback %v after the table was found on the secondary, before the hold-down", d)
	}
	if cs := r.calls("10.1.0.0/16"); len(cs) != before+1 {
		t.Errorf("calls for 10.1.0.0/16 after it was moved: %+v, want one (the failback)", cs[before:])
	}
	r.check()
}

// TestMonitorFailback: the failback at the monitor's removal moves every
// route to the primary ENI, with IMDS or, when the instance profile is
// already gone (turning high availability off takes it away before the
// monitor is removed), with the credentials the daemon kept (0600); with
// neither it says so and leaves the routes.
func TestMonitorFailback(t *testing.T) {
	f := newFakeAWS(t, map[string]string{"10.1.0.0/16": testSecondaryENI, "10.3.0.0/16": testSecondaryENI})
	m := baseMonitor()
	m.Links = m.Links[:1]
	r := startMonitor(t, f, m)
	r.waitFor("the start", 4*time.Second, r.logged("link a-b: start -> secondary"))
	if st, err := os.Stat(r.creds); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kept credentials: %v %v, want mode 0600", st, err)
	}
	f.mu.Lock()
	f.imdsFailures = 1000
	f.mu.Unlock()
	out, err := r.failback()
	if err != nil || !strings.Contains(out, "vpclink-monitor: failback: IMDS token: HTTP 500; using the credentials kept from the last IMDS answer") {
		t.Fatalf("failback without IMDS: %v\n%s", err, out)
	}
	for _, d := range []string{"10.1.0.0/16", "10.3.0.0/16"} {
		if got := r.route(d); got != testPrimaryENI {
			t.Errorf("%s on %s after the failback, want %s", d, got, testPrimaryENI)
		}
		if !strings.Contains(out, "link a-b: "+d+" "+testSecondaryENI+" -> "+testPrimaryENI+" (ReplaceRoute ") {
			t.Errorf("no log line for %s:\n%s", d, out)
		}
	}
	for _, secret := range []string{f.secret, f.token} {
		if strings.Contains(out, secret) {
			t.Error("the failback printed a secret")
		}
	}
	// Nothing left to move: no call.
	before := len(r.calls("10.1.0.0/16"))
	if out, err := r.failback(); err != nil || !strings.Contains(out, "10.1.0.0/16 already "+testPrimaryENI) || len(r.calls("10.1.0.0/16")) != before {
		t.Errorf("a second failback: %v\n%s", err, out)
	}
	// Neither IMDS nor kept credentials: it says so and changes nothing.
	if err := os.Remove(r.creds); err != nil {
		t.Fatal(err)
	}
	r.setRoute("10.1.0.0/16", testSecondaryENI)
	if out, err := r.failback(); err == nil || !strings.Contains(out, "routes left where they are") || r.route("10.1.0.0/16") != testSecondaryENI {
		t.Errorf("failback without any credentials: %v\n%s", err, out)
	}
}

// TestMonitorInstall runs the setup and the teardown in a fake host without
// systemd (as the local lab's hosts are): the daemon starts, a re-run
// changes nothing, a new configuration restarts it, the teardown removes
// everything, twice. The host has no IMDS: the daemon says so and retries.
func TestMonitorInstall(t *testing.T) {
	needRoot(t, "setsid", "curl")
	h := newFakeHost(t, "monitor", t.TempDir())
	m := baseMonitor()
	setup := func(m Monitor) (what, pid string) {
		t.Helper()
		script, err := MonitorScript(m)
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := h.run(Command("monitor", script), "")
		if err != nil {
			t.Fatalf("setup: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		re := regexp.MustCompile(`^vpclink-monitor: (started|unchanged) \(pid ([0-9]+)\): route table ` + testRTB +
			`, primary ` + testPrimaryENI + `, secondary ` + testSecondaryENI +
			`, hold-down [0-9]+ s, links a-b \(10\.254\.0\.2: 10\.1\.0\.0/16,10\.3\.0\.0/16\) a-c \(10\.254\.0\.6: 10\.2\.0\.0/16\)\n$`)
		g := re.FindStringSubmatch(stdout)
		if g == nil || stderr != "" {
			t.Fatalf("setup printed\nstdout: %q\nstderr: %q", stdout, stderr)
		}
		return g[1], g[2]
	}
	alive := func(pid string) bool {
		cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
		return err == nil && bytes.Contains(cmdline, []byte(MonitorPath))
	}

	what, pid := setup(m)
	if what != "started" || !alive(pid) {
		t.Fatalf("first setup: %s, pid %s alive %v", what, pid, alive(pid))
	}
	conf, _ := MonitorConfig(m)
	if h.read(MonitorConfigPath) != conf || h.read(MonitorPath) != MonitorDaemon() {
		t.Error("the configuration or the daemon on the host differs from what was rendered")
	}
	if what, again := setup(m); what != "unchanged" || again != pid {
		t.Errorf("second setup: %s, pid %s; want unchanged, pid %s", what, again, pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.read(MonitorLogPath), "retry in 5 s") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if log := h.read(MonitorLogPath); !strings.Contains(log, "vpclink-monitor: reading the route table at start: IMDS token: curl exit 7 (could not connect); retry in 5 s") {
		t.Errorf("the daemon's log does not say that IMDS is unreachable:\n%s", log)
	}

	m.HoldDownSeconds = 30
	what, next := setup(m)
	if what != "started" || next == pid || alive(pid) || !alive(next) {
		t.Errorf("setup with a new hold-down: %s, pid %s (old %s alive %v)", what, next, pid, alive(pid))
	}
	if !strings.Contains(h.read(MonitorConfigPath), "\nhold-down 30\n") {
		t.Error("the new configuration was not written")
	}

	teardown, err := MonitorTeardownScript()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		stdout, stderr, err := h.run(Command("monitor-teardown", teardown), "")
		// The first teardown tries the failback: no IMDS on this host and
		// no kept credentials, so it says so and goes on.
		want := "vpclink-monitor: removed\n"
		if i == 0 {
			want = "routes left where they are\nvpclink-monitor: failback at removal failed (above): the routes stay where they are; move them to the primary VPN instance by hand or run pulumi up --refresh\n" + want
		}
		if err != nil || !strings.HasSuffix(stdout, want) || stderr != "" {
			t.Fatalf("teardown %d: %v\nstdout: %q\nstderr: %q", i+1, err, stdout, stderr)
		}
	}
	if alive(next) {
		t.Error("the daemon still runs after the teardown")
	}
	for _, p := range []string{MonitorPath, MonitorConfigPath, MonitorConfigDir, MonitorPidPath, MonitorLogPath, MonitorCredentialsPath} {
		if h.exists(p) {
			t.Errorf("%s is left after the teardown", p)
		}
	}
}
