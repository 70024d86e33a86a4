package world

import (
	"fmt"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
)

// Host is how the lab reaches one emulated instance's processes and files.
type Host struct {
	// Name is the instance's resource name, e.g. "a-vpn".
	Name string `json:"name"`
	// NetNS is its network namespace.
	NetNS string `json:"netns"`
	// Dir is the host's state: its container (lab/boot) and overlay.
	Dir       string `json:"dir"`
	PrivateIP string `json:"privateIp"`
	// PublicIP is filled in by the lab's readers from the Elastic IPs.
	PublicIP string `json:"-"`
}

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
	// Ubuntu's images let any user ping (systemd's 50-default.conf);
	// Debian's leave it to a file capability that the lab's images lose.
	m.run("ip", "netns", "exec", inst.Host.NetNS, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647")
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

// stopHost powers the host off (its container, by PID). The network
// namespace stays: a stopped instance keeps its interface.
func (w *World) stopHost(h *Host) error { return boot.Stop(h.Dir) }

// Exec runs a command inside the host, as root, the way an operator's
// `sudo` on the instance would; it returns the combined output.
func (h *Host) Exec(args ...string) (string, error) { return h.ExecEnv(nil, args...) }

// ExecEnv is Exec with extra environment variables.
func (h *Host) ExecEnv(env []string, args ...string) (string, error) {
	return boot.Exec(h.Dir, append(append([]string{"env"}, env...), args...)...)
}
