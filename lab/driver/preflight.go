package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// needs maps the tools the lab runs on the machine to their Debian packages.
var needs = map[string]string{
	"ip": "iproute2", "bridge": "iproute2", "nft": "nftables", "openvpn": "openvpn", "sshd": "openssh-server",
	"ssh-keygen": "openssh-client", "ping": "iputils-ping", "traceroute": "traceroute", "sudo": "sudo",
	"unshare": "util-linux", "nsenter": "util-linux", "useradd": "passwd", "flock": "util-linux",
	// Booted hosts: the images are built with debootstrap and their package
	// repository indexed with dpkg-scanpackages; hosts run in systemd-nspawn.
	"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container", "dpkg-scanpackages": "dpkg-dev",
	"ssh-keyscan": "openssh-client",
	// The README's hand-check reads the stack outputs with jq.
	"jq": "jq",
}

// Packages is every Debian package the lab needs on the machine.
func Packages() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range needs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Preflight checks that the lab can run here: root, /dev/net/tun and the
// tools; missing Debian packages are installed with apt-get when possible.
func Preflight(log io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network and mount namespaces): run it with sudo")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return errors.New("/dev/net/tun is missing: OpenVPN cannot create its tunnel device")
	}
	missing := missingPackages()
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("missing tools; install the packages %s", strings.Join(missing, " "))
	}
	fmt.Fprintf(log, "[lab] installing Debian packages (usually under a minute): %s\n", strings.Join(missing, " "))
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if m := missingPackages(); len(m) > 0 {
		return fmt.Errorf("still missing after apt-get install: %s", strings.Join(m, " "))
	}
	return nil
}

func missingPackages() []string {
	seen := map[string]bool{}
	var missing []string
	for bin, pkg := range needs {
		if _, err := lookPath(bin); err != nil && !seen[pkg] {
			seen[pkg] = true
			missing = append(missing, pkg)
		}
	}
	sort.Strings(missing)
	return missing
}

func lookPath(bin string) (string, error) {
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(dir, bin)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// toolchainBinaries are what the lab takes from the Pulumi toolchain: the
// CLI (and engine) only. The language host and the plugins are the lab's.
var toolchainBinaries = []string{"pulumi"}

// ToolchainDir is where ../shared/pulumi-toolchain/build.sh installs.
func ToolchainDir() string {
	if d := os.Getenv("PULUMI_TOOLCHAIN_DIR"); d != "" {
		return filepath.Join(d, "bin")
	}
	return "/opt/pulumi-toolchain/bin"
}

// Toolchain finds the directory of the Pulumi CLI: the one of `pulumi` on
// PATH, then ToolchainDir(). Where none is found and the offline build
// recipe is next to the repository, it builds the CLI once per machine.
func Toolchain(repo string, log io.Writer) (string, error) {
	var dirs []string
	if p, err := exec.LookPath("pulumi"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, ToolchainDir())
	for _, d := range dirs {
		if complete(d) {
			return d, nil
		}
	}
	recipe := filepath.Join(repo, "..", "shared", "pulumi-toolchain", "build.sh")
	if _, err := os.Stat(recipe); err != nil {
		return "", fmt.Errorf("the Pulumi CLI (v3.274.1 or later) is needed on PATH or in %s; install it (https://www.pulumi.com/docs/install/)", ToolchainDir())
	}
	fmt.Fprintf(log, "[lab] no Pulumi toolchain found: building it from %s into %s (once per machine; about 7 min on 2 cores from a cold cache, under a minute when warm)\n", recipe, filepath.Dir(ToolchainDir()))
	start := time.Now()
	cmd := exec.Command("bash", recipe)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the Pulumi toolchain: %w", err)
	}
	fmt.Fprintf(log, "[lab] toolchain built in %s\n", time.Since(start).Round(time.Second))
	if !complete(ToolchainDir()) {
		return "", fmt.Errorf("%s is incomplete after the build", ToolchainDir())
	}
	return ToolchainDir(), nil
}

func complete(dir string) bool {
	for _, b := range toolchainBinaries {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}
