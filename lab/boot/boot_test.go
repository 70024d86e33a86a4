package boot_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/image"
)

// TestBootFlavours builds (or reuses) the images, then boots one host per
// flavour in its own network namespace, reachable from a client namespace
// through a veth, and checks cloud-init, ssh, the host key, openvpn, the lab
// apt repository and a reboot.
//
// Root only. The first run builds the images (about 5-10 min; run with
// -timeout 30m); later runs reuse them.
func TestBootFlavours(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, overlayfs, systemd-nspawn)")
	}
	for _, bin := range []string{"debootstrap", "systemd-nspawn", "dpkg-scanpackages", "nsenter", "unshare", "setsid", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (Debian packages debootstrap systemd-container dpkg-dev util-linux iproute2)", bin)
		}
	}
	if testing.Short() {
		t.Skip("boots containers; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	start := time.Now()
	set, err := image.Build(ctx, image.Options{Log: tlog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("images ready in %s", time.Since(start).Round(time.Millisecond))

	prefix := "vb" + randHex(3)
	stateRoot, err := os.MkdirTemp("", prefix+"-state-")
	if err != nil {
		t.Fatal(err)
	}
	client := prefix + "-c"
	var created []string // netns names, for cleanup
	t.Cleanup(func() {
		if err := boot.StopAll(stateRoot); err != nil {
			t.Errorf("StopAll: %v", err)
		}
		for _, ns := range created {
			killNetnsPids(t, ns)
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		}
		if m := mountsContaining(stateRoot); len(m) > 0 {
			t.Errorf("mounts left under %s: %v (state dir kept)", stateRoot, m)
		} else {
			os.RemoveAll(stateRoot)
		}
		checkNothingLeft(t, prefix, stateRoot)
	})
	mustRun(t, "ip", "netns", "add", client)
	created = append(created, client)
	mustRun(t, "ip", "-n", client, "link", "set", "lo", "up")

	// The lab repository, served from the client namespace.
	repo, err := set.Repo()
	if err != nil {
		t.Fatal(err)
	}
	var repoHits atomic.Int64
	ln, err := listenIn(client, "tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	fs := http.FileServer(http.Dir(repo))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repoHits.Add(1)
		fs.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	userPub, userPriv, _ := ed25519.GenerateKey(rand.Reader)
	userSigner, _ := ssh.NewSignerFromKey(userPriv)
	userAuthorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(userSigner.PublicKey())))
	_ = userPub

	flavours := []string{image.Trixie, image.Sid, image.TrixieNoOVPN}
	t.Run("hosts", func(t *testing.T) {
		for i, fl := range flavours {
			i, fl := i, fl
			lower, err := set.Lower(fl)
			if err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("%s-h%d", prefix, i)
			mustRun(t, "ip", "netns", "add", ns)
			created = append(created, ns)
			peer := fmt.Sprintf("%s-%d", prefix, i)
			mustRun(t, "ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", client)
			clientIP := fmt.Sprintf("10.213.%d.1", i)
			hostIP := fmt.Sprintf("10.213.%d.2", i)
			mustRun(t, "ip", "-n", client, "addr", "add", clientIP+"/30", "dev", peer)
			mustRun(t, "ip", "-n", client, "link", "set", peer, "up")
			mustRun(t, "ip", "-n", ns, "addr", "add", hostIP+"/30", "dev", "eth0")
			mustRun(t, "ip", "-n", ns, "link", "set", "eth0", "up")
			mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")

			t.Run(fl, func(t *testing.T) {
				t.Parallel()
				testHost(t, ctx, hostCase{
					flavour: fl, name: fmt.Sprintf("%s-%s", prefix, strings.ReplaceAll(fl, "-", "")),
					netns: ns, client: client, lower: lower,
					stateDir: filepath.Join(stateRoot, fl, "host"), hostIP: hostIP,
					repoURL:    "http://" + clientIP + ":8080/",
					userSigner: userSigner, userAuthorized: userAuthorized,
					repoHits: &repoHits,
				})
			})
		}
	})
}

type hostCase struct {
	flavour, name, netns, client, stateDir, hostIP, repoURL string
	lower                                                   []string
	userSigner                                              ssh.Signer
	userAuthorized                                          string
	repoHits                                                *atomic.Int64
}

func testHost(t *testing.T, ctx context.Context, c hostCase) {
	hostPub, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	hostKeyPEM, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = hostPub
	hostAuthorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())))
	ud := map[string]any{
		"users": []any{map[string]any{
			"name": "labuser", "shell": "/bin/bash", "lock_passwd": true,
			"sudo":                "ALL=(ALL) NOPASSWD:ALL",
			"ssh_authorized_keys": []string{c.userAuthorized},
		}},
		"ssh_deletekeys":  true,
		"ssh_genkeytypes": []string{},
		"ssh_keys": map[string]string{
			"ed25519_private": string(pem.EncodeToMemory(hostKeyPEM)),
			"ed25519_public":  hostAuthorized,
		},
		"write_files": []any{map[string]any{
			"path": "/etc/apt/sources.list.d/vpclink-lab.list", "content": image.AptSourceLine(c.repoURL),
		}},
	}
	udJSON, _ := json.Marshal(ud)

	t0 := time.Now()
	h, err := boot.Start(ctx, boot.Config{
		Name: c.name, NetNS: c.netns, Lower: c.lower, StateDir: c.stateDir,
		UserData: "#cloud-config\n" + string(udJSON) + "\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := boot.Stop(c.stateDir); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := boot.Stop(c.stateDir); err != nil { // twice is fine
			t.Errorf("second Stop: %v", err)
		}
	})
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	failed, err := h.WaitRunning(wctx)
	if err != nil {
		t.Fatalf("%v\nconsole: %s", err, readTail(filepath.Join(c.stateDir, "console.log")))
	}
	tRunning := time.Since(t0)
	if len(failed) > 0 {
		t.Errorf("degraded, failed units: %v", failed)
	}
	if err := h.WaitCloudInit(wctx); err != nil {
		t.Fatal(err)
	}
	tCloud := time.Since(t0)
	mem, _ := h.Memory()
	t.Logf("%s: spawn->running %s, spawn->cloud-init done %s, %s", c.flavour, tRunning.Round(time.Millisecond), tCloud.Round(time.Millisecond), mem)
	if out, err := h.Exec("systemd-analyze", "blame", "--no-pager"); err == nil {
		lines := strings.SplitN(out, "\n", 6)
		t.Logf("%s: slowest units:\n%s", c.flavour, strings.Join(lines[:min(5, len(lines))], "\n"))
	}

	sshRun := func(cmd string) (string, error) {
		cl, err := dialSSH(c.client, c.hostIP+":22", c.userSigner, hostSigner.PublicKey())
		if err != nil {
			return "", err
		}
		defer cl.Close()
		s, err := cl.NewSession()
		if err != nil {
			return "", err
		}
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		return string(out), err
	}
	// ssh with the user's key; the host key must be the one from user-data.
	out, err := sshRun("id -un; sudo -n id -u; hostname")
	if err != nil {
		t.Fatalf("ssh: %v: %s", err, out)
	}
	if f := strings.Fields(out); len(f) < 3 || f[0] != "labuser" || f[1] != "0" || f[2] != c.name {
		t.Errorf("ssh id/sudo/hostname: %q", out)
	}
	// No apt source may point outside the lab.
	if out, err := h.Exec("sh", "-c", "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v '^#' | grep -v '^$' || true"); err != nil || strings.Contains(out, "debian.org") || strings.TrimSpace(out) != strings.TrimSpace(image.AptSourceLine(c.repoURL)) {
		t.Errorf("apt sources: %q %v", out, err)
	}

	out, _ = sshRun("/usr/sbin/openvpn --version 2>&1 | head -1")
	switch c.flavour {
	case image.Trixie:
		if !strings.HasPrefix(out, "OpenVPN 2.6.") {
			t.Errorf("openvpn --version: %q", out)
		}
	case image.Sid:
		if !strings.HasPrefix(out, "OpenVPN 2.7.") {
			t.Errorf("openvpn --version: %q", out)
		}
	case image.TrixieNoOVPN:
		if strings.HasPrefix(out, "OpenVPN") {
			t.Fatalf("openvpn present in %s: %q", c.flavour, out)
		}
		before := c.repoHits.Load()
		t1 := time.Now()
		out, err := sshRun("sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y openvpn && /usr/sbin/openvpn --version | head -1")
		if err != nil || !strings.Contains(out, "OpenVPN 2.6.") {
			t.Fatalf("apt-get install openvpn from the lab repo: %v\n%s", err, out)
		}
		t.Logf("%s: apt-get update+install openvpn from the lab repo: %s, %d HTTP requests", c.flavour, time.Since(t1).Round(time.Millisecond), c.repoHits.Load()-before)
		if c.repoHits.Load() == before {
			t.Errorf("the lab repository served nothing")
		}
	}

	// Reboot: a new systemd, running again, ssh again.
	old, _ := h.Leader()
	t2 := time.Now()
	failed, err = h.Reboot(wctx)
	if err != nil {
		t.Fatalf("reboot: %v\nsupervisor: %s", err, readTail(filepath.Join(c.stateDir, "supervisor.log")))
	}
	if len(failed) > 0 {
		t.Errorf("degraded after reboot: %v", failed)
	}
	nl, _ := h.Leader()
	if nl == old || nl == 0 {
		t.Errorf("leader after reboot %d, before %d", nl, old)
	}
	tReboot := time.Since(t2)
	if err := h.WaitCloudInit(wctx); err != nil {
		t.Errorf("after reboot: %v", err)
	}
	var sshErr error
	for i := 0; i < 50; i++ { // sshd may still be starting
		if out, sshErr = sshRun("true"); sshErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sshErr != nil {
		t.Errorf("ssh after reboot: %v", sshErr)
	}
	t.Logf("%s: reboot to running %s (leader %d -> %d)", c.flavour, tReboot.Round(time.Millisecond), old, nl)

	// The supervisor is detached from this process: its own session, not our child.
	if sp := readTail(filepath.Join(c.stateDir, "supervisor.pid")); sp != "" {
		stat := readTail("/proc/" + strings.TrimSpace(sp) + "/stat")
		if f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:]); len(f) > 3 {
			if f[1] == fmt.Sprint(os.Getpid()) || f[3] == fmt.Sprint(sessionID()) {
				t.Errorf("supervisor not detached: ppid %s sid %s", f[1], f[3])
			}
		}
	} else {
		t.Errorf("no supervisor.pid")
	}

	t3 := time.Now()
	if c.flavour == image.Sid {
		// What a "down" after a crash does: find and stop every host under a root.
		root := filepath.Dir(c.stateDir)
		if dirs, err := boot.List(root); err != nil || len(dirs) != 1 || dirs[0] != c.stateDir {
			t.Errorf("List(%s) = %v, %v", root, dirs, err)
		}
		if err := boot.StopAll(root); err != nil {
			t.Errorf("StopAll: %v", err)
		}
	} else if err := h.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	status := strings.TrimSpace(readTail(filepath.Join(c.stateDir, "exit.status")))
	t.Logf("%s: stop %s, exit status %s", c.flavour, time.Since(t3).Round(time.Millisecond), status)
	if status != "0" {
		t.Errorf("poweroff: exit status %s, console: %s\nsupervisor: %s", status, readTail(filepath.Join(c.stateDir, "console.log")), readTail(filepath.Join(c.stateDir, "supervisor.log")))
	}
	if _, err := h.Leader(); err == nil {
		t.Errorf("still a leader after Stop")
	}
	if m := mountsContaining(c.stateDir); len(m) > 0 {
		t.Errorf("still mounted after Stop: %v", m)
	}
	if upper := du(filepath.Join(c.stateDir, "upper")); upper != "" {
		t.Logf("%s: upper dir after use: %s", c.flavour, upper)
	}
}

// dialSSH connects from inside netns and checks the host key.
func dialSSH(netns, addr string, user ssh.Signer, hostKey ssh.PublicKey) (*ssh.Client, error) {
	conn, err := dialIn(netns, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User:            "labuser",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(user)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         10 * time.Second,
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// inNetns runs f on a thread that joined netns, then returns the thread.
func inNetns(netns string, f func()) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + netns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return err // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return nil
}

func dialIn(netns, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var derr error
	done := make(chan error, 1)
	go func() { done <- inNetns(netns, func() { conn, derr = net.DialTimeout("tcp", addr, timeout) }) }()
	if err := <-done; err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	return conn, derr
}

func listenIn(netns, network, addr string) (net.Listener, error) {
	var ln net.Listener
	var lerr error
	done := make(chan error, 1)
	go func() { done <- inNetns(netns, func() { ln, lerr = net.Listen(network, addr) }) }()
	if err := <-done; err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	return ln, lerr
}

type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// killNetnsPids kills processes left in a namespace this test created.
func killNetnsPids(t *testing.T, ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		t.Errorf("process %s left in netns %s (%s), killing it", f, ns, readTail("/proc/"+f+"/cmdline"))
		exec.Command("kill", "-9", f).Run()
	}
}

func mountsContaining(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, dir+"/") || strings.Contains(line, dir+" ") {
			out = append(out, line)
		}
	}
	return out
}

// checkNothingLeft: no netns, mount or process of ours remains.
func checkNothingLeft(t *testing.T, prefix, stateRoot string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), prefix) {
		t.Errorf("network namespaces left: %s", out)
	}
	if m := mountsContaining(stateRoot); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(data), stateRoot) {
			t.Errorf("process %s left: %q", e.Name(), strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	for _, dir := range []string{"/sys/fs/cgroup/unified/" + boot.CgroupRoot, "/sys/fs/cgroup/" + boot.CgroupRoot, "/sys/fs/cgroup/systemd/" + boot.CgroupRoot} {
		if m, _ := filepath.Glob(filepath.Join(dir, prefix+"*")); len(m) > 0 {
			t.Errorf("cgroups left: %v", m)
		}
	}
	if _, err := os.Stat(stateRoot); err == nil {
		t.Errorf("state root %s left", stateRoot)
	}
}

func readTail(path string) string {
	data, _ := os.ReadFile(path)
	s := string(data)
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

func sessionID() int {
	sid, _ := unix.Getsid(0)
	return sid
}

func du(path string) string {
	out, err := exec.Command("du", "-sh", path).Output()
	if err != nil {
		return ""
	}
	return strings.Fields(string(out))[0]
}

// TestFailedStart: a root that is not an OS makes systemd-nspawn fail; the
// wait reports it, and Stop (twice) leaves nothing behind.
func TestFailedStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		t.Skip("needs systemd-nspawn (Debian package systemd-container)")
	}
	prefix := "vb" + randHex(3)
	ns := prefix + "-f"
	mustRun(t, "ip", "netns", "add", ns)
	root, err := os.MkdirTemp("", prefix+"-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		boot.StopAll(root)
		exec.Command("ip", "netns", "del", ns).Run()
		if m := mountsContaining(root); len(m) == 0 {
			os.RemoveAll(root)
		}
		checkNothingLeft(t, prefix, root)
	})
	lower := filepath.Join(root, "empty-lower")
	os.MkdirAll(lower, 0o755)
	sd := filepath.Join(root, "host")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := boot.Start(ctx, boot.Config{Name: prefix + "-fail", NetNS: ns, Lower: []string{lower}, StateDir: sd, UserData: "#cloud-config\n"})
	if err == nil {
		if _, err := h.WaitRunning(ctx); err == nil {
			t.Fatal("WaitRunning succeeded on an empty root")
		} else {
			t.Logf("WaitRunning: %.200s", err)
		}
	} else {
		t.Logf("Start: %.200s", err)
	}
	for i := 0; i < 2; i++ {
		if err := boot.Stop(sd); err != nil {
			t.Errorf("Stop #%d: %v", i+1, err)
		}
	}
	if m := mountsContaining(sd); len(m) > 0 {
		t.Errorf("mounted after Stop: %v", m)
	}
	if err := boot.Stop(filepath.Join(root, "never-started")); err != nil {
		t.Errorf("Stop of a missing dir: %v", err)
	}
}
