// Package topology describes a set of VPC sites joined by OpenVPN links as
// plain data, fills in defaults and validates it.
//
// It has no Pulumi dependency: the same checks run in unit tests, in the
// Pulumi program before any resource is registered, and in the local lab.
// Every validation error names the configuration key (for example
// `vpclink:sites[1].vpnPrivateIp`) and the offending value.
package topology

import (
	"fmt"
	"net/netip"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

// ConfigNamespace is the Pulumi configuration namespace of the program; error
// messages name keys inside it.
const ConfigNamespace = "vpclink"

// Defaults applied by Normalize when a value is left out. They are the
// defaults of the whole program: the components (vpclink) use these too.
const (
	DefaultInstanceType = "t3.micro"
	DefaultSSHUser      = "ubuntu"
	DefaultTunnelPort   = 1194
	DefaultTunnelMTU    = 1400
	DefaultTunnelMode   = string(openvpn.ModeTLS)
	// DefaultPostDeployCheck: the cross-site ping runs unless turned off.
	DefaultPostDeployCheck = true
	// DefaultTerminal: a site gets a terminal instance unless it says
	// terminal: false.
	DefaultTerminal = true
	// DefaultOS is the image choice of instances without a pinned ami:
	// Ubuntu 24.04, whose OpenVPN 2.6 the lab and the walk-through proved.
	DefaultOS = OSUbuntu2404
	// DefaultTunnelNetwork is where default tunnel addresses come from, one
	// /30 per link: link k gets 10.254.k.1 and 10.254.k.2 for k < 256 (as it
	// always did), then 10.254.(k%256).5 and .6 for k < 512, and so on.
	DefaultTunnelNetwork = "10.254.0.0/16"
	// MaxDefaultTunnels is how many links the default tunnel network holds:
	// 16384 /30s, a full mesh of 181 sites.
	MaxDefaultTunnels = 1 << 14
)

// The image choices of vpclink:os and sites[i].os. The images behind them
// (Canonical's names, per architecture) are the vpclink package's.
const (
	// OSUbuntu2404 is Ubuntu 24.04 LTS (noble): OpenVPN 2.6.
	OSUbuntu2404 = "ubuntu-24.04"
	// OSUbuntu2604 is Ubuntu 26.04 LTS (resolute): OpenVPN 2.7, a 7.0 kernel.
	OSUbuntu2604 = "ubuntu-26.04"
)

// OSes are the accepted image choices, the default first.
var OSes = []string{OSUbuntu2404, OSUbuntu2604}

// TunnelModes are the accepted tunnel modes of vpclink:tunnelMode and
// links[i].mode, the default first.
var TunnelModes = []string{string(openvpn.ModeTLS), string(openvpn.ModeStatic)}

// DefaultSSHAllowedCIDRs is the SSH ingress default. The program has to reach
// every instance over SSH from wherever `pulumi up` runs, which it cannot know;
// authentication is by key only. Narrow it to your own address in production.
var DefaultSSHAllowedCIDRs = []string{"0.0.0.0/0"}

// Site is one VPC in one region: two public subnets sharing one route table,
// a VPN instance in the first and (optionally) a terminal in the second.
type Site struct {
	// Name identifies the site in resource names, links and outputs
	// (lowercase letters, digits and '-', at most 20 characters).
	Name string `json:"name"`
	// Region is the AWS region, e.g. eu-west-1.
	Region string `json:"region"`
	// VpcCidr is the VPC's IPv4 network, e.g. 10.0.0.0/16.
	VpcCidr string `json:"vpcCidr"`
	// VpnSubnetCidr is the subnet of the VPN instance.
	VpnSubnetCidr string `json:"vpnSubnetCidr"`
	// TerminalSubnetCidr is the subnet of the terminal instance.
	TerminalSubnetCidr string `json:"terminalSubnetCidr"`
	// VpnPrivateIP is the fixed private address of the VPN instance.
	VpnPrivateIP string `json:"vpnPrivateIp"`
	// TerminalPrivateIP is the fixed private address of the terminal.
	TerminalPrivateIP string `json:"terminalPrivateIp"`
	// Terminal turns the terminal instance on (default) or off.
	Terminal *bool `json:"terminal,omitempty"`
	// AvailabilityZone optionally pins both subnets to one zone.
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	// InstanceType overrides the stack-wide instance type for this site.
	InstanceType string `json:"instanceType,omitempty"`
	// Ami pins an image id instead of looking up the newest image of OS.
	Ami string `json:"ami,omitempty"`
	// OS overrides the stack-wide image choice for this site (one of OSes).
	// Normalize leaves it empty on a site with Ami: the pinned image is
	// used as it is, so the site has no image choice (and Validate refuses
	// both written on one site).
	OS string `json:"os,omitempty"`
	// HighAvailability overrides vpclink:highAvailability for this site.
	HighAvailability *bool `json:"highAvailability,omitempty"`
	// SecondaryVpnSubnetCidr and SecondaryVpnPrivateIP place the second VPN
	// instance of a site with high availability (required there).
	SecondaryVpnSubnetCidr string `json:"secondaryVpnSubnetCidr,omitempty"`
	SecondaryVpnPrivateIP  string `json:"secondaryVpnPrivateIp,omitempty"`
	// SecondaryAvailabilityZone optionally pins the second VPN instance's
	// subnet to a zone; default another zone than the first's (see HA).
	SecondaryAvailabilityZone string `json:"secondaryAvailabilityZone,omitempty"`
}

// HasTerminal reports whether the site gets a terminal instance.
func (s Site) HasTerminal() bool {
	if s.Terminal == nil {
		return DefaultTerminal
	}
	return *s.Terminal
}

// Link is one OpenVPN point-to-point tunnel between two sites.
type Link struct {
	// Name identifies the link; default "<siteA>-<siteB>".
	Name string `json:"name,omitempty"`
	// Sites names the two ends. The first end uses key direction 0.
	Sites []string `json:"sites"`
	// Port is the UDP port on both VPN instances.
	Port int `json:"port,omitempty"`
	// TunnelAddresses are the point-to-point addresses of the two ends, in the
	// order of Sites.
	TunnelAddresses []string `json:"tunnelAddresses,omitempty"`
	// Mode overrides the stack's tunnelMode for this link: tls or static.
	Mode string `json:"mode,omitempty"`
	// SecondaryPort and SecondaryTunnelAddresses are the second tunnel's,
	// between the two sites' second VPN instances, on a link whose two
	// sites have high availability.
	SecondaryPort            int      `json:"secondaryPort,omitempty"`
	SecondaryTunnelAddresses []string `json:"secondaryTunnelAddresses,omitempty"`
}

// Config is the whole stack configuration. Its fields and those of Site and
// Link are the keys and fields of the schema (InputSchema), by their json
// names.
type Config struct {
	Sites []Site `json:"sites"`
	// Links defaults to one link between the two sites when exactly two are
	// given, to the hub's links to every other site with a Hub, and to a
	// full mesh otherwise.
	Links []Link `json:"links,omitempty"`
	// InstanceType is the default EC2 instance type of every instance.
	InstanceType string `json:"instanceType,omitempty"`
	// OS is the image choice of every site without its own os or ami: one
	// of OSes, default DefaultOS.
	OS string `json:"os,omitempty"`
	// SSHUser is the login user of the image (ubuntu for Ubuntu, ec2-user for
	// Amazon Linux).
	SSHUser string `json:"sshUser,omitempty"`
	// SSHAllowedCIDRs may reach port 22 of every instance.
	SSHAllowedCIDRs []string `json:"sshAllowedCidrs,omitempty"`
	// SSHPublicKey and SSHPrivateKey are an operator-supplied key pair; both or
	// neither. With neither, the program generates one. The private key has
	// no JSON name, so that no rendering of a Config carries it: the config
	// tag names its key.
	SSHPublicKey  string `json:"sshPublicKey,omitempty"`
	SSHPrivateKey string `json:"-" config:"sshPrivateKey"`
	// TunnelPort is the first port handed to links without one.
	TunnelPort int `json:"tunnelPort,omitempty"`
	// TunnelMTU is the MTU of the tunnel interface.
	TunnelMTU int `json:"tunnelMtu,omitempty"`
	// TunnelMode is the tunnel mode of every link unless a link says
	// otherwise: tls (TLS 1.3 with pinned self-signed certificates and the
	// static key as tls-crypt key; the default) or static (the walk-through's
	// pre-shared static key).
	TunnelMode string `json:"tunnelMode,omitempty"`
	// PostDeployCheck runs the cross-site ping after both ends are configured.
	PostDeployCheck *bool `json:"postDeployCheck,omitempty"`
	// Hub names the hub site of a hub-and-spoke topology (see Routes):
	// without links, the default links join the hub to every other site
	// (N-1 links instead of a full mesh's N(N-1)/2), and every site reaches
	// every other through the hub where it has no link of its own to it.
	Hub string `json:"hub,omitempty"`
	// SummaryCidr, optional, is one IPv4 network covering every site's VPC:
	// each route table then holds one route for it (to the site's VPN
	// instance) instead of one per reached VPC, and each terminal admits
	// ICMP and traceroute from it with two rules instead of two per reached
	// VPC. The VPN instances still route each VPC into its own tunnel.
	SummaryCidr string `json:"summaryCidr,omitempty"`
	// HighAvailability gives every site (unless it says otherwise) a second
	// VPN instance and every link between two such sites a second tunnel,
	// with a monitor that moves the routes to it (see ha.go).
	HighAvailability *bool `json:"highAvailability,omitempty"`
	// FailbackHoldDownSeconds is how long the first tunnel must stay
	// healthy before the routes move back to it.
	FailbackHoldDownSeconds int `json:"failbackHoldDownSeconds,omitempty"`

	// given holds the keys (without namespace, e.g. "links[0].port") that
	// Decode found written: Normalize fills in only the others, so an
	// explicit 0 or "" reaches Validate instead of turning into the default.
	// A Config built in Go has none; there the zero value means "default".
	given map[string]bool
	// derived holds the keys whose values Normalize made up (how, for
	// messages): Validate blames what they were derived from.
	derived map[string]string
}

// Given reports whether the key (without namespace, e.g. "tunnelPort")
// was written in the configuration Decode read.
func (c Config) Given(k string) bool { return c.given[k] }

// CheckEnabled reports whether the post-deploy ping check runs.
func (c Config) CheckEnabled() bool {
	if c.PostDeployCheck == nil {
		return DefaultPostDeployCheck
	}
	return *c.PostDeployCheck
}

// SiteByName returns the named site.
func (c Config) SiteByName(name string) (Site, bool) {
	for _, s := range c.Sites {
		if s.Name == name {
			return s, true
		}
	}
	return Site{}, false
}

// Normalize returns a copy of c with every default filled in. It does not
// validate; call Validate on the result. Values written explicitly (see
// Decode) are kept as they are, even when zero.
func Normalize(c Config) Config {
	out := c
	out.derived = map[string]string{}
	out.Sites = append([]Site(nil), c.Sites...)
	unset := func(k string, zero bool) bool { return zero && !c.given[k] }
	if unset("instanceType", out.InstanceType == "") {
		out.InstanceType = DefaultInstanceType
	}
	if unset("os", out.OS == "") {
		out.OS = DefaultOS
	}
	if unset("sshUser", out.SSHUser == "") {
		out.SSHUser = DefaultSSHUser
	}
	if out.SSHAllowedCIDRs == nil {
		out.SSHAllowedCIDRs = append([]string(nil), DefaultSSHAllowedCIDRs...)
	}
	if unset("tunnelPort", out.TunnelPort == 0) {
		out.TunnelPort = DefaultTunnelPort
	}
	if unset("tunnelMtu", out.TunnelMTU == 0) {
		out.TunnelMTU = DefaultTunnelMTU
	}
	if unset("tunnelMode", out.TunnelMode == "") {
		out.TunnelMode = DefaultTunnelMode
	}
	for i := range out.Sites {
		if unset(fmt.Sprintf("sites[%d].instanceType", i), out.Sites[i].InstanceType == "") {
			out.Sites[i].InstanceType = out.InstanceType
		}
		if k := fmt.Sprintf("sites[%d].os", i); unset(k, out.Sites[i].OS == "") && out.Sites[i].Ami == "" {
			out.Sites[i].OS = out.OS
			out.derived[k] = "os"
		}
	}
	if len(c.Links) == 0 {
		kind := "mesh"
		out.Links = meshLinks(out.Sites)
		if c.Hub != "" {
			kind = "hub"
			out.Links = hubLinks(out.Sites, c.Hub)
		}
		if len(out.Links) > 0 {
			out.derived["links"] = kind
		}
	} else {
		out.Links = make([]Link, len(c.Links))
		for i, l := range c.Links {
			l.Sites = append([]string(nil), l.Sites...)
			l.TunnelAddresses = append([]string(nil), l.TunnelAddresses...)
			out.Links[i] = l
		}
	}
	// Links without a port take the next ports from TunnelPort that no
	// other link uses; links without addresses the next /30 of the default
	// network, from their own index on, that no other link uses.
	usedPorts := map[int]bool{}
	usedAddrs := map[string]bool{}
	for k, l := range out.Links {
		if !unset(fmt.Sprintf("links[%d].port", k), l.Port == 0) {
			usedPorts[l.Port] = true
		}
		for _, a := range l.TunnelAddresses {
			usedAddrs[a] = true
		}
	}
	next := out.TunnelPort
	block := 0
	for k := range out.Links {
		l := &out.Links[k]
		if unset(fmt.Sprintf("links[%d].name", k), l.Name == "") && len(l.Sites) == 2 {
			l.Name = l.Sites[0] + "-" + l.Sites[1]
			out.derived[fmt.Sprintf("links[%d].name", k)] = "sites"
		}
		if unset(fmt.Sprintf("links[%d].port", k), l.Port == 0) {
			for usedPorts[next] {
				next++
			}
			l.Port = next
			usedPorts[next] = true
			out.derived[fmt.Sprintf("links[%d].port", k)] = "tunnelPort"
		}
		if unset(fmt.Sprintf("links[%d].tunnelAddresses", k), len(l.TunnelAddresses) == 0) {
			block = max(block, k)
			for ; block < MaxDefaultTunnels; block++ {
				if a := DefaultTunnelAddresses(block); !usedAddrs[a[0]] && !usedAddrs[a[1]] {
					break
				}
			}
			if block >= MaxDefaultTunnels {
				out.derived[fmt.Sprintf("links[%d].tunnelAddresses", k)] = "exhausted"
				continue
			}
			l.TunnelAddresses = DefaultTunnelAddresses(block)
			usedAddrs[l.TunnelAddresses[0]], usedAddrs[l.TunnelAddresses[1]] = true, true
			out.derived[fmt.Sprintf("links[%d].tunnelAddresses", k)] = "default"
			block++
		}
	}
	normalizeHA(c, &out, usedAddrs)
	return out
}

// meshLinks joins every pair of sites, in site order.
func meshLinks(sites []Site) []Link {
	var links []Link
	for i := range sites {
		for j := i + 1; j < len(sites); j++ {
			links = append(links, Link{Sites: []string{sites[i].Name, sites[j].Name}})
		}
	}
	return links
}

// DefaultTunnelAddresses returns the two host addresses of /30 number n of
// the default tunnel network, numbered so that n < 256 gives 10.254.n.1/.2:
// the default tunnel addresses of link n.
func DefaultTunnelAddresses(n int) []string {
	base := netip.MustParsePrefix(DefaultTunnelNetwork).Addr().As4()
	third, fourth := n%256, 4*(n/256)
	return []string{
		fmt.Sprintf("%d.%d.%d.%d", base[0], base[1], third, fourth+1),
		fmt.Sprintf("%d.%d.%d.%d", base[0], base[1], third, fourth+2),
	}
}
