package world

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// run executes a command and returns its combined output; the error carries
// the command line and the output.
func run(args ...string) (string, error) {
	return runIn(nil, args...)
}

// runIn is run with standard input.
func runIn(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// must collects the first error of a sequence of commands.
type must struct{ err error }

func (m *must) run(args ...string) string {
	if m.err != nil {
		return ""
	}
	out, err := run(args...)
	m.err = err
	return out
}

// inNetns runs f on a thread that has joined the network namespace netns
// (sockets f creates stay in it), then returns the thread to its own
// namespace. An error leaving is returned as such: the caller must then
// close what f made. When the thread cannot leave it stays locked, and Go
// discards it when the goroutine ends.
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
		return fmt.Errorf("enter netns %s: %w", netns, err)
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave netns %s: %w", netns, err)
	}
	runtime.UnlockOSThread()
	return nil
}

// dialIn opens a TCP connection from inside a network namespace.
func dialIn(netns, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var dialErr error
	if err := inNetns(netns, func() { conn, dialErr = net.DialTimeout("tcp", addr, timeout) }); err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	return conn, dialErr
}

// Run executes a command and returns its combined output; the error carries
// the command line and the output.
func Run(args ...string) (string, error) { return run(args...) }

// RunIn is Run with standard input.
func RunIn(stdin []byte, args ...string) (string, error) { return runIn(stdin, args...) }

// DialIn opens a TCP connection from inside a network namespace.
func DialIn(netns, addr string, timeout time.Duration) (net.Conn, error) {
	return dialIn(netns, addr, timeout)
}
