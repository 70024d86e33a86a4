// Package boot boots one emulated instance with real systemd
// (systemd-nspawn -b) inside a network namespace the caller made, on an
// overlayfs whose lower dirs come from lab/image.
//
// Everything about a host lives in its state directory:
//
//	host.json        the Config (without user-data) and the start time
//	upper/ work/     overlayfs upper and work dirs (the seed goes to upper/var/lib/cloud/seed/nocloud)
//	merged/          the overlay mount point, the container's root
//	supervisor.sh    the supervisor: restarts systemd-nspawn when it exits 133 (a reboot inside)
//	supervisor.pid   the supervisor's PID (it runs in its own session, detached from the starter)
//	nspawn.pid       the current systemd-nspawn's PID
//	supervisor.log   the supervisor's own lines; console.log: the container's console
//	stop             present once Stop was called: the supervisor does not restart nspawn
//	exit.status      nspawn's last exit status, written when the supervisor ends
//
// The functions take the state directory, so a later process (a "down" after
// a crash) can find and stop everything; Host is a small convenience wrapper.
package boot

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config describes one host.
type Config struct {
	Name     string   `json:"name"`     // machine name, unique on the machine (e.g. "vt1a2b3c-a-vpn"), a valid hostname
	NetNS    string   `json:"netns"`    // network namespace under /run/netns, made and addressed by the caller
	Lower    []string `json:"lower"`    // overlay lower dirs, top first (image.Set.Lower)
	StateDir string   `json:"stateDir"` // per-host directory (created if missing)
	UserData string   `json:"-"`        // NoCloud user-data (#cloud-config ...)
	MetaData string   `json:"-"`        // NoCloud meta-data; "" makes "instance-id: NAME\nlocal-hostname: NAME\n"
	// ExtraArgs are added to systemd-nspawn's arguments (e.g. more --bind=).
	ExtraArgs []string `json:"extraArgs,omitempty"`
}

type hostFile struct {
	Config
	Started time.Time `json:"started"`
	Cgroup  string    `json:"cgroup"` // cgroup v2 directory of systemd-nspawn and the container
}

// CgroupRoot is the cgroup (v2) directory, under the unified hierarchy, that
// holds one cgroup per host.
const CgroupRoot = "vpclink-lab"

// unifiedMount returns where the cgroup v2 hierarchy is mounted.
func unifiedMount() (string, error) {
	for _, d := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(d, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
				return d, nil
			}
		}
	}
	return "", errors.New("boot: no cgroup v2 hierarchy mounted (need /sys/fs/cgroup or /sys/fs/cgroup/unified)")
}

// Host is a handle on a started host: its methods call the package functions
// with its state directory.
type Host struct {
	StateDir string
	Name     string
	NetNS    string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// supervisorScript restarts systemd-nspawn when it exits 133 (reboot inside
// the guest) unless STATE/stop exists, and stops on any other exit status.
const supervisorScript = `#!/bin/bash
# vpclink-lab-supervisor: $1 is the state dir, $2 the cgroup (v2) for nspawn, the rest is the systemd-nspawn command.
S=$1; CG=$2; shift 2
echo $$ > "$S/supervisor.pid.tmp" && mv -f "$S/supervisor.pid.tmp" "$S/supervisor.pid"
trap '' HUP
child=
trap 'touch "$S/stop"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
n=0
rc=0
while [ ! -e "$S/stop" ]; do
	n=$((n+1))
	echo "$(date '+%F %T.%N') boot $n"
	# systemd-nspawn runs in its own cgroup (v2): it makes CG/supervisor and
	# CG/payload there, so hosts never share a cgroup.
	mkdir -p "$CG"
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' cg "$CG" "$@" </dev/null >>"$S/console.log" 2>&1 &
	child=$!
	echo "$child" > "$S/nspawn.pid.tmp" && mv -f "$S/nspawn.pid.tmp" "$S/nspawn.pid"
	# wait returns early when a trapped signal arrives: wait again until the
	# child is gone, then once more for its saved exit status.
	while kill -0 "$child" 2>/dev/null; do wait "$child"; done
	wait "$child"; rc=$?
	rm -f "$S/nspawn.pid"
	child=
	echo "$(date '+%F %T.%N') systemd-nspawn exited $rc"
	[ "$rc" -eq 133 ] || break
done
echo "$rc" > "$S/exit.status"
rm -f "$S/supervisor.pid"
`

// Start mounts the overlay and starts systemd-nspawn under a detached
// supervisor. It returns once the supervisor and nspawn are running; use
// WaitRunning and WaitCloudInit to wait for the guest.
func Start(ctx context.Context, c Config) (*Host, error) {
	if !nameRE.MatchString(c.Name) {
		return nil, fmt.Errorf("boot: bad machine name %q", c.Name)
	}
	if c.NetNS == "" || strings.ContainsAny(c.NetNS, "/") {
		return nil, fmt.Errorf("boot: bad netns name %q", c.NetNS)
	}
	if _, err := os.Stat("/run/netns/" + c.NetNS); err != nil {
		return nil, fmt.Errorf("boot: netns %s: %w", c.NetNS, err)
	}
	if len(c.Lower) == 0 {
		return nil, errors.New("boot: no lower dirs")
	}
	for _, l := range c.Lower {
		if strings.ContainsAny(l, ":,") || !filepath.IsAbs(l) {
			return nil, fmt.Errorf("boot: lower dir %q must be absolute without ':' or ','", l)
		}
		if _, err := os.Stat(filepath.Join(l)); err != nil {
			return nil, fmt.Errorf("boot: lower dir: %w", err)
		}
	}
	if c.StateDir == "" {
		return nil, errors.New("boot: no state dir")
	}
	sd, err := filepath.Abs(c.StateDir)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(sd, ":, ") {
		return nil, fmt.Errorf("boot: state dir %q must not contain ':', ',' or spaces", sd)
	}
	c.StateDir = sd
	if pid := supervisorPID(sd); pid > 0 {
		return nil, fmt.Errorf("boot: %s already has a running supervisor (pid %d)", sd, pid)
	}
	upper, work, merged := filepath.Join(sd, "upper"), filepath.Join(sd, "work"), filepath.Join(sd, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"stop", "exit.status", "nspawn.pid", "supervisor.pid"} {
		os.Remove(filepath.Join(sd, f))
	}
	um, err := unifiedMount()
	if err != nil {
		return nil, err
	}
	hf := hostFile{Config: c, Started: time.Now(), Cgroup: filepath.Join(um, CgroupRoot, c.Name)}
	data, _ := json.MarshalIndent(hf, "", "  ")
	if err := os.WriteFile(filepath.Join(sd, "host.json"), data, 0o644); err != nil {
		return nil, err
	}
	// The NoCloud seed, in the upper dir before the overlay is mounted.
	seed := filepath.Join(upper, "var/lib/cloud/seed/nocloud")
	if err := os.MkdirAll(seed, 0o700); err != nil {
		return nil, err
	}
	meta := c.MetaData
	if meta == "" {
		meta = fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", c.Name, c.Name)
	}
	if err := os.WriteFile(filepath.Join(seed, "meta-data"), []byte(meta), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(seed, "user-data"), []byte(c.UserData), 0o600); err != nil {
		return nil, err
	}
	if !isMounted(merged) {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(c.Lower, ":"), upper, work)
		if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
			return nil, fmt.Errorf("boot: mount overlay on %s (%s): %w", merged, opts, err)
		}
	}
	script := filepath.Join(sd, "supervisor.sh")
	if err := os.WriteFile(script, []byte(supervisorScript), 0o755); err != nil {
		Stop(sd)
		return nil, err
	}
	nspawn := []string{"systemd-nspawn", "-b", "-D", merged, "-M", c.Name,
		"--register=no", "--keep-unit",
		"--network-namespace-path=/run/netns/" + c.NetNS, "--private-network",
		"--console=passive", "--resolv-conf=off", "--timezone=off", "--link-journal=no"}
	if _, err := os.Stat("/dev/net/tun"); err == nil {
		nspawn = append(nspawn, "--bind=/dev/net/tun")
	}
	nspawn = append(nspawn, c.ExtraArgs...)
	logf, err := os.OpenFile(filepath.Join(sd, "supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		Stop(sd)
		return nil, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		Stop(sd)
		return nil, err
	}
	defer devnull.Close()
	// setsid --fork: the supervisor gets its own session and process group
	// and is reparented at once, so it outlives the starter and a kill of the
	// starter's process group.
	args := append([]string{"--fork", "bash", script, sd, hf.Cgroup}, nspawn...)
	cmd := exec.Command("setsid", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Dir = sd
	// The guest gets a cgroup v2 (unified) hierarchy even on a hybrid host:
	// systemd >= 256 refuses cgroup v1 (trixie has 257, sid 26x).
	cmd.Env = []string{pathEnv, "LANG=C", "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		Stop(sd)
		return nil, fmt.Errorf("boot: start supervisor: %w", err)
	}
	// Wait for the supervisor and nspawn PIDs.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if nspawnPID(sd) > 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			msg := tail(filepath.Join(sd, "supervisor.log"), 5) + " / " + tail(filepath.Join(sd, "console.log"), 10)
			Stop(sd)
			return nil, fmt.Errorf("boot: systemd-nspawn for %s did not start: %s", c.Name, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Host{StateDir: sd, Name: c.Name, NetNS: c.NetNS}, nil
}

// Open returns a handle on a host started earlier in stateDir.
func Open(stateDir string) (*Host, error) {
	hf, err := readHostFile(stateDir)
	if err != nil {
		return nil, err
	}
	return &Host{StateDir: hf.StateDir, Name: hf.Name, NetNS: hf.NetNS}, nil
}

func readHostFile(stateDir string) (*hostFile, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, "host.json"))
	if err != nil {
		return nil, err
	}
	var hf hostFile
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, err
	}
	if hf.StateDir == "" {
		hf.StateDir = stateDir
	}
	return &hf, nil
}

// Leader returns the PID (in the machine's PID namespace) of systemd inside
// the host: the child of systemd-nspawn whose comm is systemd.
func Leader(stateDir string) (int, error) {
	np := nspawnPID(stateDir)
	if np == 0 {
		return 0, fmt.Errorf("boot: %s: systemd-nspawn is not running", stateDir)
	}
	for _, c := range children(np) {
		if comm(c) == "systemd" {
			return c, nil
		}
	}
	return 0, fmt.Errorf("boot: %s: systemd-nspawn (pid %d) has no systemd child yet", stateDir, np)
}

// Exec runs a command inside the host (nsenter -t LEADER -a) and returns its
// combined output.
func Exec(stateDir string, args ...string) (string, error) {
	return ExecContext(context.Background(), stateDir, args...)
}

// ExecContext is Exec with a context.
func ExecContext(ctx context.Context, stateDir string, args ...string) (string, error) {
	cmd, err := Command(ctx, stateDir, args...)
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %w: %s", filepath.Base(stateDir), strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Command returns an exec.Cmd that runs args inside the host, for callers
// that want their own stdin/stdout.
func Command(ctx context.Context, stateDir string, args ...string) (*exec.Cmd, error) {
	if len(args) == 0 {
		return nil, errors.New("boot: no command")
	}
	l, err := Leader(stateDir)
	if err != nil {
		return nil, err
	}
	full := append([]string{"-t", strconv.Itoa(l), "-a", "--", "env", "-i", pathEnv, "LANG=C", "HOME=/root", "TERM=dumb"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.WaitDelay = 2 * time.Second
	return cmd, nil
}

// WaitRunning waits until systemctl is-system-running reports running or
// degraded. For degraded it returns the failed units (and a nil error).
func WaitRunning(ctx context.Context, stateDir string) (failed []string, err error) {
	last := "no leader"
	for {
		if supervisorPID(stateDir) == 0 && nspawnPID(stateDir) == 0 {
			return nil, fmt.Errorf("boot: %s stopped while waiting (last state %s): %s", stateDir, last,
				tail(filepath.Join(stateDir, "console.log"), 15))
		}
		if _, lerr := Leader(stateDir); lerr == nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			out, _ := ExecContext(cctx, stateDir, "systemctl", "is-system-running")
			cancel()
			state := strings.TrimSpace(out)
			if i := strings.LastIndex(state, "\n"); i >= 0 {
				state = state[i+1:]
			}
			if state != "" {
				last = state
			}
			switch state {
			case "running":
				return nil, nil
			case "degraded":
				out, err := ExecContext(ctx, stateDir, "systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager")
				if err != nil {
					return nil, fmt.Errorf("boot: degraded, and listing failed units: %w", err)
				}
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if f := strings.Fields(line); len(f) > 0 {
						failed = append(failed, f[0])
					}
				}
				return failed, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("boot: %s not running (last state %q): %w", stateDir, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitCloudInit waits for `cloud-init status --wait` and returns an error
// with its long status unless it reports done.
func WaitCloudInit(ctx context.Context, stateDir string) error {
	for {
		if _, err := Leader(stateDir); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	out, err := ExecContext(ctx, stateDir, "cloud-init", "status", "--wait")
	if strings.Contains(out, "status: done") {
		return nil
	}
	long, _ := ExecContext(context.Background(), stateDir, "cloud-init", "status", "--long")
	if err == nil {
		err = errors.New("not done")
	}
	return fmt.Errorf("boot: cloud-init in %s: %w\n%s", filepath.Base(stateDir), err, strings.TrimSpace(long))
}

// Reboot runs systemctl reboot inside and waits for the new systemd and for
// running (or degraded: the failed units are returned).
func Reboot(ctx context.Context, stateDir string) ([]string, error) {
	old, err := Leader(stateDir)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	ExecContext(cctx, stateDir, "systemctl", "reboot")
	cancel()
	for {
		if l, err := Leader(stateDir); err == nil && l != old {
			break
		}
		if supervisorPID(stateDir) == 0 {
			return nil, fmt.Errorf("boot: %s: supervisor gone during reboot: %s", stateDir, tail(filepath.Join(stateDir, "supervisor.log"), 5))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("boot: %s: no new systemd after reboot: %w", stateDir, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return WaitRunning(ctx, stateDir)
}

// Stop powers the host off (systemctl poweroff, up to 20 s), then kills what
// is left of the processes this package started (by their recorded PIDs,
// checked against the state dir) and unmounts the overlay. It is safe to call
// twice, after a failed Start, and on a state dir without a host.
func Stop(stateDir string) error {
	sd, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(sd); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	os.WriteFile(filepath.Join(sd, "stop"), nil, 0o644)
	leader, _ := Leader(sd)
	if leader > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ExecContext(ctx, sd, "systemctl", "poweroff", "--no-block")
		cancel()
		waitGone(func() bool { return nspawnPID(sd) > 0 }, 20*time.Second)
	}
	var errs []error
	if np := nspawnPID(sd); np > 0 {
		if leader == 0 {
			leader, _ = Leader(sd)
		}
		syscall.Kill(np, syscall.SIGTERM) // nspawn shuts the container down
		if !waitGone(func() bool { return nspawnPID(sd) == np }, 10*time.Second) {
			syscall.Kill(np, syscall.SIGKILL)
			waitGone(func() bool { return nspawnPID(sd) == np }, 5*time.Second)
		}
	}
	// A container whose nspawn died keeps running: kill its init (and so its
	// PID namespace), if it still is ours.
	if leader > 0 && isOurLeader(leader, sd) {
		syscall.Kill(leader, syscall.SIGKILL)
		waitGone(func() bool { return isOurLeader(leader, sd) }, 5*time.Second)
	}
	// The supervisor ends by itself once nspawn is gone and stop exists.
	waitGone(func() bool { return supervisorPID(sd) > 0 }, 3*time.Second)
	if sp := supervisorPID(sd); sp > 0 {
		syscall.Kill(sp, syscall.SIGTERM)
		if !waitGone(func() bool { return supervisorPID(sd) == sp }, 5*time.Second) {
			syscall.Kill(sp, syscall.SIGKILL)
			waitGone(func() bool { return supervisorPID(sd) == sp }, 5*time.Second)
		}
		if supervisorPID(sd) == sp {
			errs = append(errs, fmt.Errorf("boot: supervisor %d of %s survived SIGKILL", sp, sd))
		}
	}
	if np := nspawnPID(sd); np > 0 {
		errs = append(errs, fmt.Errorf("boot: systemd-nspawn %d of %s survived SIGKILL", np, sd))
	}
	// Whatever is left in the host's own cgroup was started by it: kill it
	// and remove the cgroup.
	if hf, err := readHostFile(sd); err == nil && hf.Cgroup != "" {
		if err := removeCgroup(hf.Cgroup); err != nil {
			errs = append(errs, err)
		}
		// On a hybrid host systemd-nspawn mirrors the cgroup into the
		// name=systemd v1 hierarchy: remove that copy too.
		if i := strings.Index(hf.Cgroup, "/"+CgroupRoot+"/"); i >= 0 {
			v1 := filepath.Join("/sys/fs/cgroup/systemd", hf.Cgroup[i:])
			if v1 != hf.Cgroup {
				if err := removeCgroup(v1); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := unmount(filepath.Join(sd, "merged")); err != nil {
		errs = append(errs, err)
	}
	os.Remove(filepath.Join(sd, "nspawn.pid"))
	os.Remove(filepath.Join(sd, "supervisor.pid"))
	return errors.Join(errs...)
}

// Remove stops the host and deletes its state directory.
func Remove(stateDir string) error {
	if err := Stop(stateDir); err != nil {
		return err
	}
	if isMounted(filepath.Join(stateDir, "merged")) {
		return fmt.Errorf("boot: %s still mounted, not removed", stateDir)
	}
	return os.RemoveAll(stateDir)
}

// List returns the state dirs of hosts under root (searched a few levels deep).
func List(root string) ([]string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	base := strings.Count(root, string(os.PathSeparator))
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil
		}
		if d.IsDir() {
			switch d.Name() {
			case "upper", "work", "merged":
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), "host.json")); err == nil {
					return filepath.SkipDir
				}
			}
			if strings.Count(path, string(os.PathSeparator))-base > 4 {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "host.json" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return dirs, err
}

// StopAll stops every host under root, then unmounts any overlay still
// mounted under root (e.g. after a crash that lost a host.json).
func StopAll(root string) error {
	dirs, err := List(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := Stop(d); err != nil {
			errs = append(errs, err)
		}
	}
	abs, _ := filepath.Abs(root)
	for _, m := range mountsUnder(abs) {
		if err := unmount(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Mem is the memory of the processes inside a host.
type Mem struct {
	Procs int
	RSS   uint64 // sum of VmRSS (shared pages counted in each process)
	PSS   uint64 // sum of Pss (shared pages divided among their users)
}

func (m Mem) String() string {
	return fmt.Sprintf("%d processes, RSS %.1f MiB, PSS %.1f MiB", m.Procs, float64(m.RSS)/(1<<20), float64(m.PSS)/(1<<20))
}

// Memory sums the memory of the processes in the host's PID namespace.
func Memory(stateDir string) (Mem, error) {
	l, err := Leader(stateDir)
	if err != nil {
		return Mem{}, err
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", l))
	if err != nil {
		return Mem{}, err
	}
	var m Mem
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if n, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || n != ns {
			continue
		}
		m.Procs++
		m.RSS += statusKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:") * 1024
		m.PSS += statusKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:") * 1024
	}
	return m, nil
}

// Leader returns the PID of systemd inside the host.
func (h *Host) Leader() (int, error) { return Leader(h.StateDir) }

// Exec runs a command inside the host.
func (h *Host) Exec(args ...string) (string, error) { return Exec(h.StateDir, args...) }

// ExecContext runs a command inside the host.
func (h *Host) ExecContext(ctx context.Context, args ...string) (string, error) {
	return ExecContext(ctx, h.StateDir, args...)
}

// WaitRunning: see the function.
func (h *Host) WaitRunning(ctx context.Context) ([]string, error) {
	return WaitRunning(ctx, h.StateDir)
}

// WaitCloudInit: see the function.
func (h *Host) WaitCloudInit(ctx context.Context) error { return WaitCloudInit(ctx, h.StateDir) }

// Reboot: see the function.
func (h *Host) Reboot(ctx context.Context) ([]string, error) { return Reboot(ctx, h.StateDir) }

// Stop: see the function.
func (h *Host) Stop() error { return Stop(h.StateDir) }

// Memory: see the function.
func (h *Host) Memory() (Mem, error) { return Memory(h.StateDir) }

// ---- processes ----

// supervisorPID returns the supervisor's PID if it is alive and ours.
func supervisorPID(sd string) int {
	pid := readPID(filepath.Join(sd, "supervisor.pid"))
	if pid <= 0 || !alive(pid) {
		return 0
	}
	args := cmdline(pid)
	if len(args) >= 3 && args[0] == "bash" && args[1] == filepath.Join(sd, "supervisor.sh") && args[2] == sd {
		return pid
	}
	return 0
}

// nspawnPID returns systemd-nspawn's PID if it is alive and ours.
func nspawnPID(sd string) int {
	pid := readPID(filepath.Join(sd, "nspawn.pid"))
	if pid <= 0 || !alive(pid) {
		return 0
	}
	args := cmdline(pid)
	if len(args) < 4 || filepath.Base(args[0]) != "systemd-nspawn" {
		return 0
	}
	for i, a := range args {
		if a == "-D" && i+1 < len(args) && args[i+1] == filepath.Join(sd, "merged") {
			return pid
		}
	}
	return 0
}

// isOurLeader: pid is alive, is systemd and has our merged dir as its root.
func isOurLeader(pid int, sd string) bool {
	if !alive(pid) || comm(pid) != "systemd" {
		return false
	}
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
	return err == nil && root == filepath.Join(sd, "merged")
}

func readPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	st := s[i+2]
	return st != 'Z' && st != 'X'
}

func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
}

func comm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func waitGone(still func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for still() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func statusKB(path, key string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key); ok {
			fs := strings.Fields(v)
			if len(fs) > 0 {
				n, _ := strconv.ParseUint(fs[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// removeCgroup kills the processes of a cgroup tree (cgroup.kill) and
// removes its directories, deepest first.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	if !strings.Contains(dir, "/"+CgroupRoot+"/") {
		return fmt.Errorf("boot: refusing to remove cgroup %s", dir)
	}
	if procs, _ := cgroupProcs(dir); len(procs) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
			for _, p := range procs {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		waitGone(func() bool { p, _ := cgroupProcs(dir); return len(p) > 0 }, 5*time.Second)
	}
	var dirs []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		for try := 0; ; try++ {
			err := syscall.Rmdir(dirs[i])
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if try > 20 {
				last = fmt.Errorf("boot: rmdir cgroup %s: %w", dirs[i], err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return last
}

// cgroupProcs lists the processes in a cgroup tree.
func cgroupProcs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids, err
}

// ---- mounts ----

// mountPoints returns the mount points of this mount namespace.
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) > 4 {
			out = append(out, unescape(fs[4]))
		}
	}
	return out
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isMounted(path string) bool {
	for _, m := range mountPoints() {
		if m == path {
			return true
		}
	}
	return false
}

// mountsUnder returns mount points under root, deepest first.
func mountsUnder(root string) []string {
	var out []string
	for _, m := range mountPoints() {
		if m == root || strings.HasPrefix(m, root+"/") {
			out = append(out, m)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// unmount unmounts path (and anything stacked on it), retrying while busy,
// then detaching.
func unmount(path string) error {
	for tries := 0; isMounted(path); tries++ {
		err := syscall.Unmount(path, 0)
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if tries < 20 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := syscall.Unmount(path, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("boot: unmount %s: %w", path, err)
		}
	}
	return nil
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
