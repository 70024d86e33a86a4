package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

var (
	siteNamePattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)
	linkNamePattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,39}[a-z0-9])?$`)
	regionPattern       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	instanceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	amiPattern          = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	sshUserPattern      = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
)

// Limits on the tunnel MTU: below 1280 IPv6 breaks inside the tunnel; above
// 1500 the encapsulated packets no longer fit an internet path.
const (
	MinTunnelMTU = 1280
	MaxTunnelMTU = 1500
)

// FieldError is one invalid configuration value.
type FieldError struct {
	// Key is the full configuration key, e.g. vpclink:sites[0].vpcCidr.
	Key string
	// Value is the offending value as the user wrote it ("" when the value is
	// a secret and must not be repeated).
	Value string
	// Problem says what is wrong with it.
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config %s = %q: %s", e.Key, e.Value, e.Problem)
}

// Validate checks a normalized configuration and returns every problem found,
// joined; each is a *FieldError. It never includes the private key's value.
func Validate(c Config) error {
	v := &validator{}
	v.config(c)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func key(path string, args ...any) string {
	return ConfigNamespace + ":" + fmt.Sprintf(path, args...)
}

func (v *validator) add(k, value, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: k, Value: value, Problem: fmt.Sprintf(format, args...)})
}

// prefix parses a canonical IPv4 network, reporting under k.
func (v *validator) prefix(k, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case s == "":
		v.add(k, s, "is required (an IPv4 CIDR such as 10.0.0.0/16)")
	case err != nil:
		v.add(k, s, "is not a CIDR (want an IPv4 network such as 10.0.0.0/16)")
	case !p.Addr().Is4():
		v.add(k, s, "is not IPv4 (only IPv4 networks are supported)")
	case p.Masked() != p:
		v.add(k, s, "has host bits set; did you mean %s?", p.Masked())
	default:
		return p, true
	}
	return netip.Prefix{}, false
}

// addr parses an IPv4 address, reporting under k.
func (v *validator) addr(k, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	switch {
	case s == "":
		v.add(k, s, "is required (an IPv4 address)")
	case err != nil || !a.Is4():
		v.add(k, s, "is not an IPv4 address")
	default:
		return a, true
	}
	return netip.Addr{}, false
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// reserved reports whether AWS reserves a in subnet p: the network address,
// the next three (router, DNS, future use) and the broadcast address.
func reserved(p netip.Prefix, a netip.Addr) bool {
	first := p.Addr()
	for i := 0; i < 4; i++ {
		if a == first {
			return true
		}
		first = first.Next()
	}
	return a == lastAddr(p)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

type parsedSite struct {
	vpc     netip.Prefix
	vpcOK   bool
	subnets [2]netip.Prefix
}

func (v *validator) config(c Config) {
	if len(c.Sites) < 2 {
		v.add(key("sites"), fmt.Sprintf("%d site(s)", len(c.Sites)), "at least two sites are needed for a tunnel")
	}
	if !instanceTypePattern.MatchString(c.InstanceType) {
		v.add(key("instanceType"), c.InstanceType, "is not an EC2 instance type such as t3.micro")
	}
	if !sshUserPattern.MatchString(c.SSHUser) {
		v.add(key("sshUser"), c.SSHUser, "is not a valid login user name")
	}
	if len(c.SSHAllowedCIDRs) == 0 {
		v.add(key("sshAllowedCidrs"), "[]", "needs at least one network: `pulumi up` itself configures the instances over SSH")
	}
	for i, s := range c.SSHAllowedCIDRs {
		v.prefix(key("sshAllowedCidrs[%d]", i), s)
	}
	if (c.SSHPublicKey == "") != (c.SSHPrivateKey == "") {
		if c.SSHPublicKey == "" {
			v.add(key("sshPublicKey"), "", "is required when sshPrivateKey is set (give both or neither)")
		} else {
			v.add(key("sshPrivateKey"), "", "is required when sshPublicKey is set (give both or neither)")
		}
	}
	if c.SSHPublicKey != "" && !strings.HasPrefix(c.SSHPublicKey, "ssh-") && !strings.HasPrefix(c.SSHPublicKey, "ecdsa-") {
		v.add(key("sshPublicKey"), c.SSHPublicKey, "is not an OpenSSH public key (ssh-ed25519 AAAA... or ssh-rsa AAAA...)")
	}
	if c.SSHPrivateKey != "" && !strings.Contains(c.SSHPrivateKey, "PRIVATE KEY-----") {
		v.add(key("sshPrivateKey"), "[secret]", "is not a PEM or OpenSSH private key")
	}
	if c.TunnelPort < 1 || c.TunnelPort > 65535 {
		v.add(key("tunnelPort"), fmt.Sprint(c.TunnelPort), "is not a port (1-65535)")
	}
	if c.TunnelMTU < MinTunnelMTU || c.TunnelMTU > MaxTunnelMTU {
		v.add(key("tunnelMtu"), fmt.Sprint(c.TunnelMTU), "must be between %d and %d", MinTunnelMTU, MaxTunnelMTU)
	}

	parsed := make([]parsedSite, len(c.Sites))
	seen := map[string]int{}
	for i, s := range c.Sites {
		parsed[i] = v.site(i, s)
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			v.add(key("sites[%d].name", i), s.Name, "duplicates sites[%d].name", j)
		}
		seen[s.Name] = i
	}
	for i := range c.Sites {
		for j := 0; j < i; j++ {
			if parsed[i].vpcOK && parsed[j].vpcOK && overlaps(parsed[i].vpc, parsed[j].vpc) {
				v.add(key("sites[%d].vpcCidr", i), c.Sites[i].VpcCidr,
					"overlaps sites[%d].vpcCidr %s (site %q); VPCs joined by a tunnel need distinct networks",
					j, c.Sites[j].VpcCidr, c.Sites[j].Name)
			}
		}
	}
	v.links(c, parsed)
}

func (v *validator) site(i int, s Site) parsedSite {
	var ps parsedSite
	if !siteNamePattern.MatchString(s.Name) {
		v.add(key("sites[%d].name", i), s.Name, "must be 1-20 lowercase letters, digits or '-', not starting or ending with '-'")
	}
	if !regionPattern.MatchString(s.Region) {
		v.add(key("sites[%d].region", i), s.Region, "is not an AWS region such as eu-west-1")
	}
	if s.AvailabilityZone != "" && !regexp.MustCompile(`^`+regexp.QuoteMeta(s.Region)+`[a-z]$`).MatchString(s.AvailabilityZone) {
		v.add(key("sites[%d].availabilityZone", i), s.AvailabilityZone, "is not a zone of region %q", s.Region)
	}
	if !instanceTypePattern.MatchString(s.InstanceType) {
		v.add(key("sites[%d].instanceType", i), s.InstanceType, "is not an EC2 instance type such as t3.micro")
	}
	if s.Ami != "" && !amiPattern.MatchString(s.Ami) {
		v.add(key("sites[%d].ami", i), s.Ami, "is not an AMI id such as ami-0123456789abcdef0")
	}
	ps.vpc, ps.vpcOK = v.prefix(key("sites[%d].vpcCidr", i), s.VpcCidr)
	if ps.vpcOK && (ps.vpc.Bits() < 16 || ps.vpc.Bits() > 28) {
		v.add(key("sites[%d].vpcCidr", i), s.VpcCidr, "AWS allows VPC networks from /16 to /28")
		ps.vpcOK = false
	}
	type subnet struct {
		field, cidr, ipField, ip string
		required                 bool
	}
	subs := [2]subnet{
		{"vpnSubnetCidr", s.VpnSubnetCidr, "vpnPrivateIp", s.VpnPrivateIP, true},
		{"terminalSubnetCidr", s.TerminalSubnetCidr, "terminalPrivateIp", s.TerminalPrivateIP, s.HasTerminal()},
	}
	var subOK [2]bool
	for n, sub := range subs {
		k := key("sites[%d].%s", i, sub.field)
		ps.subnets[n], subOK[n] = v.prefix(k, sub.cidr)
		if subOK[n] && ps.vpcOK && !(ps.vpc.Contains(ps.subnets[n].Addr()) && ps.subnets[n].Bits() >= ps.vpc.Bits()) {
			v.add(k, sub.cidr, "is outside the site's VPC %s", s.VpcCidr)
		}
		if subOK[n] && ps.subnets[n].Bits() > 28 {
			v.add(k, sub.cidr, "AWS subnets must be /28 or larger")
		}
		if sub.ip == "" && !sub.required {
			continue
		}
		ik := key("sites[%d].%s", i, sub.ipField)
		if a, ok := v.addr(ik, sub.ip); ok && subOK[n] {
			switch {
			case !ps.subnets[n].Contains(a):
				v.add(ik, sub.ip, "is outside its subnet %s (%s)", sub.cidr, sub.field)
			case reserved(ps.subnets[n], a):
				v.add(ik, sub.ip, "is reserved by AWS in subnet %s (the first four addresses and the last one are)", sub.cidr)
			}
		}
	}
	if subOK[0] && subOK[1] && overlaps(ps.subnets[0], ps.subnets[1]) {
		v.add(key("sites[%d].terminalSubnetCidr", i), s.TerminalSubnetCidr, "overlaps vpnSubnetCidr %s; the two subnets must be disjoint", s.VpnSubnetCidr)
	}
	return ps
}

func (v *validator) links(c Config, parsed []parsedSite) {
	if len(c.Links) == 0 && len(c.Sites) >= 2 {
		v.add(key("links"), "[]", "no links: nothing would join the sites")
	}
	index := map[string]int{}
	for i, s := range c.Sites {
		index[s.Name] = i
	}
	names := map[string]int{}
	pairs := map[[2]string]int{}
	ports := map[string]map[int]int{} // site -> port -> link
	tunnel := map[netip.Addr]string{}
	for k, l := range c.Links {
		if !linkNamePattern.MatchString(l.Name) {
			v.add(key("links[%d].name", k), l.Name, "must be 1-41 lowercase letters, digits or '-'")
		} else if j, dup := names[l.Name]; dup {
			v.add(key("links[%d].name", k), l.Name, "duplicates links[%d].name", j)
		}
		names[l.Name] = k
		if l.Port < 1 || l.Port > 65535 {
			v.add(key("links[%d].port", k), fmt.Sprint(l.Port), "is not a port (1-65535)")
		}
		if len(l.Sites) != 2 {
			v.add(key("links[%d].sites", k), strings.Join(l.Sites, ","), "must name exactly two sites")
			continue
		}
		known := true
		for n, name := range l.Sites {
			if _, ok := index[name]; !ok {
				v.add(key("links[%d].sites[%d]", k, n), name, "is not the name of a configured site")
				known = false
			}
		}
		if l.Sites[0] == l.Sites[1] {
			v.add(key("links[%d].sites", k), strings.Join(l.Sites, ","), "a link needs two different sites")
			known = false
		}
		if known {
			pair := [2]string{l.Sites[0], l.Sites[1]}
			if pair[0] > pair[1] {
				pair[0], pair[1] = pair[1], pair[0]
			}
			if j, dup := pairs[pair]; dup {
				v.add(key("links[%d].sites", k), strings.Join(l.Sites, ","), "duplicates links[%d]: two tunnels between the same sites would fight over the routes", j)
			}
			pairs[pair] = k
			for _, name := range l.Sites {
				if ports[name] == nil {
					ports[name] = map[int]int{}
				}
				if j, dup := ports[name][l.Port]; dup {
					v.add(key("links[%d].port", k), fmt.Sprint(l.Port), "site %q already uses this port for links[%d]", name, j)
				}
				ports[name][l.Port] = k
			}
		}
		if len(l.TunnelAddresses) != 2 {
			v.add(key("links[%d].tunnelAddresses", k), strings.Join(l.TunnelAddresses, ","), "must hold exactly two addresses")
			continue
		}
		var addrs [2]netip.Addr
		var ok [2]bool
		for n, s := range l.TunnelAddresses {
			ak := key("links[%d].tunnelAddresses[%d]", k, n)
			addrs[n], ok[n] = v.addr(ak, s)
			if !ok[n] {
				continue
			}
			for i, ps := range parsed {
				if ps.vpcOK && ps.vpc.Contains(addrs[n]) {
					v.add(ak, s, "lies inside sites[%d].vpcCidr %s; tunnel addresses must be outside every VPC", i, c.Sites[i].VpcCidr)
				}
			}
			if owner, dup := tunnel[addrs[n]]; dup {
				v.add(ak, s, "is already used by %s", owner)
			}
			tunnel[addrs[n]] = fmt.Sprintf("links[%d].tunnelAddresses[%d]", k, n)
		}
		if ok[0] && ok[1] && addrs[0] == addrs[1] {
			v.add(key("links[%d].tunnelAddresses[1]", k), l.TunnelAddresses[1], "equals tunnelAddresses[0]; the two ends need different addresses")
		}
	}
}
