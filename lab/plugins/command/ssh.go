package command

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// The environment variables that carry the previous run's outputs.
const (
	EnvStdout = "PULUMI_COMMAND_STDOUT"
	EnvStderr = "PULUMI_COMMAND_STDERR"
)

// Dial back-off, as the real provider's (pulumi's retry.Until defaults):
// the first wait is 100 ms, each next one 1.5 times longer, at most 5 s.
const (
	firstDelay = 100 * time.Millisecond
	backoff    = 1.5
	maxDelay   = 5 * time.Second
)

// SetenvMessage is the real provider's text when the server refuses an
// environment variable (no AcceptEnv for it): logged as a warning for
// PULUMI_COMMAND_STDOUT/STDERR, as an error for an `environment` entry.
func SetenvMessage(name string) string {
	return fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept\n"+
		"\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n"+
		"\tprefix the command itself with the variables in the form 'VAR=value command'", name)
}

// clientConfig is the SSH client configuration of c: key authentication,
// the host key pinned when given (and then only its algorithm offered),
// perDialTimeout bounding the TCP connect (as in ssh.Dial; 0: no bound).
func (c conn) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{
		User:    c.user,
		Timeout: time.Duration(c.perDialTimeout) * time.Second,
	}
	if c.hostKey != nil {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.hostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = []string{key.Type()}
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // as the real provider: unset means any
	}
	if c.privateKey != nil {
		signer, err := ssh.ParsePrivateKey([]byte(*c.privateKey))
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	return cfg, nil
}

// connect dials c, retrying as the real provider does: dialErrorLimit
// failures are retried (so limit+1 attempts in all; -1 retries forever),
// each retry announced as a status message, and the last error reported as
// "after N failed attempts: ERR" with N the limit. Every failure is retried,
// a host key mismatch too.
func (p *Provider) connect(ctx context.Context, urn resource.URN, c conn) (*ssh.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(c.host, fmt.Sprintf("%d", int(c.port)))
	delay := firstDelay
	for try := 0; ; try++ {
		delay = min(delay, maxDelay)
		client, err := p.dialOnce(addr, cfg)
		if err == nil {
			return client, nil
		}
		dials := try + 1
		if c.dialErrorLimit >= 0 && dials > c.dialErrorLimit {
			return nil, fmt.Errorf("after %d failed attempts: %w", try, err)
		}
		limit := "inf"
		if c.dialErrorLimit >= 0 {
			limit = fmt.Sprint(c.dialErrorLimit)
		}
		p.status(ctx, urn, fmt.Sprintf("Dial %d/%s failed: retrying", dials, limit))
		select {
		case <-p.after(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		delay = time.Duration(float64(delay) * backoff)
	}
}

func (p *Provider) dialOnce(addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	nc, err := p.dial("tcp", addr, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// lockedBuffer is a buffer written from the stdout and stderr copiers.
type lockedBuffer struct {
	mu  *sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lineLogger sends each complete line written to it to the engine as an
// info status message (the real provider's streaming of command output).
type lineLogger struct {
	mu      *sync.Mutex
	partial []byte
	emit    func(string)
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.emit(strings.TrimSuffix(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit(string(l.partial))
		l.partial = nil
	}
}

// run runs cmd over SSH as s describes; it returns stdout and stderr, each
// without one trailing newline. A failed command's error names the command
// and carries its output (stdout and stderr as they came).
func (p *Provider) run(ctx context.Context, urn resource.URN, s spec, cmd string) (string, string, error) {
	client, err := p.connect(ctx, urn, s.conn)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()

	for _, k := range sortedKeys(s.environment) {
		if err := session.Setenv(k, s.environment[k]); err != nil {
			p.log(ctx, diag.Error, urn, SetenvMessage(k))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	if s.addPreviousOutputInEnv == nil || *s.addPreviousOutputInEnv {
		for _, e := range []struct{ name, value string }{{EnvStdout, s.stdout}, {EnvStderr, s.stderr}} {
			if e.value == "" {
				continue
			}
			if err := session.Setenv(e.name, e.value); err != nil {
				// Optimistic, as the real provider: warn and run anyway.
				p.log(ctx, diag.Warning, urn, SetenvMessage(e.name))
			}
		}
	}
	if s.stdin != "" {
		session.Stdin = strings.NewReader(s.stdin)
	}

	mu := &sync.Mutex{}
	stdout, stderr, both := &lockedBuffer{mu: mu}, &lockedBuffer{mu: mu}, &lockedBuffer{mu: mu}
	logMu := &sync.Mutex{}
	lines := &lineLogger{mu: logMu, emit: func(line string) { p.status(ctx, urn, line) }}
	outs := []io.Writer{stdout, both}
	if s.logging == "" || s.logging == "stdout" || s.logging == "stdoutAndStderr" {
		outs = append(outs, lines)
	}
	errs := []io.Writer{stderr, both}
	if s.logging == "" || s.logging == "stderr" || s.logging == "stdoutAndStderr" {
		errs = append(errs, lines)
	}
	session.Stdout = io.MultiWriter(outs...)
	session.Stderr = io.MultiWriter(errs...)

	err = session.Run(cmd)
	lines.flush()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, cmd, both.buf.String())
	}
	return strings.TrimSuffix(stdout.buf.String(), "\n"), strings.TrimSuffix(stderr.buf.String(), "\n"), nil
}
