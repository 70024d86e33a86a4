package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// hostSetup prepares an emulated instance inside its own mount namespace:
// a fresh host key, the image's login user with passwordless sudo (as on a
// cloud image) and the key pair the program gave the instance, then sshd.
// It runs with the host's own view: /etc is an overlay, /run, /tmp and
// /home are private, so nothing reaches the machine's real files.
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
cat >/etc/ssh/sshd_config <<'EOF'
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
chmod 0755 /run/sshd
/usr/sbin/sshd -f /etc/ssh/sshd_config -E /run/sshd.log
`

func (l *lab) addInstance(r *mockaws.Registration) error {
	subnetID, ip := r.Input("subnetId"), r.Input("privateIp")
	l.mu.Lock()
	sn := l.subnets[subnetID]
	var v *vpc
	if sn != nil {
		v = l.vpcs[sn.vpcID]
	}
	l.ports++
	port := fmt.Sprintf("h%d", l.ports)
	authorized := l.keys[r.Input("keyName")]
	l.mu.Unlock()
	if v == nil {
		return fmt.Errorf("lab: instance %s: unknown subnet %s", r.Name, subnetID)
	}
	if authorized == "" {
		return fmt.Errorf("lab: instance %s: unknown key pair %q", r.Name, r.Input("keyName"))
	}
	inst := &instance{
		id: r.ID, name: r.Name, ns: l.opts.ns(r.Name), subnetID: subnetID, ip: ip, port: port,
		eni: r.Outputs["primaryNetworkInterfaceId"].StringValue(),
		// AWS's default is on; only an explicit false turns it off.
		srcDstCheck: r.Input("sourceDestCheck") != "false",
		groups:      r.InputList("vpcSecurityGroupIds"),
	}
	for _, name := range l.opts.SourceDestCheckOn {
		if name == r.Name {
			inst.srcDstCheck = true
		}
	}

	var m must
	m.run("ip", "netns", "add", inst.ns)
	m.run("ip", "-n", inst.ns, "link", "set", "lo", "up")
	m.run("ip", "link", "add", "eth0", "netns", inst.ns, "type", "veth", "peer", "name", port, "netns", v.ns)
	m.run("ip", "-n", v.ns, "link", "set", port, "master", bridgeName, "up")
	m.run("ip", "netns", "exec", inst.ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	m.run("ip", "-n", inst.ns, "addr", "add", fmt.Sprintf("%s/%d", ip, sn.bits), "dev", "eth0")
	m.run("ip", "-n", inst.ns, "link", "set", "eth0", "up")
	m.run("ip", "-n", inst.ns, "route", "add", "default", "via", sn.gateway)
	inst.mac = strings.TrimSpace(m.run("ip", "netns", "exec", inst.ns, "cat", "/sys/class/net/eth0/address"))
	m.run("bridge", "-n", v.ns, "fdb", "replace", inst.mac, "dev", port, "master", "static")
	if m.err != nil {
		return m.err
	}

	// The host's own view of the filesystem.
	root := filepath.Join(l.opts.StateDir, "hosts", r.Name)
	for _, d := range []string{"upper", "work"} {
		// The overlay's root takes the upper directory's mode: /etc is 0755.
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	mountNS := filepath.Join(l.opts.StateDir, "mnt", r.Name)
	if err := os.WriteFile(mountNS, nil, 0o600); err != nil {
		return err
	}
	mounts := fmt.Sprintf("mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc && "+
		"mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=1777 tmpfs /tmp && "+
		"mount -t tmpfs -o mode=0755 tmpfs /home",
		filepath.Join(root, "upper"), filepath.Join(root, "work"))
	if l.opts.StubSystemd {
		// The host "runs systemd": the marker the script tests, and the stub
		// commands first on its PATH.
		sbin := filepath.Join(root, "sbin")
		if err := writeSystemdStub(sbin); err != nil {
			return err
		}
		// Bind before /run is replaced: the stub lives under the state dir.
		mounts = fmt.Sprintf("mount --bind %s /usr/local/sbin && ", sbin) + mounts + " && mkdir -p /run/systemd/system"
	}
	m.run("unshare", "--mount="+mountNS, "--propagation", "private", "--", "sh", "-c", mounts)
	host := &Host{Name: r.Name, NetNS: inst.ns, MountNS: mountNS, VPC: v.name, PrivateIP: ip}
	if m.err == nil {
		_, m.err = hostExecEnv(host, []string{"LOGIN=" + l.loginUser, "AUTHORIZED_KEY=" + authorized}, "bash", "-c", hostSetup)
	}
	if m.err != nil {
		return fmt.Errorf("lab: instance %s: %w", r.Name, m.err)
	}
	inst.host = host

	l.mu.Lock()
	l.instances[inst.id] = inst
	l.state.Hosts = append(l.state.Hosts, host)
	l.touched()
	l.mu.Unlock()
	l.logf("instance %s: %s in %s (namespace %s, source/dest check %v), sshd for %q", r.Name, ip, sn.cidr, inst.ns, inst.srcDstCheck, l.loginUser)
	return l.apply()
}

// hostExec runs a command inside a host: its network and mount namespaces,
// as root, the way an operator's `sudo` on the instance would.
func hostExec(h *Host, args ...string) (string, error) {
	return hostExecEnv(h, nil, args...)
}

func hostExecEnv(h *Host, env []string, args ...string) (string, error) {
	full := append([]string{"nsenter", "--mount=" + h.MountNS, "--net=/run/netns/" + h.NetNS, "--", "env"}, env...)
	return run(append(full, args...)...)
}

// HostExec runs a command inside a host of a lab that is up.
func HostExec(h *Host, args ...string) (string, error) { return hostExec(h, args...) }
