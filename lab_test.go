package main

// Tests of the whole program under the real Pulumi CLI and engine against
// the local lab, with the lab's stand-ins for the rest (lab/plugins): the Go
// language host, the command plugin (real SSH), the random plugin, and AWS
// emulated over network namespaces with the real OpenVPN on booted hosts. They need root; CI runs as root and installs what
// they need (.ci/run).

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/driver"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/image"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// testLog sends lab progress and the CLI's output to the test log, and
// keeps a copy: the secrets test searches it.
type testLog struct {
	t   *testing.T
	all *strings.Builder
}

func (l testLog) Write(p []byte) (int, error) {
	l.all.Write(p)
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newLab returns a lab with its own prefix for stackFile, prepared (world
// and stack, nothing deployed), and removes it after the test, failing the
// test if anything is left behind.
func newLab(t *testing.T, stackFile string) (*driver.Lab, *strings.Builder) {
	t.Helper()
	return newLabWith(t, driver.Options{StackFile: stackFile})
}

func newLabWith(t *testing.T, o driver.Options) (*driver.Lab, *strings.Builder) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network and mount namespaces); CI runs them as root")
	}
	b := make([]byte, 3)
	rand.Read(b)
	logged := &strings.Builder{}
	o.Prefix, o.Log = "vt"+hex.EncodeToString(b), testLog{t, logged}
	l, err := driver.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		assertNothingLeft(t, l.World)
	})
	if err := l.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l, logged
}

func assertNothingLeft(t *testing.T, w *world.World) {
	t.Helper()
	if ns, err := w.Namespaces(); err != nil || len(ns) > 0 {
		t.Errorf("namespaces left behind: %v %v", ns, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), w.Dir) {
		t.Errorf("mounts of lab %s left behind", w.Prefix)
	}
	if _, err := os.Stat(w.Dir); err == nil {
		t.Errorf("state directory of lab %s left behind", w.Prefix)
	}
}

func runPulumi(t *testing.T, l *driver.Lab, args ...string) string {
	t.Helper()
	out, err := l.Pulumi(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// walkthrough asserts the walk-through's goal: ping both ways and traceroute
// showing VPN instance, tunnel far end, destination.
func walkthrough(t *testing.T, l *driver.Lab, wantProbes int) []checks.Link {
	t.Helper()
	probes, links, err := l.Probes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(probes) != wantProbes {
		t.Fatalf("%d probes, want %d", len(probes), wantProbes)
	}
	var report strings.Builder
	if failed := checks.Report(&report, probes); failed > 0 {
		t.Errorf("walk-through checks failed:\n%s", report.String())
	} else {
		t.Logf("walk-through checks:\n%s", report.String())
	}
	return links
}

func pingOK(h *world.Host, dst string) bool {
	ok, _ := checks.Ping(h, dst)
	return ok
}

// previewSteps runs `pulumi preview --json` and returns the operation of
// every resource step by the resource's name (same steps are left out).
func previewSteps(t *testing.T, l *driver.Lab, args ...string) map[string]string {
	t.Helper()
	cmd := l.Command(context.Background(), append([]string{"preview", "--json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi preview --json: %v\n%s", err, out)
	}
	var p struct {
		Steps []struct {
			Op  string `json:"op"`
			URN string `json:"urn"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("preview output: %v\n%s", err, out)
	}
	steps := map[string]string{}
	for _, s := range p.Steps {
		if s.Op == "same" {
			continue
		}
		name := s.URN[strings.LastIndex(s.URN, "::")+2:]
		if prev, ok := steps[name]; ok {
			steps[name] = prev + "," + s.Op
		} else {
			steps[name] = s.Op
		}
	}
	return steps
}

// assertDestroyed: after destroy, nothing is left in the stack's state or
// in the emulated AWS.
func assertDestroyed(t *testing.T, l *driver.Lab) {
	t.Helper()
	if n := stackResources(t, l); n != 0 {
		t.Errorf("%d resources left in the stack", n)
	}
	m, err := l.World.Load()
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Count(); n != 0 {
		t.Errorf("%d objects left in the emulated AWS", n)
	}
}

// stackResources is the number of resources in the stack's state.
func stackResources(t *testing.T, l *driver.Lab) int {
	t.Helper()
	cmd := l.Command(context.Background(), "stack", "export")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi stack export: %v", err)
	}
	var d struct {
		Deployment struct {
			Resources []json.RawMessage `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return len(d.Deployment.Resources)
}

// secretValues returns every secret of the stack: the stack's own view of
// its secrets (`stack export --show-secrets`, kept in memory only), plus the
// static keys as the hosts hold them.
func secretValues(t *testing.T, l *driver.Lab) []string {
	t.Helper()
	out, err := l.Command(context.Background(), "stack", "export", "--show-secrets").Output()
	if err != nil {
		t.Fatalf("stack export --show-secrets: %v", err)
	}
	var d struct {
		Deployment struct {
			Resources []struct {
				Type    string         `json:"type"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, r := range d.Deployment.Resources {
		if r.Type == "random:index/randomPassword:RandomPassword" {
			h, _ := r.Outputs["result"].(string)
			if m, ok := r.Outputs["result"].(map[string]any); ok {
				// A secret in an export: {"<sig>": ..., "plaintext": "<json>"}.
				p, _ := m["plaintext"].(string)
				json.Unmarshal([]byte(p), &h)
			}
			if len(h) < 64 {
				t.Fatalf("random secret of %d characters is too short", len(h))
			}
			secrets = append(secrets, h)
			if b, err := hex.DecodeString(h); err == nil {
				secrets = append(secrets, base64.StdEncoding.EncodeToString(b), strings.ToUpper(h))
			}
			// Every 32-hex line of a V1 key file.
			for i := 0; i+32 <= len(h); i += 32 {
				secrets = append(secrets, h[i:i+32])
			}
		}
	}
	key, err := l.Command(context.Background(), "stack", "output", "--show-secrets", "sshPrivateKey").Output()
	if err != nil {
		t.Fatalf("stack output sshPrivateKey: %v", err)
	}
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) > 40 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("only %d secret values found", len(secrets))
	}
	return secrets
}

// searchSecrets returns where any of secrets occurs in the files under dirs
// and in the texts.
func searchSecrets(t *testing.T, secrets []string, dirs []string, texts map[string]string) []string {
	t.Helper()
	var hits []string
	look := func(where, content string) {
		for _, s := range secrets {
			if strings.Contains(content, s) {
				hits = append(hits, fmt.Sprintf("%s holds %s...", where, s[:8]))
			}
		}
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Type()&fs.ModeType != 0 {
				return nil
			}
			if info, _ := d.Info(); info == nil || info.Size() > 50<<20 {
				return nil
			}
			b, _ := os.ReadFile(p)
			look(p, string(b))
			return nil
		})
	}
	for name, text := range texts {
		look(name, text)
	}
	return hits
}

// TestLabReferenceTopology deploys the reference stack with the real CLI
// and walks it through what users do: up, up again, a change, destroy.
func TestLabReferenceTopology(t *testing.T) {
	// Much of this test waits (SSH dial budgets, restarts, fault windows):
	// it runs beside the change matrix, on a lab of its own.
	t.Parallel()
	l, logged := newLab(t, "Pulumi.dev.yaml")
	upOut := runPulumi(t, l, "up", "--yes", "--skip-preview")
	assertNoWarnings(t, "the first up", upOut)
	links := walkthrough(t, l, 2)
	walkthrough(t, l, 2) // a second check at once: still three hops
	link := links[0]
	vpnA, vpnB := link.VPN[0], link.VPN[1]
	termA, termB := link.Terminals[0], link.Terminals[1]

	t.Run("the README's lab hand-check runs as printed", func(t *testing.T) {
		block, err := driver.HandCheck(l.Repo, l.World.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		// As a user runs it from the repository; the files it writes go to
		// a directory of the test's.
		block = strings.ReplaceAll(block, "scripts/lab ", filepath.Join(l.Repo, "scripts", "lab")+" ")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the README's hand-check failed: %v\n%s\n%s", err, block, out)
		}
		for _, want := range []string{"3 packets transmitted, 3 received", " 10.0.0.10 ", " 10.254.0.2 ", " 10.1.1.40 "} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the hand-check's output has no %q:\n%s", want, out)
			}
		}
	})

	t.Run("a second up changes nothing", func(t *testing.T) {
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	})

	t.Run("offload: only the kernel module is missing; TCP MSS is clamped to the tunnel MTU", func(t *testing.T) {
		// Each end's OpenVPN (trixie 2.6.14, sid 2.7.8) says in this start's
		// log why it does not offload: the kernel's reason, never an option.
		disabled := regexp.MustCompile(openvpn.DCODisabledPattern)
		for _, h := range []*world.Host{vpnA, vpnB} {
			out, err := h.Exec("bash", "-c", "openvpn --version | head -n 1; journalctl -q -o cat --no-pager _SYSTEMD_INVOCATION_ID=$(systemctl show -p InvocationID --value vpclink-"+link.Name+".service)")
			if err != nil {
				t.Fatalf("%s: %v %s", h.Name, err, out)
			}
			var reasons []string
			for _, line := range strings.Split(out, "\n") {
				if disabled.MatchString(line) || strings.HasPrefix(line, openvpn.DCOOpened) {
					reasons = append(reasons, line)
				}
			}
			version, _, _ := strings.Cut(out, "\n")
			want := openvpn.DCOKernelMissing26
			if !strings.HasPrefix(version, "OpenVPN 2.6.") {
				want = openvpn.DCOKernelMissing27
			}
			if len(reasons) != 1 || !strings.HasPrefix(reasons[0], want) {
				t.Errorf("%s (%s): offload lines %q, want only %q", h.Name, version, reasons, want)
			}
			t.Logf("%s: %s: %s", h.Name, strings.Join(strings.Fields(version)[:2], " "), strings.Join(reasons, " | "))
		}
		// The stack output says the same, per site.
		outs, err := l.Outputs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		offload, _ := outs["links"].(map[string]any)[link.Name].(map[string]any)["dataChannelOffload"].(map[string]any)
		for site, want := range map[string]string{"a": openvpn.DCOKernelMissing26, "b": openvpn.DCOKernelMissing27} {
			if got, _ := offload[site].(string); !strings.HasPrefix(got, "no ("+want) {
				t.Errorf("output links.%s.dataChannelOffload.%s = %q, want no (%s...)", link.Name, site, got, want)
			}
		}
		// The MSS a SYN arrives with, through the tunnel (MTU 1400): with
		// the clamp, and with both ends' clamp tables removed.
		mss := func() (atB, atA int) {
			t.Helper()
			const port = 5202
			open := fmt.Sprintf("nft insert rule inet vpclab_eni ingress tcp dport %d accept comment mss-test", port)
			if o, err := world.Run("ip", "netns", "exec", termB.NetNS, "bash", "-c", open); err != nil {
				t.Fatalf("%v %s", err, o)
			}
			defer world.Run("ip", "netns", "exec", termB.NetNS, "bash", "-c",
				"for x in $(nft -a list chain inet vpclab_eni ingress | sed -n 's/.*comment \"mss-test\" # handle \\([0-9]*\\)/\\1/p'); do nft delete rule inet vpclab_eni ingress handle $x; done")
			// B prints the MSS its accepted socket learned from A's SYN
			// (TCP_MAXSEG, less 12 for timestamps); A's ss the one from B's SYN-ACK.
			got := make(chan string, 1)
			go func() {
				o, err := termB.Exec("python3", "-c", fmt.Sprintf(`import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("", %d)); s.listen(); s.settimeout(20)
c, _ = s.accept(); print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)); c.close()`, port))
				if err != nil {
					o = err.Error() + " " + o
				}
				got <- o
			}()
			o, err := termA.Exec("bash", "-c", fmt.Sprintf(`for i in $(seq 100); do { exec 3<>/dev/tcp/%s/%d; } 2>/dev/null && break; sleep 0.1; done
ss -Htin dst %s and dport = :%d | grep -o ' mss:[0-9]*' | cut -d: -f2; exec 3>&-`, termB.PrivateIP, port, termB.PrivateIP, port))
			b := <-got
			atB, errB := strconv.Atoi(strings.TrimSpace(b))
			atA, errA := strconv.Atoi(strings.TrimSpace(o))
			if err != nil || errA != nil || errB != nil {
				t.Fatalf("MSS through the tunnel: A %v %q, B %q", err, o, b)
			}
			return atB + 12, atA + 12
		}
		clampB, clampA := mss()
		counters := ""
		for _, h := range []*world.Host{vpnA, vpnB} {
			o, _ := h.Exec("nft", "list", "table", "inet", openvpn.NftTable(link.Name))
			counters += h.Name + ": " + strings.Join(regexp.MustCompile(`counter packets \d+`).FindAllString(o, -1), ", ") + "; "
			if o, err := h.Exec("nft", "delete", "table", "inet", openvpn.NftTable(link.Name)); err != nil {
				t.Fatalf("%s: %v %s", h.Name, err, o)
			}
		}
		rawB, rawA := mss()
		for _, h := range []*world.Host{vpnA, vpnB} {
			if o, err := h.Exec("nft", "-f", openvpn.NftPath(link.Name)); err != nil {
				t.Errorf("%s: the clamp does not load again: %v %s", h.Name, err, o)
			}
		}
		t.Logf("SYN MSS through the tunnel (MTU 1400): clamped %d (seen at B) / %d (seen at A), without the clamp %d / %d; clamp counters %s", clampB, clampA, rawB, rawA, counters)
		if clampB != 1360 || clampA != 1360 {
			t.Errorf("clamped MSS %d / %d, want 1360 (MTU 1400 - 40)", clampB, clampA)
		}
		if rawB <= 1360 || rawA <= 1360 {
			t.Errorf("without the clamp the MSS is %d / %d: something else clamps", rawB, rawA)
		}
	})

	t.Run("no secret in the state, its history and backups, the CLI output or the lab's files", func(t *testing.T) {
		secrets := secretValues(t, l)
		hits := searchSecrets(t, secrets, []string{l.BackendDir(), filepath.Join(l.World.Dir, "pulumi-home"), filepath.Join(l.World.Dir, "project")},
			map[string]string{"pulumi up output": upOut, "lab log": logged.String(), "world.json": readFile(l.World.Dir + "/world.json")})
		for _, h := range hits {
			t.Error(h)
		}
		t.Logf("searched for %d secret values: %d hits", len(secrets), len(hits))
	})

	t.Run("hosts booted with cloud-init; the presented host key is the pinned one", func(t *testing.T) {
		outs, err := l.Outputs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sites := outs["sites"].(map[string]any)
		for i, site := range []string{"a", "b"} {
			vpn := link.VPN[i]
			if out, err := vpn.Exec("cloud-init", "status"); err != nil || !strings.Contains(out, "status: done") {
				t.Errorf("%s: cloud-init status: %v %q", vpn.Name, err, out)
			}
			// The setup waited for cloud-init: the key file is younger than
			// cloud-init's result.
			if out, err := vpn.Exec("sh", "-c", "test /etc/openvpn/vpclink/a-b.key -nt /var/lib/cloud/data/result.json && echo after"); err != nil || strings.TrimSpace(out) != "after" {
				t.Errorf("%s: setup wrote the key before cloud-init was done: %v %q", vpn.Name, err, out)
			}
			known, _ := sites[site].(map[string]any)["vpnKnownHost"].(string)
			scan, err := world.Run("ip", "netns", "exec", l.World.NS("op"), "ssh-keyscan", "-T", "5", "-t", "ed25519", vpn.PublicIP)
			if err != nil {
				t.Fatalf("ssh-keyscan %s: %v", vpn.PublicIP, err)
			}
			if got := strings.TrimSpace(lastLine(scan)); got != known || known == "" {
				t.Errorf("%s presents %q, the stack pins %q", vpn.Name, got, known)
			}
		}
		// One site on OpenVPN 2.6 (trixie), the other on 2.7 (sid).
		var versions []string
		for _, vpn := range link.VPN {
			out, err := vpn.Exec("openvpn", "--version")
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, strings.Fields(out)[1])
		}
		if !strings.HasPrefix(versions[0], "2.6.") || !strings.HasPrefix(versions[1], "2.7.") {
			t.Errorf("OpenVPN versions %v, want 2.6.x on a and 2.7.x on b", versions)
		}
		for _, h := range []*world.Host{vpnA, vpnB, termA, termB} {
			if mem, err := h.Memory(); err == nil {
				t.Logf("%s: %s", h.Name, mem)
			}
		}
	})

	t.Run("systemd restarts a killed OpenVPN and traffic flows again", func(t *testing.T) {
		if out, err := vpnB.Exec("systemctl", "is-enabled", "vpclink-a-b.service"); err != nil || strings.TrimSpace(out) != "enabled" {
			t.Errorf("unit not enabled: %v %q", err, out)
		}
		start := time.Now()
		if out, err := vpnB.Exec("systemctl", "kill", "-s", "KILL", "vpclink-a-b.service"); err != nil {
			t.Fatalf("kill -9: %v %s", err, out)
		}
		took, err := checks.TimeToFirstPing(termA, termB.PrivateIP, start, 60*time.Second)
		if err != nil {
			t.Fatalf("no traffic after kill -9 of b's openvpn: %v", err)
		}
		t.Logf("kill -9 of b's openvpn: first reply through the tunnel after %.2f s", took.Seconds())
	})

	t.Run("a rebooted VPN instance brings the tunnel back by itself", func(t *testing.T) {
		start := time.Now()
		if err := l.World.Reboot(context.Background(), vpnA.Name); err != nil {
			t.Fatalf("reboot: %v", err)
		}
		took, err := checks.TimeToFirstPing(termB, termA.PrivateIP, start, 90*time.Second)
		if err != nil {
			t.Fatalf("no traffic after a-vpn rebooted: %v", err)
		}
		t.Logf("reboot of a-vpn: first reply through the tunnel %.2f s after the reboot began", took.Seconds())
		if out, err := vpnA.Exec("sysctl", "-n", "net.ipv4.ip_forward"); err != nil || strings.TrimSpace(out) != "1" {
			t.Errorf("forwarding after boot: %v %q", err, out)
		}
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	})

	t.Run("an impostor at the VPN instance's address gets no key: host key mismatch", func(t *testing.T) {
		// Another sshd, with its own host key, answers at b-vpn's address
		// and records whatever a client sends on a session.
		impostor := `set -e
systemctl stop ssh.socket ssh.service 2>/dev/null || systemctl stop ssh.service
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f /run/impostor_key
/usr/sbin/sshd -p 22 -h /run/impostor_key -o 'ForceCommand=cat >/run/impostor-received' -o PidFile=/run/impostor.pid -E /run/impostor.log -o LogLevel=DEBUG1`
		if out, err := vpnB.Exec("bash", "-c", impostor); err != nil {
			t.Fatalf("starting the impostor: %v %s", err, out)
		}
		out, err := l.Pulumi(context.Background(), "up", "--yes", "--skip-preview", "--replace", setupURN(t, l, "a-b-b-setup"))
		if err == nil {
			t.Fatal("up succeeded against an impostor")
		}
		if !strings.Contains(out, "host key mismatch") {
			t.Errorf("the failure does not say the host key did not match:\n%s", out)
		}
		if got, _ := vpnB.Exec("sh", "-c", "cat /run/impostor-received 2>/dev/null; grep -c 'Accepted publickey' /run/impostor.log || true"); strings.TrimSpace(got) != "0" {
			t.Errorf("the impostor received a login or data: %q", got)
		}
		log, _ := vpnB.Exec("cat", "/run/impostor.log")
		t.Logf("what arrived at the impostor:\n%s", log)
		if out, err := vpnB.Exec("bash", "-c", "kill $(cat /run/impostor.pid); systemctl start ssh.service"); err != nil {
			t.Fatalf("restoring sshd: %v %s", err, out)
		}
		runPulumi(t, l, "up", "--yes", "--skip-preview")
		walkthrough(t, l, 2)
	})

	t.Run("a peer presenting another certificate is refused; the pinned one is learned again", func(t *testing.T) {
		// b gets a certificate the program never saw; a must refuse it.
		forge := `cd /etc/openvpn/vpclink && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout a-b.tls.key -out a-b.tls.crt -subj /CN=impostor -days 1 2>/dev/null && chmod 600 a-b.tls.key && systemctl restart vpclink-a-b.service`
		if out, err := vpnB.Exec("bash", "-c", forge); err != nil {
			t.Fatalf("new certificate on b: %v %s", err, out)
		}
		var log string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			log, _ = vpnA.Exec("journalctl", "-u", "vpclink-a-b.service", "--since", "-60s", "--no-pager")
			if strings.Contains(log, "certificate hash verification failed") {
				break
			}
		}
		if !strings.Contains(log, "peer-fingerprint certificate hash verification failed") {
			t.Errorf("a did not refuse b's new certificate by its fingerprint:\n%s", lastLines(log, 15))
		}
		if pingOK(termA, termB.PrivateIP) {
			t.Error("traffic flows to a peer with an unpinned certificate")
		}
		// A new identity step learns b's certificate; a's setup follows.
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--replace", setupURN(t, l, "a-b-b-identity"))
		walkthrough(t, l, 2)
	})

	t.Run("security groups", func(t *testing.T) {
		if err := checks.TCPProbe(l.World, "op", vpnA.PublicIP, 22); err != nil {
			t.Errorf("operator cannot reach SSH of a-vpn: %v", err)
		}
		for _, h := range []*world.Host{vpnA, termB} {
			if err := checks.TCPProbe(l.World, "x", h.PublicIP, 22); err == nil {
				t.Errorf("a stranger reaches SSH of %s", h.Name)
			}
		}
		counts, err := checks.UDPProbe(l.World, vpnA, link.Port, map[string]checks.Sender{"stranger": {Internet: "x"}, "peer": {Host: vpnB}})
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

	t.Run("a change of tunnelMtu updates the setups and checks only, and the tunnel works after it", func(t *testing.T) {
		runPulumi(t, l, "config", "set", "vpclink:tunnelMtu", "1300")
		steps := previewSteps(t, l)
		want := map[string]string{"a-b-a-setup": "update", "a-b-b-setup": "update", "a-b-a-check": "update", "a-b-b-check": "update"}
		if fmt.Sprint(steps) != fmt.Sprint(want) {
			t.Errorf("preview of tunnelMtu 1300:\n got %v\nwant %v", steps, want)
		}
		out := runPulumi(t, l, "up", "--yes", "--skip-preview")
		assertNoWarnings(t, "up after the tunnelMtu change", out)
		walkthrough(t, l, 2)
		if out, err := vpnA.Exec("ip", "-o", "link", "show", "vpn1194"); err != nil || !strings.Contains(out, "mtu 1300") {
			t.Errorf("a-vpn's tunnel device after the change: %v %s", err, out)
		}
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	})

	t.Run("a change of a site's instanceType updates its instances in place and checks the tunnel again", func(t *testing.T) {
		runPulumi(t, l, "config", "set", "vpclink:instanceType", "t3.small")
		steps := previewSteps(t, l)
		// AWS stops and starts the instances: the checks run again.
		want := map[string]string{"a-terminal": "update", "a-vpn": "update", "b-terminal": "update", "b-vpn": "update",
			"a-b-a-check": "update", "a-b-b-check": "update"}
		if fmt.Sprint(steps) != fmt.Sprint(want) {
			t.Errorf("preview of instanceType t3.small:\n got %v\nwant %v", steps, want)
		}
		runPulumi(t, l, "config", "rm", "vpclink:instanceType")
	})

	t.Run("the bench measures right after a variant switch and restores the shipped configuration", func(t *testing.T) {
		// The switch waits for both units to restart and for pings both
		// ways, and iperf3 waits for its server: a bench of one second per
		// run gets a measurement for each variant, right after the switch.
		variant := func(name string) driver.Variant {
			for _, v := range driver.Variants {
				if v.Name == name {
					return v
				}
			}
			t.Fatalf("no bench variant %q", name)
			return driver.Variant{}
		}
		shipped, mtu1500 := variant("tls, as shipped"), variant("tls + tun-mtu 1500, no MSS clamp")
		variants := []driver.Variant{shipped, mtu1500, shipped}
		rs, err := l.BenchThroughput(context.Background(), variants, 1, 1, testLog{t, &strings.Builder{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Mbps1 <= 0 || r.Mbps4 <= 0 {
				t.Errorf("%s: no throughput measured (%.0f / %.0f Mbit/s)", r.Variant.Name, r.Mbps1, r.Mbps4)
			}
		}
		// As shipped, OpenVPN's mssfix is off and the nft clamp alone keeps
		// every outer packet whole; without it, tun-mtu 1500 fragments.
		if len(rs) == 3 {
			if rs[0].Fragments != 0 || rs[2].Fragments != 0 {
				t.Errorf("as shipped (mssfix 0, nft clamp): %d and %d fragmented outer packets", rs[0].Fragments, rs[2].Fragments)
			}
			if rs[1].Fragments == 0 {
				t.Errorf("%s: no fragment counted; does the counter count?", rs[1].Variant.Name)
			}
			t.Logf("fragmented outer packets: as shipped %d, %s %d, as shipped again %d", rs[0].Fragments, rs[1].Variant.Name, rs[1].Fragments, rs[2].Fragments)
		}
		if out, err := vpnA.Exec("ip", "-o", "link", "show", "vpn1194"); err != nil || !strings.Contains(out, "mtu 1300") {
			t.Errorf("after the bench, a-vpn's tunnel is not back to the stack's MTU (1300): %v %s", err, out)
		}
		runPulumi(t, l, "config", "rm", "vpclink:tunnelMode")
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	})

	t.Run("faults: the tunnel recovers from each, and the stack converges", func(t *testing.T) {
		// The windows are shorter than `scripts/lab faults` (30 s) to keep
		// CI's time; recovery is asserted, never timing.
		defer func(w time.Duration) { driver.FaultWindow = w }(driver.FaultWindow)
		driver.FaultWindow = 10 * time.Second
		results, err := l.Faults(context.Background(), testLog{t, &strings.Builder{}})
		var table strings.Builder
		driver.FaultTable(&table, results)
		t.Logf("faults:\n%s", table.String())
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 6 {
			t.Errorf("%d faults ran, want 6", len(results))
		}
		for _, r := range results {
			if !r.Recovered {
				t.Errorf("did not recover: %s %s", r.Fault, r.Note)
			}
		}
		walkthrough(t, l, 2)
	})

	t.Run("destroy from an address outside sshAllowedCidrs needs no SSH and leaves nothing", func(t *testing.T) {
		// The operator has moved: SSH from where `pulumi` runs is refused by
		// the security groups. The remote commands are deleted with their
		// instances, without SSH; with SSH attempted, each delete would dial
		// 40 times and destroy would fail after many minutes.
		runPulumi(t, l, "config", "set", "--path", "vpclink:sshAllowedCidrs[0]", "198.51.100.77/32")
		// The update needs no SSH, so it passes; the program warns that it
		// cannot reach the instances, naming the address, the rule and the
		// remedy, once the narrowed rule is in place.
		upOut := runPulumi(t, l, "up", "--yes", "--skip-preview")
		for _, want := range []string{
			"cannot reach " + vpnA.PublicIP + ":22 (the VPN instance of site a)",
			"vpclink:sshAllowedCidrs = [198.51.100.77/32]",
			"pulumi config set --path 'vpclink:sshAllowedCidrs[1]' ADDRESS/32",
		} {
			if !strings.Contains(upOut, want) {
				t.Errorf("the update from outside sshAllowedCidrs does not say %q:\n%s", want, lastLines(upOut, 30))
			}
		}
		if err := checks.TCPProbe(l.World, "op", vpnA.PublicIP, 22); err == nil {
			t.Fatalf("SSH to %s still open from the operator after narrowing sshAllowedCidrs", vpnA.PublicIP)
		}
		start := time.Now()
		assertNoWarnings(t, "destroy", runPulumi(t, l, "destroy", "--yes", "--skip-preview"))
		t.Logf("destroy without SSH: %.1fs", time.Since(start).Seconds())
		for _, h := range []string{vpnA.Name, vpnB.Name} {
			// The teardown did not run: the instance went with its tunnel.
			left := readFile(filepath.Join(l.World.Dir, "deleted", h+".txt"))
			if !strings.Contains(left, ".conf") {
				t.Errorf("%s held this when it was deleted; the skipped teardown should have left its files: %q", h, left)
			}
		}
		assertDestroyed(t, l)
		if pingOK(termA, termB.PrivateIP) {
			t.Error("a terminal still answers after destroy")
		}
	})
}

// decoys runs `pulumi preview` with a CLI whose directory also holds an old
// pulumi-language-go and old provider plugins (as a machine that once ran
// the earlier toolchain may still have), that directory first on PATH:
// the preview must succeed and none of them may run.
func decoys(t *testing.T, l *driver.Lab) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "pulumi")
	if err := os.Link(filepath.Join(l.Toolchain, "pulumi"), cli); err != nil {
		if out, err := world.Run("cp", filepath.Join(l.Toolchain, "pulumi"), cli); err != nil {
			t.Fatalf("copying the CLI: %v %s", err, out)
		}
	}
	names := []string{"pulumi-language-go", "pulumi-resource-aws", "pulumi-resource-command", "pulumi-resource-random"}
	for _, n := range names {
		script := fmt.Sprintf("#!/bin/sh\ntouch %s/ran-%s\necho old %s >&2\nexit 1\n", dir, n, n)
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	defer func(tc string) { l.Toolchain = tc }(l.Toolchain)
	l.Toolchain = dir
	cmd := l.Command(context.Background(), "preview")
	for i, kv := range cmd.Env {
		if strings.HasPrefix(kv, "PATH=") {
			cmd.Env[i] = "PATH=" + dir + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("preview with old plugins on PATH and next to the CLI: %v\n%s", err, out)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, "ran-"+n)); err == nil {
			t.Errorf("the old %s ran", n)
		}
	}
	if strings.Contains(string(out), "from $PATH") {
		t.Errorf("the CLI took a plugin from PATH:\n%s", out)
	}
}

// assertNoWarnings fails when the CLI's output of what holds a warning.
func assertNoWarnings(t *testing.T, what, out string) {
	t.Helper()
	var warnings []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "warning") {
			warnings = append(warnings, strings.TrimSpace(line))
		}
	}
	if len(warnings) > 0 {
		t.Errorf("%s printed %d warning(s):\n%s", what, len(warnings), strings.Join(warnings, "\n"))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// setupURN is the URN of a resource of the stack by name.
func setupURN(t *testing.T, l *driver.Lab, name string) string {
	t.Helper()
	urn := l.URN(context.Background(), name)
	if urn == "" {
		t.Fatalf("no resource %s in the stack", name)
	}
	return urn
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// Three regions in a full mesh (two tunnels on each VPN instance), one site
// without terminal, and one region whose image has no OpenVPN: its setup
// installs it with apt from the lab's own package repository.
// keptLinks remove link "tokyo-sydney" (k=1 of the default mesh) and
// keeps the other two with the ports and addresses they had by default.
var keptLinks = [][2]string{
	{"vpclink:links[0].sites[0]", "tokyo"}, {"vpclink:links[0].sites[1]", "virginia"}, {"vpclink:links[0].port", "4000"},
	{"vpclink:links[0].tunnelAddresses[0]", "10.254.0.1"}, {"vpclink:links[0].tunnelAddresses[1]", "10.254.0.2"},
	{"vpclink:links[1].sites[0]", "virginia"}, {"vpclink:links[1].sites[1]", "sydney"}, {"vpclink:links[1].port", "4002"},
	{"vpclink:links[1].tunnelAddresses[0]", "10.254.2.1"}, {"vpclink:links[1].tunnelAddresses[1]", "10.254.2.2"},
}

func TestLabThreeSitesAndAptInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network and mount namespaces); CI runs them as root")
	}
	l, _ := newLabWith(t, driver.Options{StackFile: "testdata/Pulumi.lab-three-sites.yaml",
		Flavours: map[string]string{"ap-southeast-2": image.TrixieNoOVPN}})
	runPulumi(t, l, "up", "--yes", "--skip-preview")
	links := walkthrough(t, l, 2)
	if len(links) != 3 {
		t.Fatalf("%d links, want 3", len(links))
	}
	// The terminal-less site is reached through its VPN instance.
	var tokyo, sydney *world.Host
	for _, k := range links {
		for i := range k.VPN {
			if strings.HasPrefix(k.VPN[i].Name, "sydney") {
				sydney = k.VPN[i]
			}
			if strings.HasPrefix(k.VPN[i].Name, "tokyo") {
				tokyo = k.Terminals[i]
			}
		}
	}
	if tokyo == nil || sydney == nil {
		t.Fatal("tokyo's terminal or sydney's VPN instance missing")
	}
	if !pingOK(tokyo, sydney.PrivateIP) {
		t.Error("tokyo-terminal cannot reach sydney-vpn across the tunnel")
	}
	// sydney's image had no openvpn: the setup installed it from the lab's
	// repository, the only package source the host has.
	if out, err := sydney.Exec("sh", "-c", "dpkg-query -W -f '${Status} ${Version}' openvpn; echo; cat /etc/apt/sources.list.d/*.list; ls /etc/apt/sources.list 2>/dev/null || true"); err != nil || !strings.HasPrefix(out, "install ok installed 2.6") || !strings.Contains(out, world.RepoIP) {
		t.Errorf("openvpn on sydney: %v %q", err, out)
	}
	if repoLog := readFile(filepath.Join(l.World.Dir, "repo.log")); !strings.Contains(repoLog, "/openvpn_") {
		t.Errorf("the lab's repository served no openvpn package:\n%s", repoLog)
	}
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	t.Run("a removed link is torn down on both ends; the others keep working", func(t *testing.T) {
		for _, kv := range keptLinks {
			runPulumi(t, l, "config", "set", "--path", kv[0], kv[1])
		}
		// The link's resources, and each end's route (and terminal
		// rules) for the other: nothing else.
		gone := regexp.MustCompile(`^(tokyo-sydney|tokyo-route-to-sydney$|sydney-route-to-tokyo$|tokyo-terminal-sg-[a-z]+-from-site-sydney$)`)
		for name, op := range previewSteps(t, l) {
			if !gone.MatchString(name) || op != "delete" {
				t.Errorf("removing link tokyo-sydney: %s would %s", name, op)
			}
		}
		assertNoWarnings(t, "up removing a link", runPulumi(t, l, "up", "--yes", "--skip-preview"))
		var tokyoVPN *world.Host
		for _, k := range links {
			for i := range k.VPN {
				if strings.HasPrefix(k.VPN[i].Name, "tokyo") {
					tokyoVPN = k.VPN[i]
				}
			}
		}
		for _, h := range []*world.Host{tokyoVPN, sydney} {
			out, err := h.Exec("sh", "-c", "ls /etc/openvpn/vpclink /etc/systemd/system; systemctl is-active vpclink-tokyo-sydney.service || true")
			if err != nil || strings.Contains(out, "tokyo-sydney") || !strings.Contains(out, "inactive") {
				t.Errorf("%s after removing the link (its files and unit should be gone): %v\n%s", h.Name, err, out)
			}
		}
		if pingOK(tokyo, sydney.PrivateIP) {
			t.Error("tokyo-terminal still reaches sydney-vpn with the link removed")
		}
		walkthrough(t, l, 2) // tokyo-virginia, both ways: the terminals that remain linked
		runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	})
}

// The README's `pulumi config set` commands work as written against the
// real CLI and the Pulumi.yaml schema; bad configurations fail `preview`
// before anything is created, naming the key and the value.
func TestLabConfigCommands(t *testing.T) {
	l, _ := newLab(t, "Pulumi.dev.yaml")
	runPulumi(t, l, "config", "set", "--path", "vpclink:sshAllowedCidrs[0]", "198.51.100.250/32")
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if out, err := world.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", key); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub := strings.TrimSpace(readFile(key + ".pub"))
	runPulumi(t, l, "config", "set", "sshPublicKey", pub)
	cmd := l.Command(context.Background(), "config", "set", "--secret", "sshPrivateKey")
	cmd.Stdin = strings.NewReader(readFile(key))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pulumi config set --secret sshPrivateKey < key: %v %s", err, out)
	}
	stackFile := readFile(l.ConfigFile())
	if strings.Contains(stackFile, "PRIVATE KEY") || !strings.Contains(stackFile, "secure:") {
		t.Errorf("the private key is not stored encrypted in the stack file")
	}
	runPulumi(t, l, "preview")

	t.Run("old plugins on PATH and next to the CLI are never run", func(t *testing.T) {
		decoys(t, l)
	})

	for _, bad := range []struct{ key, value, want string }{
		{"vpclink:tunnelMtu", "100", "vpclink:tunnelMtu"},
		{"vpclink:tunnelPort", "70000", "vpclink:tunnelPort"},
	} {
		runPulumi(t, l, "config", "set", bad.key, bad.value)
		out, err := l.Pulumi(context.Background(), "preview")
		if err == nil {
			t.Errorf("preview accepted %s = %s", bad.key, bad.value)
		}
		if !strings.Contains(out, bad.want) || !strings.Contains(out, bad.value) {
			t.Errorf("preview of %s = %s does not name the key and value:\n%s", bad.key, bad.value, out)
		}
		runPulumi(t, l, "config", "rm", bad.key)
	}
	// An integer where the schema says integer, checked by the CLI itself.
	if out, err := l.Pulumi(context.Background(), "preview", "--config", "vpclink:tunnelPort=abc"); err == nil || !strings.Contains(out, "tunnelPort") {
		t.Errorf("preview accepted tunnelPort=abc: %v\n%s", err, out)
	}
	m, err := l.World.Load()
	if err != nil {
		t.Fatal(err)
	}
	if m.Count() != 0 || stackResources(t, l) != 0 {
		t.Errorf("a preview created something: %d objects, %d resources", m.Count(), stackResources(t, l))
	}
}

// TestLabHub deploys a 4-site hub and spoke (OpenVPN 2.6 and 2.7
// alternating) and checks what the topology promises: every terminal pings
// every other; between spokes traceroute shows the spoke's VPN instance,
// the hub's tunnel end, the far spoke's tunnel end, the destination; and
// stopping the hub's tunnel to one spoke cuts that spoke only.
func TestLabHub(t *testing.T) {
	t.Parallel()
	l, _ := newLab(t, "testdata/Pulumi.lab-hub.yaml")
	start := time.Now()
	assertNoWarnings(t, "up", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	t.Logf("up, 4-site hub: %.1fs", time.Since(start).Seconds())
	// 3 links x 2 directions, and 3 spoke pairs x 2 through the hub.
	links := walkthrough(t, l, 12)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	terminal := map[string]*world.Host{}
	var hubVPN *world.Host
	for _, k := range links {
		for e := range k.Sites {
			terminal[k.Sites[e]] = k.Terminals[e]
			if k.Sites[e] == "frankfurt" {
				hubVPN = k.VPN[e]
			}
		}
	}
	if len(terminal) != 4 || hubVPN == nil {
		t.Fatalf("terminals %v, hub VPN instance %v", terminal, hubVPN)
	}
	vpcs := map[string]string{"frankfurt": "10.0.0.0/16", "paris": "10.1.0.0/16", "tokyo": "10.2.0.0/16", "oregon": "10.3.0.0/16"}
	vpn := map[string]*world.Host{}
	for _, k := range links {
		for e := range k.Sites {
			vpn[k.Sites[e]] = k.VPN[e]
		}
	}
	// Every VPN instance routes every other VPC into a tunnel, whatever
	// the order in which a change's setups and teardowns ran (a route
	// refused as a duplicate while another tunnel still held it would
	// leave none once that tunnel is gone, and only the next restart
	// would notice).
	hostRoutes := func(when string) {
		t.Helper()
		for site, h := range vpn {
			out, err := h.Exec("ip", "-4", "route", "show")
			if err != nil {
				t.Fatalf("%s: ip route on %s: %v", when, site, err)
			}
			for other, cidr := range vpcs {
				if other != site && !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(cidr)+` via 10\.254\.\S+ dev vpn`).MatchString(out) {
					t.Errorf("%s: %s has no route for %s (%s) into a tunnel:\n%s", when, site, other, cidr, out)
				}
			}
		}
	}
	hostRoutes("after up")
	reachable := func(cut string) []string {
		var wrong []string
		for a, ha := range terminal {
			for b, hb := range terminal {
				if a == b {
					continue
				}
				want := a != cut && b != cut
				if got := pingOK(ha, hb.PrivateIP); got != want {
					wrong = append(wrong, fmt.Sprintf("%s -> %s: ping %v, want %v", a, b, got, want))
				}
			}
		}
		sort.Strings(wrong)
		return wrong
	}
	unit := openvpn.ServiceName("frankfurt-paris")
	if out, err := hubVPN.Exec("systemctl", "stop", unit); err != nil {
		t.Fatalf("stop %s on the hub: %v %s", unit, err, out)
	}
	if wrong := reachable("paris"); len(wrong) > 0 {
		t.Errorf("the hub's tunnel to paris stopped: only paris should be cut:\n%s", strings.Join(wrong, "\n"))
	}
	if out, err := hubVPN.Exec("systemctl", "start", unit); err != nil {
		t.Fatalf("start %s on the hub: %v %s", unit, err, out)
	}
	if d, err := checks.TimeToFirstPing(terminal["paris"], terminal["tokyo"].PrivateIP, time.Now(), 90*time.Second); err != nil {
		t.Fatalf("paris -> tokyo after the hub's tunnel to paris restarted: %v", err)
	} else {
		t.Logf("paris -> tokyo back %.1fs after the hub's tunnel restarted", d.Seconds())
	}
	if wrong := reachable(""); len(wrong) > 0 {
		t.Errorf("after the restart:\n%s", strings.Join(wrong, "\n"))
	}

	// Day 2: a direct spoke-to-spoke link beside the hub, then removed
	// again, then a summary route. Routes and rules stay where they are
	// (AWS would refuse a second route to one destination): only the new
	// link's resources are created, and the setups update their routes.
	onlyLink := func(what, link string) {
		t.Helper()
		for name, op := range previewSteps(t, l) {
			// A check is a ping: run again, updated or replaced alike
			// (a transit check's trigger is the set of links on the way).
			check := strings.HasSuffix(name, "-check")
			if !strings.HasPrefix(name, link) && op != "update" && !check || strings.Contains(op, "replace") && !check {
				t.Errorf("%s: %s would %s", what, name, op)
			}
		}
	}
	for i, ends := range [][2]string{{"frankfurt", "paris"}, {"frankfurt", "tokyo"}, {"frankfurt", "oregon"}, {"paris", "tokyo"}} {
		for e, s := range ends {
			runPulumi(t, l, "config", "set", "--path", fmt.Sprintf("vpclink:links[%d].sites[%d]", i, e), s)
		}
	}
	onlyLink("adding link paris-tokyo beside the hub", "paris-tokyo")
	assertNoWarnings(t, "up adding paris-tokyo", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	// 4 links x 2, and paris and tokyo to oregon through the hub x 2.
	walkthrough(t, l, 12)
	hostRoutes("after adding paris-tokyo")
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	runPulumi(t, l, "config", "rm", "vpclink:links")
	onlyLink("removing link paris-tokyo", "paris-tokyo")
	assertNoWarnings(t, "up removing paris-tokyo", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	walkthrough(t, l, 12)
	hostRoutes("after removing paris-tokyo")

	runPulumi(t, l, "config", "set", "vpclink:summaryCidr", "10.0.0.0/14")
	assertNoWarnings(t, "up with summaryCidr", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	walkthrough(t, l, 12)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	assertNoWarnings(t, "destroy", runPulumi(t, l, "destroy", "--yes", "--skip-preview"))
	assertDestroyed(t, l)
}
