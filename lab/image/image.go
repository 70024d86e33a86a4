// Package image builds the read-only root file systems that booted lab hosts
// (lab/boot) use as overlayfs lower directories.
//
// Everything lives in a cache directory outside the clone (default
// /var/cache/vpclink-lab/images, or $VPCLINK_LAB_CACHE, or Options.CacheDir):
//
//	trixie-base-HASH/root       debootstrap trixie (minbase + systemd, sshd, cloud-init...), no openvpn
//	trixie-openvpn-HASH/root    overlay layer: only the files added by "apt-get install openvpn" on trixie-base
//	trixie-openvpn-HASH/repo    flat apt repository with the openvpn .debs and the dependencies not in trixie-base
//	sid-HASH/root               debootstrap sid with openvpn installed directly
//	debs/SUITE/                 debootstrap's download cache (speeds up a rebuild)
//
// HASH is a hash of the recipe of a piece (and of the pieces below it), so a
// changed recipe builds a new directory. A piece is complete when its
// directory exists under its final name with a stamp.json that carries the
// hash: each piece is built in a temporary directory, the stamp is written
// last, then the directory is renamed into place. Temporary directories left
// by an interrupted build are removed by the next Build.
//
// Downloads happen only on the machine (debootstrap and apt-get in a chroot
// at build time), never inside a booted host.
package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Flavour names accepted by Set.Lower and friends.
const (
	Trixie       = "trixie"        // Debian trixie with OpenVPN 2.6.x (layer on top of the trixie base)
	Sid          = "sid"           // Debian sid with OpenVPN 2.7.x
	TrixieNoOVPN = "trixie-noovpn" // Debian trixie without OpenVPN (install it from Set.Repo)
)

// Flavours lists every flavour in build order.
var Flavours = []string{Trixie, Sid, TrixieNoOVPN}

// DefaultCacheDir is used when neither Options.CacheDir nor $VPCLINK_LAB_CACHE is set.
const DefaultCacheDir = "/var/cache/vpclink-lab/images"

// recipeVersion is part of every hash: bump it to force a rebuild of everything.
const recipeVersion = "vpclink-lab-image-v1"

// BasePackages are installed (besides debootstrap's minbase) in every image.
var BasePackages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iputils-ping",
	"traceroute", "cloud-init", "sudo", "python3-cffi-backend", "iperf3", "procps",
	// The setup clamps TCP MSS with nft; it installs nftables when missing,
	// baked in here so that no lab up waits for apt.
	"nftables",
	// The HA monitor (issue 16) calls IMDSv2 and the EC2 API with
	// curl --aws-sigv4 over TLS checked against the lab's CA.
	"curl", "ca-certificates",
}

// MaskedUnits are linked to /dev/null in every image: pointless or slow in a
// container.
var MaskedUnits = []string{
	"systemd-networkd-wait-online.service",
	"systemd-firstboot.service",
	"systemd-journald-audit.socket",
	"console-getty.service",
	"getty-static.service",
	"apt-daily.timer", "apt-daily.service",
	"apt-daily-upgrade.timer", "apt-daily-upgrade.service",
	"e2scrub_all.timer", "e2scrub_all.service", "e2scrub_reap.service",
	"fstrim.timer", "fstrim.service",
	"man-db.timer", "man-db.service",
	"dpkg-db-backup.timer", "dpkg-db-backup.service",
	"logrotate.timer",
	"systemd-tmpfiles-clean.timer",
	"motd-news.timer",
	"iperf3.service",
}

// CloudConfig is written to /etc/cloud/cloud.cfg.d/99-vpclink-lab.cfg.
const CloudConfig = `# vpclink lab: NoCloud seed in /var/lib/cloud/seed/nocloud, addresses set from outside.
datasource_list: [NoCloud, None]
network: {config: disabled}
# minbase has no update-locale: cloud-init would report an error.
locale: false
# else "sudo: unable to resolve host".
manage_etc_hosts: true
# never write sources that point outside the lab.
apt:
  preserve_sources_list: true
package_update: false
package_upgrade: false
package_reboot_if_required: false
`

// aptConfig is written to /etc/apt/apt.conf.d/99vpclink-lab.
const aptConfig = `APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
`

// sshDropIn makes sshd wait for cloud-init (which installs the host keys)
// and retry if it was started before the keys existed.
const sshDropIn = `[Unit]
After=cloud-init.service cloud-init-network.service
StartLimitIntervalSec=0

[Service]
Restart=on-failure
RestartSec=1
`

// Options tune Build.
type Options struct {
	CacheDir string    // default $VPCLINK_LAB_CACHE, then DefaultCacheDir
	Mirror   string    // default: the first debian URI in /etc/apt/sources.list.d/*.sources or sources.list
	Log      io.Writer // progress lines; nil: discard
	// Flavours to build; nil: all of Flavours.
	Flavours []string
}

// Piece is one built directory and its build report.
type Piece struct {
	Name     string        `json:"name"`     // e.g. "trixie-base"
	Dir      string        `json:"dir"`      // the piece's directory (contains root/, maybe repo/)
	Hash     string        `json:"hash"`     // recipe hash
	Built    time.Time     `json:"built"`    // when the build finished
	Duration time.Duration `json:"duration"` // build time
	Bytes    int64         `json:"bytes"`    // size on disk (du)
	OpenVPN  string        `json:"openvpn"`  // openvpn --version's version, "" if none
	Package  string        `json:"package"`  // openvpn package version, "" if none
	Reused   bool          `json:"-"`        // found complete in the cache by this Build
}

// Flavour is what a host of one flavour mounts.
type Flavour struct {
	Name    string
	Lower   []string // overlay lower dirs, top first
	OpenVPN string   // e.g. "2.6.14"; "" when the image has no openvpn
	Package string   // e.g. "2.6.14-1"
	Repo    string   // local flat apt repository with openvpn for this flavour's suite, "" if none
}

// Set is the result of Build.
type Set struct {
	CacheDir string
	Flavours map[string]Flavour
	Pieces   []Piece
}

// Lower returns the overlay lower dirs (top first) for a flavour.
func (s *Set) Lower(flavour string) ([]string, error) {
	f, err := s.Flavour(flavour)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), f.Lower...), nil
}

// Flavour returns one flavour's description.
func (s *Set) Flavour(flavour string) (Flavour, error) {
	f, ok := s.Flavours[flavour]
	if !ok {
		return Flavour{}, fmt.Errorf("image flavour %q not built (have %s)", flavour, strings.Join(s.names(), ", "))
	}
	return f, nil
}

// Version returns the OpenVPN version of a flavour ("" when it has none).
func (s *Set) Version(flavour string) (string, error) {
	f, err := s.Flavour(flavour)
	return f.OpenVPN, err
}

// Repo returns the directory of the flat apt repository holding openvpn and
// its dependencies for trixie hosts. Serve it over HTTP and write
// AptSourceLine(url) into the host's /etc/apt/sources.list.d/*.list.
func (s *Set) Repo() (string, error) {
	f, err := s.Flavour(TrixieNoOVPN)
	if err != nil {
		f, err = s.Flavour(Trixie)
	}
	if err != nil || f.Repo == "" {
		return "", fmt.Errorf("no openvpn repository built")
	}
	return f.Repo, nil
}

func (s *Set) names() []string {
	var n []string
	for k := range s.Flavours {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Report formats the pieces' build times and sizes.
func (s *Set) Report() string {
	var b strings.Builder
	for _, p := range s.Pieces {
		state := "built"
		if p.Reused {
			state = "cached"
		}
		fmt.Fprintf(&b, "%-16s %-7s build %6.1fs  size %7.1f MB", p.Name, state, p.Duration.Seconds(), float64(p.Bytes)/1e6)
		if p.OpenVPN != "" {
			fmt.Fprintf(&b, "  OpenVPN %s (%s)", p.OpenVPN, p.Package)
		}
		fmt.Fprintf(&b, "  %s\n", p.Dir)
	}
	return b.String()
}

// AptSourceLine is the one-line apt source for the lab repository served at
// repoURL (e.g. "http://10.0.0.1:8080/"), for /etc/apt/sources.list.d/NAME.list.
func AptSourceLine(repoURL string) string {
	if !strings.HasSuffix(repoURL, "/") {
		repoURL += "/"
	}
	return "deb [trusted=yes] " + repoURL + " ./\n"
}

// CacheDir returns the cache directory Build would use for opts.
func CacheDir(opts Options) string {
	if opts.CacheDir != "" {
		return opts.CacheDir
	}
	if d := os.Getenv("VPCLINK_LAB_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// recipe describes one piece; its hash names the directory.
type recipe struct {
	name     string
	suite    string
	packages []string // debootstrap --include (base pieces)
	layerOf  *recipe  // for a layer: the base below it
	install  []string // for a layer: packages installed by apt-get into the layer
}

func (r *recipe) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", recipeVersion, r.name, r.suite, strings.Join(r.packages, ","))
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", CloudConfig, aptConfig, sshDropIn, strings.Join(MaskedUnits, ","))
	if r.layerOf != nil {
		fmt.Fprintf(h, "layer of %s\ninstall %s\n", r.layerOf.hash(), strings.Join(r.install, ","))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func (r *recipe) dirName() string { return r.name + "-" + r.hash() }

var (
	trixieBase  = &recipe{name: "trixie-base", suite: "trixie", packages: BasePackages}
	trixieLayer = &recipe{name: "trixie-openvpn", suite: "trixie", layerOf: trixieBase, install: []string{"openvpn"}}
	sidBase     = &recipe{name: "sid", suite: "sid", packages: append(append([]string(nil), BasePackages...), "openvpn")}
)

// Build builds what is missing in the cache and returns the paths. It is
// idempotent and safe to call from several processes (a lock file serialises
// them).
func Build(ctx context.Context, opts Options) (*Set, error) {
	dir := CacheDir(opts)
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	lw := &lockedWriter{w: log}
	want := opts.Flavours
	if len(want) == 0 {
		want = Flavours
	}
	need := map[*recipe]bool{}
	for _, f := range want {
		switch f {
		case Trixie:
			need[trixieBase], need[trixieLayer] = true, true
		case TrixieNoOVPN:
			// The repository with openvpn is part of the layer piece.
			need[trixieBase], need[trixieLayer] = true, true
		case Sid:
			need[sidBase] = true
		default:
			return nil, fmt.Errorf("unknown image flavour %q", f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(ctx, dir, lw)
	if err != nil {
		return nil, err
	}
	defer unlock()
	removeStale(dir, lw)

	b := &builder{dir: dir, mirror: opts.Mirror, log: lw}
	if b.mirror == "" {
		b.mirror = machineMirror()
	}
	pieces := map[*recipe]*Piece{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	run := func(chain ...*recipe) {
		defer wg.Done()
		for _, r := range chain {
			if !need[r] {
				continue
			}
			p, err := b.ensure(ctx, r)
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
				mu.Unlock()
				return
			}
			pieces[r] = p
			mu.Unlock()
		}
	}
	// The two suites build in parallel: debootstrap waits on the network a lot.
	wg.Add(2)
	go run(trixieBase, trixieLayer)
	go run(sidBase)
	wg.Wait()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	set := &Set{CacheDir: dir, Flavours: map[string]Flavour{}}
	for _, r := range []*recipe{trixieBase, trixieLayer, sidBase} {
		if p := pieces[r]; p != nil {
			set.Pieces = append(set.Pieces, *p)
		}
	}
	for _, f := range want {
		switch f {
		case Trixie:
			l, base := pieces[trixieLayer], pieces[trixieBase]
			set.Flavours[f] = Flavour{Name: f, Lower: []string{filepath.Join(l.Dir, "root"), filepath.Join(base.Dir, "root")},
				OpenVPN: l.OpenVPN, Package: l.Package, Repo: filepath.Join(l.Dir, "repo")}
		case TrixieNoOVPN:
			l, base := pieces[trixieLayer], pieces[trixieBase]
			set.Flavours[f] = Flavour{Name: f, Lower: []string{filepath.Join(base.Dir, "root")}, Repo: filepath.Join(l.Dir, "repo")}
		case Sid:
			p := pieces[sidBase]
			set.Flavours[f] = Flavour{Name: f, Lower: []string{filepath.Join(p.Dir, "root")}, OpenVPN: p.OpenVPN, Package: p.Package}
		}
	}
	removeOld(dir, set, lw)
	fmt.Fprintf(lw, "image: cache %s\n%s", dir, set.Report())
	return set, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type builder struct {
	dir    string
	mirror string
	log    io.Writer
}

func (b *builder) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "image: "+format+"\n", args...)
}

// ensure returns the piece for r, building it if it is missing or incomplete.
func (b *builder) ensure(ctx context.Context, r *recipe) (*Piece, error) {
	final := filepath.Join(b.dir, r.dirName())
	if p, err := readStamp(final); err == nil && p.Hash == r.hash() {
		p.Dir, p.Reused = final, true
		b.logf("%s: cached in %s", r.name, final)
		return p, nil
	}
	if _, err := os.Stat(final); err == nil {
		// Present without a valid stamp: not ours to trust, start again.
		if err := os.RemoveAll(final); err != nil {
			return nil, err
		}
	}
	tmp := filepath.Join(b.dir, fmt.Sprintf(".tmp-%s-%d", r.dirName(), os.Getpid()))
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	p := &Piece{Name: r.name, Hash: r.hash()}
	var err error
	if r.layerOf == nil {
		err = b.buildBase(ctx, r, tmp, p)
	} else {
		err = b.buildLayer(ctx, r, tmp, p)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	p.Built = time.Now()
	p.Duration = p.Built.Sub(start)
	p.Bytes = du(tmp)
	data, _ := json.MarshalIndent(p, "", "  ")
	if err := writeSync(filepath.Join(tmp, "stamp.json"), data); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	syncDir(b.dir)
	p.Dir = final
	b.logf("%s: built in %s, %.1f MB", r.name, p.Duration.Round(time.Second), float64(p.Bytes)/1e6)
	return p, nil
}

func (b *builder) buildBase(ctx context.Context, r *recipe, tmp string, p *Piece) error {
	root := filepath.Join(tmp, "root")
	cache := filepath.Join(b.dir, "debs", r.suite)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	b.logf("%s: debootstrap %s from %s: usually 3-5 min (log in %s)", r.name, r.suite, b.mirror, filepath.Join(tmp, "debootstrap.log"))
	logf, err := os.Create(filepath.Join(tmp, "debootstrap.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	// A private mount namespace: debootstrap's /proc and /sys mounts vanish
	// with it even if the build is interrupted.
	args := []string{"unshare", "--mount", "--propagation", "private", "--",
		"debootstrap", "--variant=minbase", "--merged-usr", "--components=main",
		"--cache-dir=" + cache,
		"--include=" + strings.Join(r.packages, ","),
		r.suite, root, b.mirror}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = buildEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap %s: %w (see %s; tail: %s)", r.suite, err, logf.Name(), tail(logf.Name(), 15))
	}
	b.logf("%s: configuring the image: usually 10-30 s", r.name)
	if err := configure(root); err != nil {
		return err
	}
	if contains(r.packages, "openvpn") {
		p.OpenVPN, p.Package, err = openvpnVersion(ctx, root)
		if err != nil {
			return err
		}
	}
	return cleanRoot(root)
}

// buildLayer installs r.install into an overlay whose lower dir is the base
// piece and keeps the upper dir as the layer, and the downloaded .debs as a
// flat apt repository.
func (b *builder) buildLayer(ctx context.Context, r *recipe, tmp string, p *Piece) error {
	if _, err := readStamp(filepath.Join(b.dir, r.layerOf.dirName())); err != nil {
		return fmt.Errorf("base %s missing: %w", r.layerOf.name, err)
	}
	baseRoot := filepath.Join(b.dir, r.layerOf.dirName(), "root")
	upper := filepath.Join(tmp, "root")
	work := filepath.Join(tmp, "work")
	merged := filepath.Join(tmp, "merged")
	repo := filepath.Join(tmp, "repo")
	for _, d := range []string{upper, work, merged, repo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	b.logf("%s: apt-get install %s on %s in an overlay: usually 20-60 s", r.name, strings.Join(r.install, " "), r.layerOf.name)
	logPath := filepath.Join(tmp, "install.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Everything happens in a private mount namespace: the overlay, /proc,
	// /dev and resolv.conf disappear with the shell even on interruption.
	script := `set -eu
M=$1 MIRROR=$2 SUITE=$3; shift 3
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$UPPER,workdir=$WORK,index=off,metacopy=off,redirect_dir=off" "$M"
mount -t proc proc "$M/proc"
mount --rbind /dev "$M/dev"
[ -e "$M/etc/resolv.conf" ] || touch "$M/etc/resolv.conf"
mount --bind /etc/resolv.conf "$M/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$M/usr/sbin/policy-rc.d"; chmod 755 "$M/usr/sbin/policy-rc.d"
echo "deb $MIRROR $SUITE main" > "$M/etc/apt/sources.list.d/vpclink-build.list"
chroot "$M" apt-get update
chroot "$M" apt-get install -y --no-install-recommends "$@"
cp "$M"/var/cache/apt/archives/*.deb "$REPO"/
rm -f "$M/etc/apt/sources.list.d/vpclink-build.list" "$M/usr/sbin/policy-rc.d"
chroot "$M" apt-get clean
rm -rf "$M"/var/lib/apt/lists/* 
umount "$M/etc/resolv.conf"
umount -R "$M/dev" || umount -l "$M/dev"
umount "$M/proc"
umount "$M"
`
	args := append([]string{"unshare", "--mount", "--propagation", "private", "--", "bash", "-c", script, "layer",
		merged, b.mirror, r.suite}, r.install...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(buildEnv(), "LOWER="+baseRoot, "UPPER="+upper, "WORK="+work, "REPO="+repo)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install %v: %w (see %s; tail: %s)", r.install, err, logPath, tail(logPath, 15))
	}
	os.RemoveAll(work)
	os.Remove(merged)
	if err := scanRepo(ctx, repo); err != nil {
		return err
	}
	// The version, read with the layer on the base (a private mount namespace again).
	vt := filepath.Join(tmp, "vcheck")
	defer os.RemoveAll(vt)
	cmd = exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
		`set -e; mkdir -p "$T/m" "$T/w" "$T/u"; mount -t overlay overlay -o "lowerdir=$UPPER:$LOWER,workdir=$T/w,upperdir=$T/u" "$T/m"
		chroot "$T/m" openvpn --version | head -1; chroot "$T/m" dpkg-query -W -f '${Version}\n' openvpn`)
	cmd.Env = append(buildEnv(), "LOWER="+baseRoot, "UPPER="+upper, "T="+vt)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("openvpn --version in the layer: %w: %s", err, out)
	}
	p.OpenVPN, p.Package, err = parseVersion(string(out))
	return err
}

// configure applies the lab settings to a freshly bootstrapped root.
func configure(root string) error {
	w := func(rel, content string, mode os.FileMode) error {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(content), mode)
	}
	if err := w("etc/cloud/cloud.cfg.d/99-vpclink-lab.cfg", CloudConfig, 0o644); err != nil {
		return err
	}
	if err := w("etc/apt/apt.conf.d/99vpclink-lab", aptConfig, 0o644); err != nil {
		return err
	}
	if err := w("etc/systemd/system/ssh.service.d/10-vpclink-lab.conf", sshDropIn, 0o644); err != nil {
		return err
	}
	// Quiet, quick journald; no kernel messages in a container anyway.
	if err := w("etc/systemd/journald.conf.d/10-vpclink-lab.conf", "[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n", 0o644); err != nil {
		return err
	}
	for _, u := range MaskedUnits {
		link := filepath.Join(root, "etc/systemd/system", u)
		os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return err
		}
	}
	// Make sure sshd is enabled (openssh-server's postinst does it, but be explicit).
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants")
	os.MkdirAll(wants, 0o755)
	if _, err := os.Lstat(filepath.Join(wants, "ssh.service")); err != nil {
		if err := os.Symlink("/usr/lib/systemd/system/ssh.service", filepath.Join(wants, "ssh.service")); err != nil {
			return err
		}
	}
	return nil
}

// cleanRoot removes what must not be baked into an image: apt sources and
// lists, host keys, machine identity, the machine's hostname and resolver.
func cleanRoot(root string) error {
	rm := func(pattern string) {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, p := range m {
			os.RemoveAll(p)
		}
	}
	rm("etc/apt/sources.list")
	rm("etc/apt/sources.list.d/*")
	rm("var/lib/apt/lists/*")
	rm("var/cache/apt/*.bin")
	rm("var/cache/apt/archives/*.deb")
	rm("var/cache/apt/archives/partial/*")
	rm("etc/ssh/ssh_host_*")
	rm("var/lib/dbus/machine-id")
	rm("var/log/bootstrap.log")
	rm("var/lib/cloud/*")
	rm("usr/sbin/policy-rc.d")
	if err := os.WriteFile(filepath.Join(root, "etc/apt/sources.list"), []byte("# vpclink lab: no sources outside the lab; the lab writes sources.list.d/*.list\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("localhost\n"), 0o644); err != nil {
		return err
	}
	os.Remove(filepath.Join(root, "etc/resolv.conf"))
	if err := os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("# vpclink lab: no DNS\n"), 0o644); err != nil {
		return err
	}
	return nil
}

func openvpnVersion(ctx context.Context, root string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", `chroot "$R" openvpn --version | head -1; chroot "$R" dpkg-query -W -f '${Version}\n' openvpn`)
	cmd.Env = append(buildEnv(), "R="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("openvpn --version: %w: %s", err, out)
	}
	return parseVersion(string(out))
}

// parseVersion reads "OpenVPN 2.6.14 x86_64-pc-linux-gnu ..." and the package version.
func parseVersion(out string) (string, string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return "", "", fmt.Errorf("unexpected openvpn version output %q", out)
	}
	f := strings.Fields(lines[0])
	if len(f) < 2 || f[0] != "OpenVPN" {
		return "", "", fmt.Errorf("unexpected openvpn --version %q", lines[0])
	}
	return f[1], strings.TrimSpace(lines[len(lines)-1]), nil
}

// scanRepo writes Packages, Packages.gz and Release for a flat repository.
func scanRepo(ctx context.Context, repo string) error {
	cmd := exec.CommandContext(ctx, "dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = repo
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("dpkg-scanpackages (Debian package dpkg-dev): %w: %s", err, stderr.String())
	}
	if len(out) == 0 {
		return fmt.Errorf("dpkg-scanpackages found no packages in %s", repo)
	}
	return writeIndex(repo, out)
}

func buildEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true",
		"LC_ALL=C", "LANG=C", "HOME=/root",
	}
}

// machineMirror returns the Debian URI configured on the machine.
func machineMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "URIs:"); ok {
				for _, u := range strings.Fields(v) {
					if !strings.Contains(u, "security") {
						return strings.TrimSuffix(u, "/")
					}
				}
			}
		}
	}
	if data, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && !strings.Contains(line, "security") {
				for _, x := range f[1:] {
					if strings.Contains(x, "://") {
						return strings.TrimSuffix(x, "/")
					}
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func readStamp(dir string) (*Piece, error) {
	data, err := os.ReadFile(filepath.Join(dir, "stamp.json"))
	if err != nil {
		return nil, err
	}
	var p Piece
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func writeSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// lockDir takes an exclusive flock on DIR/.lock, waiting for another Build.
func lockDir(ctx context.Context, dir string, log io.Writer) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		if !said {
			fmt.Fprintf(log, "image: waiting for another build holding %s/.lock\n", dir)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeStale deletes temporary directories of interrupted builds (we hold the lock).
func removeStale(dir string, log io.Writer) {
	m, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, d := range m {
		if mountedUnder(d) {
			fmt.Fprintf(log, "image: %s is still mounted, left alone\n", d)
			continue
		}
		fmt.Fprintf(log, "image: removing %s left by an interrupted build\n", d)
		os.RemoveAll(d)
	}
}

// removeOld deletes pieces of older recipes that no mount uses.
func removeOld(dir string, set *Set, log io.Writer) {
	keep := map[string]bool{}
	for _, p := range set.Pieces {
		keep[filepath.Base(p.Dir)] = true
	}
	for _, r := range []*recipe{trixieBase, trixieLayer, sidBase} {
		keep[r.dirName()] = true // keep current pieces even if this Build did not need them
		m, _ := filepath.Glob(filepath.Join(dir, r.name+"-*"))
		for _, d := range m {
			name := filepath.Base(d)
			suffix := strings.TrimPrefix(name, r.name+"-")
			if keep[name] || len(suffix) != 12 || strings.Contains(suffix, "-") {
				continue
			}
			if mountedUnder(d) {
				continue
			}
			fmt.Fprintf(log, "image: removing %s (older recipe)\n", d)
			os.RemoveAll(d)
		}
	}
}

// mountedUnder reports whether any mount of this mount namespace names a
// path under dir (as mount point or in its options, e.g. lowerdir=).
func mountedUnder(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		if strings.Contains(s.Text(), dir+"/") || strings.Contains(s.Text(), dir+" ") {
			return true
		}
	}
	return false
}

// du returns the disk usage of a tree in bytes.
func du(dir string) int64 {
	out, err := exec.Command("du", "-sx", "--block-size=1", dir).Output()
	if err != nil {
		return 0
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
