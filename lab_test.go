package main

// Tests of the whole program against the local lab: network namespaces
// emulating two regions, the real OpenVPN, real SSH. They need root; CI runs
// as root and installs the packages (.ci/run).

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab"
)

// labOptions gives each test lab its own prefix and tears it down after the
// test, failing it if anything is left behind.
func labOptions(t *testing.T) lab.Options {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network and mount namespaces); CI runs them as root")
	}
	if err := lab.Preflight(); err != nil {
		t.Fatalf("lab cannot run here: %v", err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	opts := lab.Options{Prefix: "vt" + hex.EncodeToString(b), Log: testLog{t}}
	t.Cleanup(func() {
		if err := lab.Down(opts); err != nil {
			t.Errorf("lab down: %v", err)
		}
		assertNothingLeft(t, opts)
	})
	return opts
}

// testLog sends lab progress to the test log (it never carries secrets).
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func assertNothingLeft(t *testing.T, opts lab.Options) {
	t.Helper()
	if ns, err := lab.Namespaces(opts); err != nil || len(ns) > 0 {
		t.Errorf("namespaces left behind: %v %v", ns, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), "/vpclink-lab/"+opts.Prefix) {
		t.Errorf("mounts of lab %s left behind", opts.Prefix)
	}
	if _, err := os.Stat(filepath.Join("/run/vpclink-lab", opts.Prefix)); err == nil {
		t.Errorf("state directory of lab %s left behind", opts.Prefix)
	}
}

// pingOK pings from host to dst once or twice.
func pingOK(h *lab.Host, dst string) bool {
	ok, _ := lab.Ping(h, dst)
	return ok
}

func mustHost(t *testing.T, s *lab.State, name string) *lab.Host {
	t.Helper()
	h := s.Host(name)
	if h == nil {
		t.Fatalf("no host %s in the lab", name)
	}
	return h
}

// checkWalkthrough asserts the walk-through's goal: ping both ways and
// traceroute showing VPN instance, tunnel far end, destination.
func checkWalkthrough(t *testing.T, s *lab.State, wantProbes int) {
	t.Helper()
	probes, err := lab.Check(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(probes) != wantProbes {
		t.Fatalf("%d probes, want %d", len(probes), wantProbes)
	}
	var report strings.Builder
	if failed := lab.Report(&report, probes); failed > 0 {
		t.Errorf("walk-through checks failed:\n%s", report.String())
	} else {
		t.Logf("walk-through checks:\n%s", report.String())
	}
}

func TestLabReferenceTopology(t *testing.T) {
	opts := labOptions(t)
	cfg := loadStack(t, "Pulumi.dev.yaml")

	// Before any tunnel: inside a VPC pings answer, across VPCs they do not.
	type result struct{ inVPC, crossVPC []bool }
	var before result
	hooks := lab.Hooks{BeforeTunnel: func(s *lab.State) {
		ta, va, tb := s.Host("a-terminal"), s.Host("a-vpn"), s.Host("b-terminal")
		if ta == nil || va == nil || tb == nil {
			return
		}
		before.inVPC = []bool{pingOK(ta, va.PrivateIP), pingOK(va, ta.PrivateIP)}
		before.crossVPC = []bool{pingOK(ta, tb.PrivateIP), pingOK(tb, ta.PrivateIP)}
	}}
	run, err := lab.Up(program, "dev", cfg, opts, hooks)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before.inVPC) != "[true true]" {
		t.Errorf("before the tunnel, pings inside VPC a: %v, want both answered", before.inVPC)
	}
	if fmt.Sprint(before.crossVPC) != "[false false]" {
		t.Errorf("before the tunnel, pings across VPCs: %v, want none answered", before.crossVPC)
	}
	s := run.State
	checkWalkthrough(t, s, 2)
	checkWalkthrough(t, s, 2) // `lab check` again at once: still three hops

	vpnA, vpnB := mustHost(t, s, "a-vpn"), mustHost(t, s, "b-vpn")
	termA, termB := mustHost(t, s, "a-terminal"), mustHost(t, s, "b-terminal")

	t.Run("security groups", func(t *testing.T) {
		// SSH: the operator gets in, a stranger on the internet does not.
		if err := lab.TCPProbe(opts, "op", vpnA.PublicIP, 22); err != nil {
			t.Errorf("operator cannot reach SSH of a-vpn: %v", err)
		}
		for _, h := range []*lab.Host{vpnA, termB} {
			if err := lab.TCPProbe(opts, "x", h.PublicIP, 22); err == nil {
				t.Errorf("a stranger reaches SSH of %s", h.Name)
			}
		}
		// The tunnel port: datagrams arrive from the peer VPN instance
		// only, counted inside the VPN host.
		counts, err := lab.UDPProbe(opts, vpnA, 1194, map[string]string{"stranger": "x", "peer": vpnB.Name}, s)
		if err != nil {
			t.Fatal(err)
		}
		if counts["stranger"] != 0 {
			t.Errorf("%d datagrams from a stranger reached the tunnel port", counts["stranger"])
		}
		if counts["peer"] == 0 {
			t.Error("no datagram from the peer VPN instance reached the tunnel port")
		}
	})

	t.Run("setup is idempotent, delete removes the tunnel, setup restores it", func(t *testing.T) {
		setup, check := run.Command("a-b-a-setup"), run.Command("a-b-a-check")
		if setup == nil || check == nil {
			t.Fatal("setup or check command missing")
		}
		state := func() string {
			out, err := lab.HostExec(vpnA, "sh", "-c", "cat /run/vpclink/a-b.pid; stat -c '%a %Y' /etc/openvpn/vpclink/a-b.key /etc/openvpn/vpclink/a-b.conf /etc/sysctl.d/60-vpclink.conf")
			if err != nil {
				t.Fatalf("reading tunnel state: %v", err)
			}
			return out
		}
		first := state()
		if !strings.Contains(first, "600 ") {
			t.Errorf("key file mode: %s", first)
		}
		time.Sleep(1100 * time.Millisecond) // a rewrite would change mtimes
		stdout, _, err := lab.Exec(opts, setup.Target, setup.Create, setup.Stdin)
		if err != nil {
			t.Fatalf("second setup: %v", err)
		}
		if second := state(); second != first {
			t.Errorf("second setup changed the host:\n%s\n%s", first, second)
		}
		if !strings.Contains(stdout, "tunnel vpn1194 up") {
			t.Errorf("second setup output: %q", stdout)
		}

		if _, _, err := lab.Exec(opts, setup.Target, setup.Delete, ""); err != nil {
			t.Fatalf("delete: %v", err)
		}
		gone, _ := lab.HostExec(vpnA, "sh", "-c", "ls /etc/openvpn/vpclink/* /etc/sysctl.d/60-vpclink.conf /run/vpclink/a-b.pid 2>/dev/null; cat /proc/sys/net/ipv4/ip_forward; ip -o link show vpn1194 2>/dev/null")
		if strings.TrimSpace(gone) != "0" {
			t.Errorf("after delete, left on a-vpn: %q", gone)
		}
		if pingOK(termA, termB.PrivateIP) {
			t.Error("cross-VPC ping answered with the tunnel deleted")
		}
		if !pingOK(termA, vpnA.PrivateIP) {
			t.Error("in-VPC ping failed with the tunnel deleted")
		}

		if _, _, err := lab.Exec(opts, setup.Target, setup.Create, setup.Stdin); err != nil {
			t.Fatalf("setup after delete: %v", err)
		}
		out, _, err := lab.Exec(opts, check.Target, check.Create, "")
		if err != nil || !strings.Contains(out, "3 received") {
			t.Errorf("post-deploy check after re-setup: %v %q", err, out)
		}
	})

	t.Run("the tunnel recovers from a peer restart and carries traffic through loss", func(t *testing.T) {
		// Kill b's OpenVPN outright, then start it again as its service
		// manager would (the setup converges to a running daemon).
		if out, err := lab.HostExec(vpnB, "sh", "-c", "kill -9 $(cat /run/vpclink/a-b.pid)"); err != nil {
			t.Fatalf("killing b's openvpn: %v %s", err, out)
		}
		if pingOK(termA, termB.PrivateIP) {
			t.Error("ping answered with b's OpenVPN dead")
		}
		setupB := run.Command("a-b-b-setup")
		start := time.Now()
		if _, _, err := lab.Exec(opts, setupB.Target, setupB.Create, setupB.Stdin); err != nil {
			t.Fatalf("restarting b: %v", err)
		}
		recovered, err := lab.TimeToFirstPing(termA, termB.PrivateIP, start, 30*time.Second)
		if err != nil {
			t.Fatalf("no recovery after b restarted: %v", err)
		}
		t.Logf("peer restart: first reply %.0f ms after b's setup started", recovered.Seconds()*1000)

		// 10% loss on the emulated internet, both ways.
		if err := lab.InternetLoss(opts, 10); err != nil {
			t.Fatal(err)
		}
		defer lab.InternetLoss(opts, 0)
		out, err := lab.HostExec(termA, "ping", "-n", "-q", "-c", "30", "-i", "0.05", "-W", "1", termB.PrivateIP)
		if err != nil {
			t.Errorf("no reply at all through 10%% loss: %v", err)
		}
		t.Logf("through 10%% loss: %s", strings.TrimSpace(out[strings.Index(out, "---"):]))
	})

	t.Run("a wrong key is refused and never printed", func(t *testing.T) {
		setup := run.Command("a-b-a-setup")
		bad := strings.Replace(setup.Stdin, "-----END", "deadbeef\n-----END", 1)
		stdout, stderr, err := lab.Exec(opts, setup.Target, setup.Create, bad)
		if err == nil {
			t.Fatal("setup accepted a malformed key")
		}
		for _, line := range strings.Split(setup.Stdin, "\n")[1:17] {
			if strings.Contains(stdout+stderr, line) {
				t.Fatal("setup printed key material")
			}
		}
		if !strings.Contains(stderr, "not an OpenVPN Static key V1") {
			t.Errorf("unclear error: %q", stderr)
		}
		if !pingOK(termB, termA.PrivateIP) {
			t.Error("a refused key broke the running tunnel")
		}
	})
}

func TestLabSecondTopology(t *testing.T) {
	opts := labOptions(t)
	cfg := loadStack(t, "testdata/Pulumi.lab-three-sites.yaml")
	run, err := lab.Up(program, "lab-three-sites", cfg, opts, lab.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	// Three sites in a mesh; only tokyo and virginia have terminals.
	if n := len(run.State.Links); n != 3 {
		t.Fatalf("%d links configured, want 3", n)
	}
	checkWalkthrough(t, run.State, 2)
	// The terminal-less site is reached through its VPN instance.
	sydney := mustHost(t, run.State, "sydney-vpn")
	if !pingOK(mustHost(t, run.State, "tokyo-terminal"), sydney.PrivateIP) {
		t.Error("tokyo-terminal cannot reach sydney-vpn across the tunnel")
	}
	var checks int
	for _, c := range run.Commands {
		if strings.HasSuffix(c.Name, "-check") {
			checks++
		}
	}
	if checks != 6 {
		t.Errorf("%d post-deploy checks ran, want 6", checks)
	}
}

func TestLabSourceDestCheckEnforced(t *testing.T) {
	opts := labOptions(t)
	opts.SourceDestCheckOn = []string{"a-vpn"}
	cfg := loadStack(t, "Pulumi.dev.yaml")
	// The program's own check would (rightly) fail `up`: look ourselves.
	cfg["vpclink:postDeployCheck"] = "false"
	run, err := lab.Up(program, "dev", cfg, opts, lab.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	s := run.State
	termA, termB, vpnA := mustHost(t, s, "a-terminal"), mustHost(t, s, "b-terminal"), mustHost(t, s, "a-vpn")
	if pingOK(termA, termB.PrivateIP) || pingOK(termB, termA.PrivateIP) {
		t.Error("cross-VPC ping answered although a-vpn keeps its source/destination check")
	}
	if !pingOK(termA, vpnA.PrivateIP) {
		t.Error("in-VPC ping failed: the fault should only stop forwarding")
	}
	// The tunnel itself is up: the VPN instances reach each other.
	vpnB := mustHost(t, s, "b-vpn")
	if out, err := lab.HostExec(vpnA, "ping", "-n", "-c", "2", "-W", "2", "-I", vpnA.PrivateIP, vpnB.PrivateIP); err != nil {
		t.Errorf("VPN instances cannot reach each other through the tunnel: %v\n%s", err, out)
	}
}

// A tunnel that carries no traffic fails `up` through the post-deploy
// check, and `down` still removes everything (checked by labOptions).
func TestLabFailedUpIsReportedAndCleanedUp(t *testing.T) {
	opts := labOptions(t)
	opts.SourceDestCheckOn = []string{"b-vpn"}
	_, err := lab.Up(program, "dev", loadStack(t, "Pulumi.dev.yaml"), opts, lab.Hooks{})
	if err == nil {
		t.Fatal("up succeeded although b-vpn cannot forward")
	}
	if !strings.Contains(err.Error(), "-check") || !strings.Contains(err.Error(), "no reply after") {
		t.Errorf("up failed for another reason: %v", err)
	}
}

// The setup script's systemd branch, the one real VMs take, against a
// stand-in systemctl that verifies units with systemd-analyze and runs
// their ExecStart.
func TestLabSystemdBranch(t *testing.T) {
	opts := labOptions(t)
	opts.StubSystemd = true
	run, err := lab.Up(program, "dev", loadStack(t, "Pulumi.dev.yaml"), opts, lab.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	checkWalkthrough(t, run.State, 2)
	vpnA := mustHost(t, run.State, "a-vpn")
	calls := func() string {
		out, _ := lab.HostExec(vpnA, "cat", "/run/stub-systemd/calls")
		return out
	}
	first := calls()
	for _, want := range []string{"systemctl daemon-reload", "systemctl enable -q vpclink-a-b.service", "systemctl restart vpclink-a-b.service"} {
		if !strings.Contains(first, want+"\n") {
			t.Errorf("setup did not call %q; calls:\n%s", want, first)
		}
	}
	if out, err := lab.HostExec(vpnA, "sh", "-c", "test -L /etc/systemd/system/multi-user.target.wants/vpclink-a-b.service && ! test -e /run/vpclink/a-b.pid && echo ok"); err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("unit not enabled at boot, or the no-systemd fallback ran: %v %q", err, out)
	}

	setup := run.Command("a-b-a-setup")
	if _, _, err := lab.Exec(opts, setup.Target, setup.Create, setup.Stdin); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	again := strings.TrimPrefix(calls(), first)
	if strings.Contains(again, "restart") || strings.Contains(again, "daemon-reload") {
		t.Errorf("an unchanged second setup restarted or reloaded:\n%s", again)
	}

	if _, _, err := lab.Exec(opts, setup.Target, setup.Delete, ""); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if !strings.Contains(calls(), "systemctl disable --now vpclink-a-b.service\n") {
		t.Errorf("delete did not stop and disable the unit:\n%s", calls())
	}
	left, _ := lab.HostExec(vpnA, "sh", "-c", "ls /etc/systemd/system/vpclink-* /etc/systemd/system/*.wants/vpclink-* /etc/openvpn/vpclink 2>/dev/null; ip -o link show vpn1194 2>/dev/null")
	if strings.TrimSpace(left) != "" {
		t.Errorf("left after delete: %q", left)
	}
}
