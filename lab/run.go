package lab

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// Run is what Up did.
type Run struct {
	// State describes the hosts and links that were built.
	State *State
	// SetupsDone is when the last setup command finished.
	SetupsDone time.Time
	// Commands are the remote commands that ran, in memory only: they hold
	// the static key (Stdin) and the SSH key.
	Commands []Command
}

// Command is one remote.Command as the program registered it.
type Command struct {
	Name                  string
	Target                SSHTarget
	Create, Delete, Stdin string
}

// Command returns the named command, or nil.
func (r *Run) Command(name string) *Command {
	for i := range r.Commands {
		if r.Commands[i].Name == name {
			return &r.Commands[i]
		}
	}
	return nil
}

// Hooks let tests look at the lab while the program runs.
type Hooks struct {
	// BeforeTunnel runs once, just before the first remote command, when
	// every instance registered so far exists and no OpenVPN runs yet.
	BeforeTunnel func(*State)
}

// additional lab fields kept apart from the model.
type progress struct {
	once         sync.Once
	lastInstance time.Time
	setupsDone   time.Time
	hooks        Hooks
	loginUser    string
}

// touched records an instance registration (call with l.mu held).
func (l *lab) touched() { l.lastInstance = time.Now() }

// beforeFirstCommand waits until instance registrations have settled (the
// program registers them all before its commands can run, but concurrently)
// and hands the hosts to the BeforeTunnel hook.
func (l *lab) beforeFirstCommand() {
	l.once.Do(func() {
		if l.hooks.BeforeTunnel == nil {
			return
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			l.mu.Lock()
			quiet := time.Since(l.lastInstance) > 1500*time.Millisecond
			l.mu.Unlock()
			if quiet {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		l.mu.Lock()
		snapshot := l.state
		l.mu.Unlock()
		l.hooks.BeforeTunnel(&snapshot)
	})
}

// Up builds the lab and runs program on the stack configuration cfg (as
// read from a stack file) against it. The operator's address replaces
// vpclink:sshAllowedCidrs, since `pulumi up` connects from there. Whatever
// happens, Down removes everything Up made.
func Up(program pulumi.RunFunc, stack string, cfg map[string]string, opts Options, hooks Hooks) (*Run, error) {
	opts = opts.withDefaults()
	if err := Preflight(); err != nil {
		return nil, err
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`).MatchString(opts.Prefix) {
		return nil, fmt.Errorf("lab prefix %q: want 1-8 lowercase letters and digits", opts.Prefix)
	}
	if _, err := os.Stat(opts.StateDir); err == nil {
		return nil, fmt.Errorf("lab %q is already up (%s): run `down` first", opts.Prefix, opts.StateDir)
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, err
	}
	l := &lab{
		opts: opts, state: State{Prefix: opts.Prefix},
		vpcs: map[string]*vpc{}, subnets: map[string]*subnet{}, instances: map[string]*instance{},
		tables: map[string]*routeTable{}, assoc: map[string]string{}, groups: map[string]*securityGroup{},
		keys: map[string]string{}, eips: map[string]string{},
	}
	l.hooks = hooks
	l.loginUser = cfg["vpclink:sshUser"]
	if l.loginUser == "" {
		l.loginUser = "ubuntu"
	}
	run := &Run{}
	if err := l.base(); err != nil {
		return nil, fmt.Errorf("lab: base network: %w", err)
	}

	config := map[string]string{}
	var secretKeys []string
	for k, v := range cfg {
		config[k] = v
	}
	config["vpclink:sshAllowedCidrs"] = fmt.Sprintf(`["%s/32"]`, OperatorIP)
	if config["vpclink:sshPrivateKey"] != "" {
		secretKeys = append(secretKeys, "vpclink:sshPrivateKey")
	}
	l.logf("stack %s: SSH admitted from the operator %s only", stack, OperatorIP)

	mon := &mockaws.Monitor{Random: rand.Reader, Hook: l.hook}
	err := pulumi.RunErr(program, pulumi.WithMocks("vpclink", stack, mon), func(info *pulumi.RunInfo) {
		info.Config = config
		info.ConfigSecretKeys = secretKeys
	})
	l.mu.Lock()
	run.State = &l.state
	run.SetupsDone = l.setupsDone
	run.Commands = l.commands
	saveErr := l.state.save(opts)
	l.mu.Unlock()
	if err != nil {
		return run, fmt.Errorf("pulumi up (lab): %w", err)
	}
	return run, saveErr
}

// Down removes every namespace, mount and file of the lab and stops the
// processes running in its namespaces, by PID. It works after a failed or
// partial Up, and when nothing is up.
func Down(opts Options) error {
	opts = opts.withDefaults()
	var errs []error
	namespaces, err := Namespaces(opts)
	if err != nil {
		return err
	}
	for _, ns := range namespaces {
		if err := killIn(ns); err != nil {
			errs = append(errs, err)
		}
	}
	mnt := filepath.Join(opts.StateDir, "mnt")
	if entries, err := os.ReadDir(mnt); err == nil {
		for _, e := range entries {
			p := filepath.Join(mnt, e.Name())
			run("umount", p) // not mounted when a host failed early
		}
	}
	for {
		if _, err := run("umount", mnt); err != nil {
			break
		}
	}
	for _, ns := range namespaces {
		if _, err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(opts.StateDir); err != nil {
		errs = append(errs, err)
	}
	os.Remove(filepath.Dir(opts.StateDir)) // the labs' common parent, once empty
	return errors.Join(errs...)
}

// Namespaces lists the lab's network namespaces.
func Namespaces(opts Options) ([]string, error) {
	opts = opts.withDefaults()
	out, err := run("ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var mine []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], opts.Prefix+"-") {
			mine = append(mine, f[0])
		}
	}
	return mine, nil
}

// killIn stops every process in a namespace: TERM, then KILL after 3 s.
func killIn(ns string) error {
	pids := func() []string {
		out, _ := run("ip", "netns", "pids", ns)
		return strings.Fields(out)
	}
	for _, sig := range []string{"TERM", "KILL"} {
		p := pids()
		if len(p) == 0 {
			return nil
		}
		run(append([]string{"kill", "-" + sig}, p...)...)
		for i := 0; i < 30 && len(pids()) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if p := pids(); len(p) > 0 {
		return fmt.Errorf("lab: processes %v survive in %s", p, ns)
	}
	return nil
}
