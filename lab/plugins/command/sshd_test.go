package command

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// startSshd runs OpenSSH's sshd on 127.0.0.1 with its own configuration,
// host key and authorized keys in a temporary directory and no AcceptEnv,
// as Debian's and Ubuntu's sshd for PULUMI_COMMAND_*. It returns the
// fixture's connection settings. sshd needs its privilege separation
// directory /run/sshd; when the machine has none, sshd runs in a private
// mount namespace with a tmpfs on /run, so the machine is left as it was.
func startSshd(t *testing.T, f *fixture) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a real sshd needs root (it logs users in); not root")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("no %s: %v", sshdPath, err)
	}
	dir := t.TempDir()
	hostSigner, hostPEM := newKey(t)
	clientSigner, clientPEM := newKey(t)
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hostKeyFile := write("ssh_host_ed25519_key", hostPEM)
	authorized := write("authorized_keys", authorizedKey(clientSigner))
	port := int(closedPort(t))
	config := write("sshd_config", strings.Join([]string{
		fmt.Sprintf("Port %d", port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKeyFile,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"LogLevel VERBOSE",
		"# no AcceptEnv",
		"",
	}, "\n"))

	var cmd *exec.Cmd
	if _, err := os.Stat("/run/sshd"); err == nil {
		cmd = exec.Command(sshdPath, "-D", "-e", "-f", config)
	} else {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("no /run/sshd (sshd's privilege separation directory) and no unshare to make a private one")
		}
		// unshare execs sh, which execs sshd: one PID throughout.
		cmd = exec.Command(unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
			"mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && exec "+sshdPath+" -D -e -f "+config)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.srv = &testServer{addr: addr, hostKey: authorizedKey(hostSigner), clientKey: clientPEM}
}

// Against OpenSSH's sshd without AcceptEnv: the update and the delete warn
// about PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR and still run; an
// `environment` entry fails the command.
func TestRealSshdWarnsWithoutAcceptEnv(t *testing.T) {
	rec := &recorder{}
	f := &fixture{t: t, p: New(rec), log: rec, dir: t.TempDir()}
	startSshd(t, f)
	file := filepath.Join(f.dir, "ran")
	conn := f.conn(map[string]any{"user": "root"})
	in := f.checked(map[string]any{"connection": conn, "create": "echo out; echo err >&2",
		"update": "echo updated > " + file + "; echo out; echo err >&2", "delete": "echo deleted > " + file})
	state := f.mustCreate(in)
	if str(t, state, "stdout") != "out" || str(t, state, "stderr") != "err" {
		t.Fatalf("outputs %v", state)
	}
	rec.take()
	news := f.checked(map[string]any{"connection": conn, "create": "echo out; echo err >&2",
		"update": "echo updated > " + file + "; echo out; echo err >&2; true", "delete": "echo deleted > " + file})
	out, err := f.update(state, in, news, false)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, file) != "updated\n" {
		t.Errorf("the update did not run")
	}
	checkWarnings(t, rec.take())
	if err := f.delete(out, news); err != nil {
		t.Fatal(err)
	}
	if readFile(t, file) != "deleted\n" {
		t.Errorf("the delete did not run")
	}
	checkWarnings(t, rec.take())

	_, _, err = f.create(f.checked(map[string]any{"connection": conn, "create": "true", "environment": map[string]any{"SITE": "a"}}), false)
	if err == nil || err.Error() != `could not set environment variable "SITE": ssh: setenv failed` {
		t.Errorf("environment: %v", err)
	}
}
