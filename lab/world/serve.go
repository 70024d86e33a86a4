package world

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// EndpointsCommand is the daemon's program name (lab/cmd/vpclab-endpoints):
// Down checks a PID's command line against it before it signals the PID.
const EndpointsCommand = "vpclab-endpoints"

func (w *World) endpointsPIDFile() string { return filepath.Join(w.endpointsDir(), "pid") }

// StartEndpoints starts the lab's endpoints daemon (bin: the
// vpclab-endpoints program) in the API namespace, detached, so that it
// outlives the caller; Down stops it by its PID. Its log is
// endpoints/log in the lab's directory (no secret is ever logged).
func (w *World) StartEndpoints(bin string) error {
	logf, err := os.OpenFile(filepath.Join(w.endpointsDir(), "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", "--net=/run/netns/"+w.NS("api"), "--", bin, "-prefix", w.Prefix, "-dir", w.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab endpoints: %w", err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(w.endpointsPIDFile(), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return err
	}
	// Until the program runs, the PID is nsenter's: watch it as a child.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Ready when the EC2 endpoint completes a TLS handshake that the lab's
	// CA verifies.
	caPEM, err := os.ReadFile(w.CACertFile())
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for i := 0; i < 100; i++ {
		if c, err := dialIn(w.NS("api"), APIIP+":443", 200*time.Millisecond); err == nil {
			tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: awsmodel.EC2Host("us-east-1")})
			c.SetDeadline(time.Now().Add(2 * time.Second))
			err := tc.Handshake()
			tc.Close()
			if err != nil {
				return fmt.Errorf("lab endpoints: TLS: %w", err)
			}
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(w.endpointsDir(), "log"))
			return fmt.Errorf("lab endpoints exited: %s", strings.TrimSpace(string(b)))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("lab endpoints: %s:443 not answering after 10 s", APIIP)
}

// endpointsRunning reports whether pid is this lab's endpoints daemon (its
// command line names the program and the lab's directory).
func (w *World) endpointsRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) > 0 && filepath.Base(args[0]) == EndpointsCommand && contains(args, w.Dir)
}

// stopEndpoints stops the daemon by the PID it recorded: TERM, then KILL.
func (w *World) stopEndpoints() error {
	b, err := os.ReadFile(w.endpointsPIDFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if !w.endpointsRunning(pid) {
			return nil
		}
		syscall.Kill(pid, sig)
		for i := 0; i < 30 && w.endpointsRunning(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if w.endpointsRunning(pid) {
		return fmt.Errorf("lab endpoints: PID %d survives", pid)
	}
	return nil
}

// listenIn opens a TCP listener inside a network namespace (the socket
// stays in it; the thread returns to its own namespace).
func listenIn(netns, addr string) (net.Listener, error) {
	var l net.Listener
	var listenErr error
	if err := inNetns(netns, func() { l, listenErr = net.Listen("tcp", addr) }); err != nil {
		if l != nil {
			l.Close()
		}
		return nil, err
	}
	return l, listenErr
}

// ServeEndpoints is the daemon: the EC2 API over TLS on APIIP:443 in the
// namespace it runs in, and IMDS on IMDSIP:80 in every VPC router
// namespace, opened as VPCs appear in the model and closed when they go.
// It returns when ctx ends.
func (w *World) ServeEndpoints(ctx context.Context, logw io.Writer) error {
	logger := log.New(logw, "", log.LstdFlags)
	e := NewEndpoints(w)
	e.logf = logger.Printf
	cert, err := tls.LoadX509KeyPair(w.serverCertFile(), w.serverKeyFile())
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", APIIP+":443")
	if err != nil {
		return err
	}
	api := &http.Server{Handler: logged(logger, "ec2", e.EC2Handler()), ErrorLog: logger,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go api.ServeTLS(l, "", "")
	defer api.Close()
	logger.Printf("EC2 API on https://%s:443", APIIP)

	imds := map[string]*http.Server{} // by VPC id
	defer func() {
		for _, s := range imds {
			s.Close()
		}
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, err := w.Load(); err == nil {
			for id, v := range m.VPCs {
				if imds[id] != nil {
					continue
				}
				if _, err := os.Stat("/run/netns/" + v.NS); err != nil {
					continue
				}
				l, err := listenIn(v.NS, IMDSIP+":80")
				if err != nil {
					continue // the router has no IMDS address yet: next round
				}
				s := &http.Server{Handler: logged(logger, "imds "+v.Name, e.IMDSHandler(id)), ErrorLog: logger}
				go s.Serve(l)
				imds[id] = s
				logger.Printf("IMDS in %s (VPC %s)", v.NS, id)
			}
			for id, s := range imds {
				if m.VPCs[id] == nil {
					s.Close()
					delete(imds, id)
					logger.Printf("IMDS of VPC %s closed", id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// statusWriter records a response's status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return s.ResponseWriter.(http.Hijacker).Hijack()
}

// logged logs each request's source, method, path and status: never a
// header or a body (they carry tokens and signatures).
func logged(l *log.Logger, what string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw, status: 200}
		h.ServeHTTP(sw, r)
		l.Printf("%s %s %s %s %d", what, r.RemoteAddr, r.Method, r.URL.Path, sw.status)
	})
}
