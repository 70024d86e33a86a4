// Package lab runs the vpclink Pulumi program against an emulation of AWS
// built from Linux network namespaces on one machine, with the real OpenVPN.
//
// The emulation is driven by the program's own resource registrations: a
// Pulumi mock monitor (internal/mockaws) calls the lab for each one, and the
// lab builds what AWS would have built:
//
//   - a VPC is a Linux bridge inside a "VPC router" namespace that holds the
//     subnets' gateway addresses; an internet gateway is a link from that
//     namespace to a bridge namespace playing the internet;
//   - an instance is a namespace with one interface (its fixed private IP,
//     the subnet's gateway as default route), its own mount namespace (an
//     overlay on /etc, a private /run) and an sshd that accepts the key pair
//     the program gave it;
//   - an Elastic IP is 1:1 NAT on the VPC router (documentation ranges);
//   - a route table is applied at layer 2 on the VPC bridge: frames sent to
//     the gateway are handed straight to the target network interface, so
//     the VPC router never shows up in traceroute, as on AWS;
//   - security groups (stateful ingress) and the source/destination check
//     are nft rules on the instance's interface, outside the setup script's
//     concern (the kernel here has no bridge conntrack);
//   - remote.Command runs its create script over real SSH from an "operator"
//     namespace on the emulated internet to the connection's host.
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Public addresses of the lab's own hosts on the emulated internet. Elastic
// IPs come from the same documentation ranges (internal/mockaws).
const (
	OperatorIP = "198.51.100.250"
	StrangerIP = "198.51.100.251"
)

var publicRanges = []string{"198.51.100.0/24", "203.0.113.0/24"}

// Options configure one lab.
type Options struct {
	// Prefix starts the name of every namespace the lab creates; it must be
	// unique to the lab. Default "vlab".
	Prefix string
	// StateDir holds the lab's state and the hosts' private files. Default
	// /run/vpclink-lab/<prefix>.
	StateDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// StubSystemd gives hosts a stand-in for systemd (lab/systemd.go), so
	// the setup script takes the branch it takes on a real VM.
	StubSystemd bool
	// SourceDestCheckOn names instance resources whose source/destination
	// check the lab keeps on whatever the program asks (fault injection).
	SourceDestCheckOn []string
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "vlab"
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join("/run/vpclink-lab", o.Prefix)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// ns returns the namespace name for a lab object.
func (o Options) ns(name string) string { return o.Prefix + "-" + name }

// State is what `up` leaves for `check`, tests and `down`. It holds no
// secrets.
type State struct {
	Prefix string  `json:"prefix"`
	Hosts  []*Host `json:"hosts"`
	Links  []*Link `json:"links"`
}

// Host is one emulated instance.
type Host struct {
	// Name is the instance's resource name, e.g. "a-vpn".
	Name string `json:"name"`
	// NetNS is its network namespace; MountNS the file of its mount namespace.
	NetNS   string `json:"netns"`
	MountNS string `json:"mountns"`
	// VPC is the VPC resource name it lives in.
	VPC       string `json:"vpc"`
	PrivateIP string `json:"privateIp"`
	PublicIP  string `json:"publicIp,omitempty"`
	// VPN is true for hosts that a link's setup configured.
	VPN bool `json:"vpn"`
}

// Link is one tunnel end pair as the setup commands configured it.
type Link struct {
	Name string `json:"name"`
	// Ends are the VPN hosts' names; TunnelIPs their tunnel addresses.
	Ends      [2]string `json:"ends"`
	TunnelIPs [2]string `json:"tunnelIps"`
}

func statePath(o Options) string { return filepath.Join(o.StateDir, "state.json") }

func (s *State) save(o Options) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(o), b, 0o600)
}

// LoadState reads the state a previous `up` left.
func LoadState(opts Options) (*State, error) {
	opts = opts.withDefaults()
	b, err := os.ReadFile(statePath(opts))
	if err != nil {
		return nil, fmt.Errorf("no lab %q is up (%w)", opts.Prefix, err)
	}
	var s State
	return &s, json.Unmarshal(b, &s)
}

// Host returns the named host.
func (s *State) Host(name string) *Host {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Terminal returns a non-VPN host in the same VPC as h, or nil.
func (s *State) Terminal(vpn *Host) *Host {
	for _, h := range s.Hosts {
		if h.VPC == vpn.VPC && !h.VPN {
			return h
		}
	}
	return nil
}

// Preflight says what is missing for a lab on this machine.
func Preflight() error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "the lab needs root (network and mount namespaces): run it with sudo")
	}
	need := map[string]string{
		"ip": "iproute2", "bridge": "iproute2", "nft": "nftables", "openvpn": "openvpn", "sshd": "openssh-server",
		"ssh-keygen": "openssh-client", "ping": "iputils-ping", "traceroute": "traceroute", "sudo": "sudo",
		"unshare": "util-linux", "nsenter": "util-linux", "useradd": "passwd", "systemd-analyze": "systemd",
	}
	var missing []string
	for bin, pkg := range need {
		if _, err := lookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		problems = append(problems, "missing tools; install with: apt-get install -y "+strings.Join(dedupe(missing), " "))
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		problems = append(problems, "/dev/net/tun is missing: OpenVPN cannot create its tunnel device")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || s[i-1] != x {
			out = append(out, x)
		}
	}
	return out
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

// lab is one emulation being built.
type lab struct {
	opts Options

	mu        sync.Mutex
	state     State
	vpcs      map[string]*vpc      // by id
	subnets   map[string]*subnet   // by id
	instances map[string]*instance // by id
	tables    map[string]*routeTable
	assoc     map[string]string // subnet id -> route table id
	groups    map[string]*securityGroup
	keys      map[string]string // key name -> authorized key
	eips      map[string]string // public IP -> instance id
	ports     int
	commands  []Command
	progress
}

type vpc struct {
	id, name, cidr, ns string
	routerMAC          string
	igw                bool
}

type subnet struct {
	id, vpcID, cidr, gateway string
	bits                     int
}

type instance struct {
	id, name, ns, subnetID, ip, mac, port, eni, eip string
	srcDstCheck                                     bool
	groups                                          []string
	host                                            *Host
}

type routeTable struct {
	routes []route
}

type route struct {
	dest string
	// Exactly one target: an internet gateway or a network interface.
	igw, eni string
}

type securityGroup struct {
	ingress []rule
}

type rule struct {
	protocol string
	from, to int
	cidr     string
}

func (l *lab) logf(format string, args ...any) {
	fmt.Fprintf(l.opts.Log, "[lab] "+format+"\n", args...)
}
