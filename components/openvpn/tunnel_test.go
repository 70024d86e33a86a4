package openvpn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ensureOpenVPN finds the openvpn binary, installing Debian's package when
// it is missing (root only); it skips the test when that fails.
func ensureOpenVPN(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openvpn"); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "openvpn")
	c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := c.CombinedOutput(); err != nil {
		t.Skipf("openvpn is missing and apt-get install openvpn failed: %v\n%s", err, out)
	}
}

// tunnelEnds is a link "a-b" between two fake hosts joined by a veth pair.
type tunnelEnds struct {
	t     *testing.T
	hosts [2]*fakeHost
	key   string
}

var endAddr = [2]string{"198.51.100.1", "198.51.100.2"}
var endTunnelIP = [2]string{"10.254.0.1", "10.254.0.2"}
var endNetwork = [2]string{"10.0.0.0/16", "10.1.0.0/16"}

const testLink = "a-b"

func (e *tunnelEnds) tunnel(i int, mode Mode, peerFingerprint string, reneg int) Tunnel {
	return Tunnel{Name: testLink, Port: 1194, RemoteAddress: endAddr[1-i],
		LocalTunnelIP: endTunnelIP[i], RemoteTunnelIP: endTunnelIP[1-i], RemoteNetworks: []string{endNetwork[1-i]},
		KeyDirection: i, MTU: 1400, Mode: mode, TLSServer: i == 0, PeerFingerprint: peerFingerprint, RenegSeconds: reneg}
}

// setup runs end i's setup script (the Command line pulumi-command sends,
// the key on standard input).
func (e *tunnelEnds) setup(i int, tu Tunnel) string {
	e.t.Helper()
	script, err := SetupScript(tu)
	if err != nil {
		e.t.Fatal(err)
	}
	out, stderr, err := e.hosts[i].run(Command("setup", script), e.key)
	if err != nil {
		e.t.Fatalf("setup on %s: %v\n%s%s", e.hosts[i].name, err, out, stderr)
	}
	return out
}

// both runs f for both ends in parallel, as Pulumi does for the two regions.
func both(f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}

// identity runs the identity step on end i and returns its fingerprint.
func (e *tunnelEnds) identity(i int) string {
	e.t.Helper()
	script, err := IdentityScript(testLink, testLink+"-"+e.hosts[i].name)
	if err != nil {
		e.t.Fatal(err)
	}
	out, stderr, err := e.hosts[i].run(Command("identity", script), "")
	if err != nil {
		e.t.Errorf("identity on %s: %v\n%s", e.hosts[i].name, err, stderr)
		return ""
	}
	fp, err := ParseFingerprint(out)
	if err != nil {
		e.t.Errorf("identity on %s: %v", e.hosts[i].name, err)
	}
	return fp
}

func (e *tunnelEnds) deleteIdentity(i int) {
	e.t.Helper()
	script, _ := IdentityDeleteScript(testLink)
	if _, stderr, err := e.hosts[i].run(Command("identity-delete", script), ""); err != nil {
		e.t.Fatalf("identity delete on %s: %v\n%s", e.hosts[i].name, err, stderr)
	}
}

// firstReply pings end 1-i's tunnel address from end i every 20 ms until the
// first reply, and returns when it came.
func (e *tunnelEnds) firstReply(i int) time.Time {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := e.hosts[i].cmd(ctx, "ping", "-n", "-i", "0.02", "-c", "1", "-w", "15", endTunnelIP[1-i]).CombinedOutput()
	if err != nil {
		e.t.Fatalf("no ping reply from %s to %s: %v\n%s\nlog of %s:\n%s", e.hosts[i].name, endTunnelIP[1-i], err, out, e.hosts[i].name, e.log(i))
	}
	return time.Now()
}

// pings sends n pings every interval from end i and returns how many were
// answered.
func (e *tunnelEnds) pings(i, n int, interval string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, _ := e.hosts[i].cmd(ctx, "ping", "-n", "-i", interval, "-c", strconv.Itoa(n), "-W", "1", endTunnelIP[1-i]).CombinedOutput()
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(string(out))
	if m == nil {
		e.t.Fatalf("ping output: %s", out)
	}
	got, _ := strconv.Atoi(m[2])
	return got
}

func (e *tunnelEnds) log(i int) string { return e.hosts[i].read(RunDir + "/" + testLink + ".log") }

// waitLog waits until end i's file path, past offset, contains want.
func (e *tunnelEnds) waitLog(i int, path string, offset int, want string, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := e.hosts[i].read(path)
		if len(s) >= offset && strings.Contains(s[offset:], want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %s does not say %q within %v:\n%s", e.hosts[i].name, path, want, within, s[min(offset, len(s)):])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopDaemon kills end i's openvpn by the PID in its pid file (a stand-in
// for a crash, an instance replacement or a forger taking its place).
func (e *tunnelEnds) stopDaemon(i int, pidFile string) {
	e.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(e.hosts[i].read(pidFile)))
	if err != nil || pid <= 1 {
		e.t.Fatalf("%s: no pid in %s", e.hosts[i].name, pidFile)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// Gone, not just a zombie: the setup's own check is kill -0, and
		// this machine's PID 1 may reap orphans seconds late.
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
	}
	e.t.Fatalf("%s: openvpn %d does not stop", e.hosts[i].name, pid)
}

// forge starts, on end i in place of its daemon, an openvpn with end i's
// configuration (so from the peer's expected address and port) but another
// key: what reaches the peer is datagrams from the right address that do
// not carry the link's key.
func (e *tunnelEnds) forge(i int, conf, keyDirective string) {
	e.t.Helper()
	h := e.hosts[i]
	var lines []string
	for _, l := range strings.Split(conf, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == keyDirective {
			f[1] = "/run/vt8-forge.key"
			l = strings.Join(f, " ")
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(h.path("/run/vt8-forge.key"), []byte(testStaticKey(e.t)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(h.path("/run/vt8-forge.conf"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := h.cmd(ctx, "openvpn", "--daemon", "vt8-forge", "--writepid", "/run/vt8-forge.pid", "--log", "/run/vt8-forge.log", "--config", "/run/vt8-forge.conf").CombinedOutput(); err != nil {
		e.t.Fatalf("forger: %v\n%s", err, out)
	}
}

// TestTunnelNamespaces runs the real OpenVPN with the rendered
// configurations, set up by the real setup and identity scripts, between two
// fake hosts (see fakeHost) joined by a veth pair: static mode, the switch
// to TLS mode, TLS checks (wrong certificate, wrong tls-crypt key,
// renegotiation under traffic), the switch back, and teardown.
func TestTunnelNamespaces(t *testing.T) {
	needRoot(t, "ping", "openssl")
	ensureOpenVPN(t)
	start := time.Now()
	e := &tunnelEnds{t: t, key: testStaticKey(t)}
	e.hosts[0], e.hosts[1] = newFakeHost(t, "a", ""), newFakeHost(t, "b", "")
	prefix := "vt8" + randomHex(t, 3)
	if out, err := exec.Command("ip", "link", "add", prefix+"a", "netns", strconv.Itoa(e.hosts[0].pid), "type", "veth",
		"peer", "name", prefix+"b", "netns", strconv.Itoa(e.hosts[1].pid)).CombinedOutput(); err != nil {
		t.Fatalf("veth: %v\n%s", err, out)
	}
	for i, h := range e.hosts {
		dev := prefix + string("ab"[i])
		h.must(fmt.Sprintf("ip addr add %s/24 dev %s && ip link set %s up", endAddr[i], dev, dev))
	}
	// b routed before vpclink came: teardown must leave forwarding on there.
	e.hosts[1].must("sysctl -q -w net.ipv4.ip_forward=1")

	// Static mode.
	t0 := time.Now()
	var out [2]string
	both(func(i int) { out[i] = e.setup(i, e.tunnel(i, ModeStatic, "", 0)) })
	setupDone := time.Since(t0)
	reply := e.firstReply(0).Sub(t0)
	// Static mode is never offloaded, and the setup says why in OpenVPN's words.
	for i := range e.hosts {
		if !strings.Contains(out[i], "data channel offload: no (Note: --data-ciphers-fallback with cipher 'AES-256-CBC' disables data channel offload.)") {
			t.Errorf("%s: static setup output: %q", e.hosts[i].name, out[i])
		}
	}
	t.Logf("static: both setups %v, first reply %v after the setups started (%v after they finished)", setupDone.Round(time.Millisecond), reply.Round(time.Millisecond), (reply - setupDone).Round(time.Millisecond))
	if got := e.pings(1, 3, "0.2"); got != 3 {
		t.Errorf("static: b -> a: %d of 3 pings answered", got)
	}
	e.stopDaemon(1, RunDir+"/"+testLink+".pid")
	confB, _ := RenderConfig(e.tunnel(1, ModeStatic, "", 0))
	off := len(e.log(0))
	e.forge(1, confB, "secret")
	e.waitLog(0, RunDir+"/"+testLink+".log", off, "packet HMAC authentication failed", 10*time.Second)
	e.stopDaemon(1, "/run/vt8-forge.pid")
	e.setup(1, e.tunnel(1, ModeStatic, "", 0)) // the unchanged setup restarts the daemon

	// Switch to TLS, as one `pulumi up` does: identities, then setups.
	t0 = time.Now()
	var fp [2]string
	both(func(i int) { fp[i] = e.identity(i) })
	idDone := time.Since(t0)
	if t.Failed() {
		t.FailNow()
	}
	for i, h := range e.hosts {
		out := h.must("openssl x509 -in " + CertPath(testLink) + " -noout -fingerprint -sha256")
		if !strings.HasSuffix(strings.TrimSpace(out), "="+fp[i]) {
			t.Errorf("%s: identity printed %s, openssl says %s", h.name, fp[i], out)
		}
		if m := strings.TrimSpace(h.must("stat -c %a " + CertKeyPath(testLink))); m != "600" {
			t.Errorf("%s: key mode %s", h.name, m)
		}
	}
	logOff := [2]int{len(e.log(0)), len(e.log(1))}
	t1 := time.Now()
	both(func(i int) { out[i] = e.setup(i, e.tunnel(i, ModeTLS, fp[1-i], 10)) })
	setupDone = time.Since(t1)
	// TLS mode: the only reason not to offload is the kernel's (this
	// machine has no ovpn module), never an option of ours.
	for i, h := range e.hosts {
		m := regexp.MustCompile(`data channel offload: (yes|no) \((.*)\)`).FindStringSubmatch(out[i])
		switch {
		case m == nil:
			t.Errorf("%s: no offload report in %q", h.name, out[i])
		case m[1] == "no" && m[2] != DCOKernelMissing26 && !strings.HasPrefix(m[2], DCOKernelMissing27):
			t.Errorf("%s: not offloaded for a reason other than the kernel's: %s", h.name, m[2])
		default:
			t.Logf("%s: data channel offload: %s (%s)", h.name, m[1], m[2])
		}
		// The MSS clamp: MTU 1400 allows 1360, both ways through vpn1194.
		rules := h.must("nft list table inet " + NftTable(testLink))
		for _, want := range []string{`oifname "vpn1194"`, `iifname "vpn1194"`, "maxseg size set 1360"} {
			if !strings.Contains(rules, want) {
				t.Errorf("%s: clamp lacks %q:\n%s", h.name, want, rules)
			}
		}
	}
	reply = e.firstReply(0).Sub(t1)
	t.Logf("tls: both identities %v, both setups %v, first reply %v after the setups started (%v after they finished, %v after the identities started)",
		idDone.Round(time.Millisecond), setupDone.Round(time.Millisecond), reply.Round(time.Millisecond), (reply - setupDone).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	for i := range e.hosts {
		e.waitLog(i, RunDir+"/"+testLink+".log", logOff[i], "Control Channel: TLSv1.3, cipher TLSv1.3 TLS_AES_256_GCM_SHA384", 5*time.Second)
		e.waitLog(i, RunDir+"/"+testLink+".log", logOff[i], "cipher=AES-256-GCM", 5*time.Second)
		tlsLog := e.log(i)[logOff[i]:]
		for _, bad := range []string{"WARNING", "DEPRECATED", "deprecated", "Options error"} {
			if strings.Contains(tlsLog, bad) {
				t.Errorf("%s: TLS mode log says %q:\n%s", e.hosts[i].name, bad, tlsLog)
			}
		}
	}
	// A second setup changes nothing (same daemon, same files).
	state := func() string {
		return e.hosts[0].must("cat " + RunDir + "/" + testLink + ".pid; stat -c '%n %a %Y' " + ConfigPath(testLink) + " " + KeyPath(testLink) + " " + CertPath(testLink) + " " + CertKeyPath(testLink))
	}
	state = func(f func() string) func() string {
		return func() string { return f() + e.hosts[0].must("nft list table inet "+NftTable(testLink)) }
	}(state)
	before := state()
	if out := e.setup(0, e.tunnel(0, ModeTLS, fp[1], 10)); !strings.Contains(out, "tls mode") {
		t.Errorf("setup output: %q", out)
	}
	if after := state(); after != before {
		t.Errorf("second TLS setup changed the host:\n%s---\n%s", before, after)
	}

	// Renegotiation (reneg-sec 10) under a 5/s ping.
	handshakes := func() int {
		return strings.Count(e.log(0)[logOff[0]:], "Control Channel: TLSv1.3")
	}
	h0 := handshakes()
	const n = 110
	got := e.pings(0, n, "0.2")
	renegs := handshakes() - h0
	t.Logf("tls: %d renegotiations during %d pings at 0.2 s: %d lost", renegs, n, n-got)
	if renegs < 2 {
		t.Errorf("only %d renegotiations in %d s with reneg-sec 10", renegs, n/5)
	}
	if n-got > 2 {
		t.Errorf("%d of %d pings lost during renegotiation", n-got, n)
	}

	// A changed MTU updates the clamp (and nothing else is left of the old
	// one); back to 1400 for what follows.
	for _, mtu := range []int{1300, 1400} {
		tu := e.tunnel(0, ModeTLS, fp[1], 10)
		tu.MTU = mtu
		e.setup(0, tu)
		rules := e.hosts[0].must("nft list ruleset")
		if want := fmt.Sprintf("maxseg size set %d", mtu-40); !strings.Contains(rules, want) || strings.Count(rules, "table inet "+NftTable(testLink)) != 1 || strings.Count(rules, "maxseg size set") != 4 {
			t.Errorf("MTU %d: want one table with %q:\n%s", mtu, want, rules)
		}
	}

	// A peer with another certificate is refused (b gets a new identity,
	// as a replaced instance would, while a still pins the old one).
	e.stopDaemon(1, RunDir+"/"+testLink+".pid")
	e.deleteIdentity(1)
	if e.hosts[1].exists(CertPath(testLink)) || e.hosts[1].exists(CertKeyPath(testLink)) {
		t.Error("identity delete left the certificate or key")
	}
	newFP := e.identity(1)
	if newFP == fp[1] || newFP == "" {
		t.Fatalf("a new identity has the old fingerprint %s", newFP)
	}
	off = len(e.log(0))
	e.setup(1, e.tunnel(1, ModeTLS, fp[0], 10))
	e.waitLog(0, RunDir+"/"+testLink+".log", off, "--peer-fingerprint certificate hash verification failed", 10*time.Second)
	if !strings.Contains(e.log(0)[off:], strings.ToLower(newFP)) && !strings.Contains(e.log(0)[off:], newFP) {
		t.Logf("a's log does not name the refused fingerprint %s", newFP)
	}
	if got := e.pings(0, 2, "0.5"); got != 0 {
		t.Errorf("%d pings answered through a peer with the wrong certificate", got)
	}
	// The update Pulumi makes next: a's setup with b's new fingerprint. b,
	// the TLS client, saw its handshake complete (TLS 1.3: the server
	// checks the client's certificate last) and would wait out
	// hand-window (60 s) before a new one; in a replacement b's daemon
	// is new too, so restart it here.
	t2 := time.Now()
	e.setup(0, e.tunnel(0, ModeTLS, newFP, 10))
	e.stopDaemon(1, RunDir+"/"+testLink+".pid")
	e.setup(1, e.tunnel(1, ModeTLS, fp[0], 10))
	t.Logf("tls: after b's new identity, both setups and first reply in %v", e.firstReply(0).Sub(t2).Round(time.Millisecond))
	fp[1] = newFP

	// Datagrams from b's address without the tls-crypt key are dropped
	// before TLS.
	e.stopDaemon(1, RunDir+"/"+testLink+".pid")
	confB, _ = RenderConfig(e.tunnel(1, ModeTLS, fp[0], 10))
	off = len(e.log(0))
	e.forge(1, confB, "tls-crypt")
	e.waitLog(0, RunDir+"/"+testLink+".log", off, "tls-crypt unwrap error: packet authentication failed", 10*time.Second)
	if strings.Contains(e.log(0)[off:], "VERIFY") {
		t.Error("a forged packet reached certificate verification")
	}
	e.stopDaemon(1, "/run/vt8-forge.pid")
	e.setup(1, e.tunnel(1, ModeTLS, fp[0], 10))
	e.firstReply(1)

	// Back to static: setups first, then the identities' delete (Pulumi
	// deletes the identity commands after updating the setups).
	t3 := time.Now()
	both(func(i int) { e.setup(i, e.tunnel(i, ModeStatic, "", 0)) })
	both(func(i int) { e.deleteIdentity(i) })
	t.Logf("back to static: first reply %v after the setups started", e.firstReply(0).Sub(t3).Round(time.Millisecond))
	for _, h := range e.hosts {
		if h.exists(CertPath(testLink)) || h.exists(CertKeyPath(testLink)) || strings.Contains(h.read(ConfigPath(testLink)), "tls-") {
			t.Errorf("%s: TLS leftovers after the switch to static", h.name)
		}
	}

	// Teardown: nothing left, forwarding as it was before.
	both(func(i int) {
		script, _ := TeardownScript(e.tunnel(i, ModeStatic, "", 0))
		if _, stderr, err := e.hosts[i].run(Command("teardown", script), ""); err != nil {
			t.Errorf("teardown on %s: %v\n%s", e.hosts[i].name, err, stderr)
		}
	})
	for i, h := range e.hosts {
		left := h.must("ls -A " + ConfigDir + " " + SysctlPath + " " + RunDir + "/" + testLink + ".pid 2>/dev/null; ip -o link show " + DeviceName(1194) + " 2>/dev/null; nft list tables | grep vpclink; true")
		if strings.TrimSpace(left) != "" {
			t.Errorf("%s: left after teardown: %q", h.name, left)
		}
		if want := []string{"0", "1"}[i]; h.forwarding() != want {
			t.Errorf("%s: ip_forward %s after teardown, want %s (its value before)", h.name, h.forwarding(), want)
		}
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}
