package command

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testServer is an SSH server on 127.0.0.1 that runs exec requests with
// `bash -c` as the test's own user, feeds them the session's stdin and
// returns their exit status. It accepts `env` requests for the names
// acceptEnv admits and refuses the others, as sshd without AcceptEnv.
type testServer struct {
	addr      string
	hostKey   string // authorized_keys line of the host key
	clientKey string // PEM of the key the server admits
	acceptEnv func(name string) bool

	mu       sync.Mutex
	conns    int           // TCP connections accepted
	sessions []testSession // completed exec requests, in order
}

// testSession is what one exec request saw.
type testSession struct {
	user    string
	command string
	env     map[string]string // accepted env requests
	refused []string          // refused env requests
}

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func authorizedKey(s ssh.Signer) string { return string(ssh.MarshalAuthorizedKey(s.PublicKey())) }

// startServer starts a server accepting env names per acceptEnv (nil:
// none); it stops with the test.
func startServer(t *testing.T, acceptEnv func(string) bool) *testServer {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPEM := newKey(t)
	if acceptEnv == nil {
		acceptEnv = func(string) bool { return false }
	}
	s := &testServer{hostKey: authorizedKey(hostSigner), clientKey: clientPEM, acceptEnv: acceptEnv}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientSigner.PublicKey().Marshal()) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(nc, cfg)
		}
	}()
	return s
}

func (s *testServer) port() float64 {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return float64(n)
}

func (s *testServer) serve(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			return
		}
		go s.session(sc.User(), ch, chReqs)
	}
}

func (s *testServer) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	rec := testSession{user: user, env: map[string]string{}}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil {
				req.Reply(false, nil)
				continue
			}
			if s.acceptEnv(kv.Name) {
				rec.env[kv.Name] = kv.Value
				req.Reply(true, nil)
			} else {
				rec.refused = append(rec.refused, kv.Name)
				req.Reply(false, nil)
			}
		case "exec":
			var cmdline struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmdline); err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			rec.command = cmdline.Command
			status := s.exec(ch, rec)
			s.mu.Lock()
			s.sessions = append(s.sessions, rec)
			s.mu.Unlock()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			return
		default:
			req.Reply(false, nil)
		}
	}
}

func (s *testServer) exec(ch ssh.Channel, rec testSession) uint32 {
	cmd := exec.Command("bash", "-c", rec.command)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range rec.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return uint32(exit.ExitCode())
	}
	return 255
}

// snapshot returns the connections counted and the sessions run so far.
func (s *testServer) snapshot() (int, []testSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, append([]testSession(nil), s.sessions...)
}

// commands are the commands run so far.
func (s *testServer) commands() []string {
	_, sessions := s.snapshot()
	var out []string
	for _, x := range sessions {
		out = append(out, x.command)
	}
	return out
}
