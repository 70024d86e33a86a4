package world

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
)

// Host is how the lab reaches one emulated instance's processes and files.
type Host struct {
	// Name is the instance's resource name, e.g. "a-vpn".
	Name string `json:"name"`
	// NetNS is its network namespace; MountNS the file of its mount namespace.
	NetNS   string `json:"netns"`
	MountNS string `json:"mountns"`
	// Dir holds the host's private files (for a booted host, boot's state).
	Dir string `json:"dir"`
	// Booted is true for a container booting systemd; false for the
	// lighter host that runs only sshd in the namespace.
	Booted    bool   `json:"booted"`
	PrivateIP string `json:"privateIp"`
	// PublicIP is filled in by the lab's readers from the Elastic IPs.
	PublicIP string `json:"-"`
}

// hostSetup prepares an emulated instance inside its own mount namespace,
// as the image and cloud-init would: a fresh host key, the image's login
// user with passwordless sudo and the instance's key pair, then sshd. /etc
// is an overlay, /run, /tmp and /home are private: nothing reaches the
// machine's real files.
const hostSetup = `set -eu
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
if ! id -u "$LOGIN" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --user-group "$LOGIN"
fi
usermod -p '*' "$LOGIN"
mkdir -p /etc/sudoers.d
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$LOGIN" >/etc/sudoers.d/90-cloud-init-users
chmod 0440 /etc/sudoers.d/90-cloud-init-users
home=$(getent passwd "$LOGIN" | cut -d: -f6)
mkdir -p "$home/.ssh"
printf '%s\n' "$AUTHORIZED_KEY" >"$home/.ssh/authorized_keys"
chown -R "$LOGIN:" "$home/.ssh"
chmod 700 "$home/.ssh"
chmod 600 "$home/.ssh/authorized_keys"
cat >/etc/ssh/sshd_config <<'EOF2'
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
EOF2
mkdir -p /run/sshd
chmod 0755 /run/sshd
setsid /usr/sbin/sshd -f /etc/ssh/sshd_config -E /run/sshd.log
`

// plugInstance creates the instance's namespace and its interface on the
// VPC bridge, with its fixed address and the subnet's gateway as default
// route, and records its MAC and switch port.
func (w *World) plugInstance(inst *Instance, s *Subnet, v *VPC) error {
	var m must
	m.run("ip", "netns", "add", inst.Host.NetNS)
	m.run("ip", "-n", inst.Host.NetNS, "link", "set", "lo", "up")
	m.run("ip", "link", "add", "eth0", "netns", inst.Host.NetNS, "type", "veth", "peer", "name", inst.Port, "netns", v.NS)
	m.run("ip", "-n", v.NS, "link", "set", inst.Port, "master", bridgeName, "up")
	m.run("ip", "netns", "exec", inst.Host.NetNS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	m.run("ip", "-n", inst.Host.NetNS, "addr", "add", fmt.Sprintf("%s/%d", inst.IP, s.Bits), "dev", "eth0")
	m.run("ip", "-n", inst.Host.NetNS, "link", "set", "eth0", "up")
	m.run("ip", "-n", inst.Host.NetNS, "route", "add", "default", "via", s.Gateway)
	mac := strings.TrimSpace(m.run("ip", "netns", "exec", inst.Host.NetNS, "cat", "/sys/class/net/eth0/address"))
	m.run("bridge", "-n", v.NS, "fdb", "replace", mac, "dev", inst.Port, "master", "static")
	if m.err != nil {
		return m.err
	}
	inst.MAC = mac
	return nil
}

// startHost gives the instance its own view of the file system and starts
// sshd for login with the authorized key.
func (w *World) startHost(h *Host, login, authorized string) error {
	for _, d := range []string{"upper", "work"} {
		// The overlay's root takes the upper directory's mode: /etc is 0755.
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(h.MountNS, nil, 0o600); err != nil {
		return err
	}
	mounts := fmt.Sprintf("mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc && "+
		"mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=1777 tmpfs /tmp && "+
		"mount -t tmpfs -o mode=0755 tmpfs /home",
		filepath.Join(h.Dir, "upper"), filepath.Join(h.Dir, "work"))
	if _, err := run("unshare", "--mount="+h.MountNS, "--propagation", "private", "--", "sh", "-c", mounts); err != nil {
		return err
	}
	_, err := h.ExecEnv([]string{"LOGIN=" + login, "AUTHORIZED_KEY=" + authorized}, "bash", "-c", hostSetup)
	return err
}

// stopHost stops every process of the host, by PID, and releases its
// mount namespace. The network namespace stays (a stopped instance keeps
// its interface).
func (w *World) stopHost(h *Host) error {
	if h.Booted {
		return boot.Stop(h.Dir)
	}
	err := killIn(h.NetNS)
	if h.MountNS != "" {
		run("umount", h.MountNS)
		os.Remove(h.MountNS)
	}
	os.RemoveAll(filepath.Join(h.Dir, "work"))
	return err
}

// Exec runs a command inside the host, as root, the way an operator's
// `sudo` on the instance would; it returns the combined output.
func (h *Host) Exec(args ...string) (string, error) { return h.ExecEnv(nil, args...) }

// ExecEnv is Exec with extra environment variables.
func (h *Host) ExecEnv(env []string, args ...string) (string, error) {
	if h.Booted {
		return boot.Exec(h.Dir, append(append([]string{"env"}, env...), args...)...)
	}
	full := append([]string{"nsenter", "--mount=" + h.MountNS, "--net=/run/netns/" + h.NetNS, "--", "env"}, env...)
	return run(append(full, args...)...)
}
