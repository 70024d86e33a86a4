package lab

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// SSHTarget is how a remote.Command reaches its host.
type SSHTarget struct {
	Host, User string
	Port       int
	PrivateKey string
	// Tries bounds the dial attempts, one per second, like the provider's
	// dialErrorLimit.
	Tries int
}

// Exec runs command on the target over SSH from the operator's namespace
// with stdin, as pulumi-command's remote.Command does, and returns stdout
// and stderr. The host key is not pinned (the program sets no HostKey).
func Exec(opts Options, t SSHTarget, command, stdin string) (string, string, error) {
	opts = opts.withDefaults()
	signer, err := ssh.ParsePrivateKey([]byte(t.PrivateKey))
	if err != nil {
		return "", "", fmt.Errorf("ssh %s@%s: private key unusable", t.User, t.Host)
	}
	if t.Port == 0 {
		t.Port = 22
	}
	if t.Tries <= 0 {
		t.Tries = 30
	}
	addr := fmt.Sprintf("%s:%d", t.Host, t.Port)
	var client *ssh.Client
	for try := 1; ; try++ {
		conn, err := dialIn(opts.ns("op"), addr, 5*time.Second)
		if err == nil {
			c, chans, reqs, herr := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
				User:            t.User,
				Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
				HostKeyCallback: ssh.InsecureIgnoreHostKey(),
				Timeout:         10 * time.Second,
			})
			if herr == nil {
				client = ssh.NewClient(c, chans, reqs)
				break
			}
			conn.Close()
			err = herr
		}
		if try >= t.Tries {
			return "", "", fmt.Errorf("ssh %s@%s: %w (after %d tries)", t.User, addr, err, try)
		}
		time.Sleep(time.Second)
	}
	defer client.Close()
	// A bound the provider does not have, so a hung script cannot hang the lab.
	watchdog := time.AfterFunc(10*time.Minute, func() { client.Close() })
	defer watchdog.Stop()
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()
	var stdout, stderr bytes.Buffer
	session.Stdout, session.Stderr = &stdout, &stderr
	session.Stdin = strings.NewReader(stdin)
	err = session.Run(command)
	return stdout.String(), stderr.String(), err
}

// targetOf reads a remote.Command's connection.
func targetOf(r *mockaws.Registration) SSHTarget {
	c := r.InputObject("connection")
	t := SSHTarget{Host: mockaws.Text(c["host"]), User: mockaws.Text(c["user"]), PrivateKey: mockaws.Text(c["privateKey"])}
	t.Port, _ = strconv.Atoi(mockaws.Text(c["port"]))
	t.Tries, _ = strconv.Atoi(mockaws.Text(c["dialErrorLimit"]))
	return t
}

var (
	linkHeader  = regexp.MustCompile(`(?m)^# Managed by vpclink \(Pulumi\)\. Link "([^"]+)"`)
	ifconfigRe  = regexp.MustCompile(`(?m)^ifconfig (\S+) (\S+)$`)
	directionRe = regexp.MustCompile(`(?m)^secret \S+ ([01])$`)
)

// runCommand executes a remote.Command's create over SSH, like the
// provider, and records what a setup configured.
func (l *lab) runCommand(r *mockaws.Registration) error {
	l.beforeFirstCommand()
	t := targetOf(r)
	create := r.Input("create")
	l.mu.Lock()
	inst := l.instances[l.eips[t.Host]]
	l.mu.Unlock()
	if inst == nil {
		return fmt.Errorf("lab: %s: no instance behind %s", r.Name, t.Host)
	}
	start := time.Now()
	stdout, stderr, err := Exec(l.opts, t, create, r.Input("stdin"))
	r.Outputs["stdout"] = resource.NewProperty(stdout)
	r.Outputs["stderr"] = resource.NewProperty(stderr)
	if err != nil {
		// Like the provider, fail the resource; the script prints no secret.
		return fmt.Errorf("%s on %s (%s): %w\n%s%s", r.Name, inst.name, t.Host, err, stdout, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		l.logf("%s on %s (%.1fs): %s", r.Name, inst.name, time.Since(start).Seconds(), line)
	}
	l.mu.Lock()
	l.commands = append(l.commands, Command{Name: r.Name, Target: t, Create: create, Delete: r.Input("delete"), Stdin: r.Input("stdin")})
	l.mu.Unlock()

	// A setup names its link, tunnel addresses and key direction.
	script := strings.ReplaceAll(create, `'\''`, `'`)
	name, ifc, dir := linkHeader.FindStringSubmatch(script), ifconfigRe.FindStringSubmatch(script), directionRe.FindStringSubmatch(script)
	if name == nil || ifc == nil || dir == nil {
		return nil
	}
	end, _ := strconv.Atoi(dir[1])
	l.mu.Lock()
	defer l.mu.Unlock()
	inst.host.VPN = true
	var link *Link
	for _, k := range l.state.Links {
		if k.Name == name[1] {
			link = k
		}
	}
	if link == nil {
		link = &Link{Name: name[1]}
		l.state.Links = append(l.state.Links, link)
	}
	link.Ends[end] = inst.name
	link.TunnelIPs[end] = ifc[1]
	link.TunnelIPs[1-end] = ifc[2]
	l.setupsDone = time.Now()
	return nil
}
