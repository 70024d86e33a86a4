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
)

// ConfigNamespace is the Pulumi configuration namespace of the program; error
// messages name keys inside it.
const ConfigNamespace = "vpclink"

// Defaults applied by Normalize when a field is left empty.
const (
	DefaultInstanceType = "t3.micro"
	DefaultSSHUser      = "ubuntu"
	DefaultTunnelPort   = 1194
	DefaultTunnelMTU    = 1400
	// DefaultTunnelNetwork is where default tunnel addresses come from: link k
	// gets 10.254.k.1 and 10.254.k.2.
	DefaultTunnelNetwork = "10.254.0.0/16"
)

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
	// Ami pins an image id instead of looking up the newest Ubuntu 24.04.
	Ami string `json:"ami,omitempty"`
}

// HasTerminal reports whether the site gets a terminal instance.
func (s Site) HasTerminal() bool { return s.Terminal == nil || *s.Terminal }

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
}

// Config is the whole stack configuration.
type Config struct {
	Sites []Site `json:"sites"`
	// Links defaults to one link between the two sites when exactly two are
	// given, and to a full mesh otherwise.
	Links []Link `json:"links,omitempty"`
	// InstanceType is the default EC2 instance type of every instance.
	InstanceType string `json:"instanceType,omitempty"`
	// SSHUser is the login user of the image (ubuntu for Ubuntu, ec2-user for
	// Amazon Linux).
	SSHUser string `json:"sshUser,omitempty"`
	// SSHAllowedCIDRs may reach port 22 of every instance.
	SSHAllowedCIDRs []string `json:"sshAllowedCidrs,omitempty"`
	// SSHPublicKey and SSHPrivateKey are an operator-supplied key pair; both or
	// neither. With neither, the program generates one.
	SSHPublicKey  string `json:"sshPublicKey,omitempty"`
	SSHPrivateKey string `json:"-"`
	// TunnelPort is the first port handed to links without one.
	TunnelPort int `json:"tunnelPort,omitempty"`
	// TunnelMTU is the MTU of the tunnel interface.
	TunnelMTU int `json:"tunnelMtu,omitempty"`
	// PostDeployCheck runs the cross-site ping after both ends are configured.
	PostDeployCheck *bool `json:"postDeployCheck,omitempty"`
}

// CheckEnabled reports whether the post-deploy ping check runs.
func (c Config) CheckEnabled() bool { return c.PostDeployCheck == nil || *c.PostDeployCheck }

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
// validate; call Validate on the result.
func Normalize(c Config) Config {
	out := c
	out.Sites = append([]Site(nil), c.Sites...)
	if out.InstanceType == "" {
		out.InstanceType = DefaultInstanceType
	}
	if out.SSHUser == "" {
		out.SSHUser = DefaultSSHUser
	}
	if out.SSHAllowedCIDRs == nil {
		out.SSHAllowedCIDRs = append([]string(nil), DefaultSSHAllowedCIDRs...)
	}
	if out.TunnelPort == 0 {
		out.TunnelPort = DefaultTunnelPort
	}
	if out.TunnelMTU == 0 {
		out.TunnelMTU = DefaultTunnelMTU
	}
	for i := range out.Sites {
		if out.Sites[i].InstanceType == "" {
			out.Sites[i].InstanceType = out.InstanceType
		}
	}
	if len(c.Links) == 0 {
		out.Links = meshLinks(out.Sites)
	} else {
		out.Links = make([]Link, len(c.Links))
		for i, l := range c.Links {
			l.Sites = append([]string(nil), l.Sites...)
			l.TunnelAddresses = append([]string(nil), l.TunnelAddresses...)
			out.Links[i] = l
		}
	}
	// Links without a port take the next ports from TunnelPort that no
	// other link uses.
	used := map[int]bool{}
	for _, l := range out.Links {
		used[l.Port] = true
	}
	next := out.TunnelPort
	for k := range out.Links {
		l := &out.Links[k]
		if l.Name == "" && len(l.Sites) == 2 {
			l.Name = l.Sites[0] + "-" + l.Sites[1]
		}
		if l.Port == 0 {
			for used[next] {
				next++
			}
			l.Port = next
			used[next] = true
		}
		if len(l.TunnelAddresses) == 0 {
			l.TunnelAddresses = defaultTunnelAddresses(k)
		}
	}
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

func defaultTunnelAddresses(k int) []string {
	base := netip.MustParsePrefix(DefaultTunnelNetwork).Addr().As4()
	return []string{
		fmt.Sprintf("%d.%d.%d.1", base[0], base[1], k%256),
		fmt.Sprintf("%d.%d.%d.2", base[0], base[1], k%256),
	}
}

// Endpoint is one end of a link, as seen from that end.
type Endpoint struct {
	Link          Link
	Local, Remote Site
	// LocalTunnelIP and RemoteTunnelIP are the point-to-point addresses.
	LocalTunnelIP, RemoteTunnelIP string
	// KeyDirection is 0 for the first site of the link and 1 for the second.
	KeyDirection int
}

// Endpoints returns the two ends of link l in c, in the link's site order.
// It assumes c has been validated.
func (c Config) Endpoints(l Link) [2]Endpoint {
	a, _ := c.SiteByName(l.Sites[0])
	b, _ := c.SiteByName(l.Sites[1])
	return [2]Endpoint{
		{Link: l, Local: a, Remote: b, LocalTunnelIP: l.TunnelAddresses[0], RemoteTunnelIP: l.TunnelAddresses[1], KeyDirection: 0},
		{Link: l, Local: b, Remote: a, LocalTunnelIP: l.TunnelAddresses[1], RemoteTunnelIP: l.TunnelAddresses[0], KeyDirection: 1},
	}
}
