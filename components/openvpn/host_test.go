package openvpn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHost is a Linux host of its own for one test, made of namespaces: a
// network namespace (its own interfaces, routes and net.ipv4.ip_forward) and
// a private mount namespace in which /etc is an overlay over the machine's
// (writes land in a temporary directory; useradd works), /run and /var/log
// are empty tmpfs (so no systemd: the scripts take their daemon branch) and,
// optionally, /usr/local/sbin holds stand-in commands that the scripts find
// first on their PATH. A holder process keeps the namespaces alive; the
// machine's own files are never written.
type fakeHost struct {
	t    *testing.T
	name string
	pid  int // the holder, in both namespaces
}

// needRoot skips a test that needs root and the namespace tools.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: this test builds network and mount namespaces (CI runs it as root)")
	}
	for _, tool := range append([]string{"unshare", "nsenter", "ip", "bash", "flock", "useradd"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
}

// randomHex returns n random bytes as hex.
func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newFakeHost starts a fake host. sbin, if not empty, is mounted on
// /usr/local/sbin.
func newFakeHost(t *testing.T, name, sbin string) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	setup := `set -e
mount -t tmpfs -o mode=0755 vt8-scratch "$1"
mkdir -p "$1/etc-up" "$1/etc-work"
mount -t overlay vt8-etc -o "lowerdir=/etc,upperdir=$1/etc-up,workdir=$1/etc-work" /etc
mount -t tmpfs -o mode=0755 vt8-run /run
mount -t tmpfs -o mode=0755 vt8-log /var/log
if [ -n "$2" ]; then mount --bind "$2" /usr/local/sbin; fi
ip link set lo up
echo ready
exec >/dev/null 2>&1
if [ -z "$2" ]; then exec sleep 600; fi
# With stand-ins: start "daemons" for the fake openvpn, as children of this
# holder, which reaps them at once when they are killed (a daemon orphaned
# to this machine's PID 1 may stay a zombie for seconds, and the teardown
# waits until kill -0 fails).
mkfifo /run/vt8-spawn
exec 3<>/run/vt8-spawn
while read -r reply <&3; do
  sleep 300 </dev/null >/dev/null 2>&1 &
  echo $! >>/run/vt8-daemons
  echo $! >"$reply.tmp"
  mv -f "$reply.tmp" "$reply"
done
`
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", setup, "vt8-host", dir, sbin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{t: t, name: name, pid: cmd.Process.Pid}
	t.Cleanup(func() { h.stop(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("fake host %s did not start: %s", name, stderr.String())
	}
	return h
}

// stop kills the daemons that scripts started in the host (by the PIDs in
// their pid files), then the holder.
func (h *fakeHost) stop() {
	pids, _ := filepath.Glob(h.path("/run/vpclink/*.pid"))
	pids = append(pids, h.path("/run/vt8-forge.pid"), h.path("/run/vt8-daemons"))
	for _, p := range pids {
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = syscall.Kill(h.pid, syscall.SIGKILL)
}

// path is where the host's file p appears from outside.
func (h *fakeHost) path(p string) string { return fmt.Sprintf("/proc/%d/root%s", h.pid, p) }

// read returns the host's file p ("" when missing).
func (h *fakeHost) read(p string) string {
	data, _ := os.ReadFile(h.path(p))
	return string(data)
}

// exists reports whether the host has file p.
func (h *fakeHost) exists(p string) bool {
	_, err := os.Lstat(h.path(p))
	return err == nil
}

// sh runs argv in the host's namespaces.
func (h *fakeHost) cmd(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(h.pid), "-m", "-n", "--"}, argv...)
	return exec.CommandContext(ctx, "nsenter", args...)
}

// run runs a Command line (as pulumi-command would over SSH, as root) with
// stdin and returns its output.
func (h *fakeHost) run(line, stdin string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := h.cmd(ctx, "bash", "-c", line)
	c.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err = c.Run()
	return o.String(), e.String(), err
}

// must runs a shell snippet in the host and fails the test on error.
func (h *fakeHost) must(script string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := h.cmd(ctx, "bash", "-c", script).CombinedOutput()
	if err != nil {
		h.t.Fatalf("%s: %s: %v\n%s", h.name, script, err, out)
	}
	return string(out)
}

// forwarding returns the host's net.ipv4.ip_forward.
func (h *fakeHost) forwarding() string {
	// /proc/sys/net is the reader's network namespace: read it inside.
	return strings.TrimSpace(h.must("cat /proc/sys/net/ipv4/ip_forward"))
}

// testStaticKey is a V1 key for tests (random per call).
func testStaticKey(t *testing.T) string {
	k, err := FormatStaticKey(randomHex(t, StaticKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
