package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

// regionExpr is the shape of an AWS region name: a partition or area prefix
// (eu, us, ap, ..., or eusc for the European Sovereign Cloud), one or more
// words, a number: eu-west-1, us-gov-east-1, ap-east-2, eusc-de-east-1. The
// names are not checked against a list: AWS adds regions (the SDK's list
// lacks ap-east-2).
const regionExpr = `[a-z]{2,4}(?:-[a-z]+)+-[0-9]+`

var (
	siteNamePattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$`)
	linkNamePattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,39}[a-z0-9])?$`)
	regionPattern       = regexp.MustCompile(`^` + regionExpr + `$`)
	instanceTypePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	amiPattern          = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	sshUserPattern      = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// An availability zone is its region's name and a letter (eu-west-1a);
	// a Local Zone its region's name, its location, a number and a letter
	// (us-east-1-bos-1a). The region is submatch 1.
	zonePattern      = regexp.MustCompile(`^(` + regionExpr + `)[a-z]$`)
	localZonePattern = regexp.MustCompile(`^(` + regionExpr + `)-[a-z]+-[0-9]+[a-z]$`)
)

// zoneRegion returns the region of an availability zone or Local Zone name,
// and false when zone has neither shape.
func zoneRegion(zone string) (string, bool) {
	for _, p := range []*regexp.Regexp{zonePattern, localZonePattern} {
		if m := p.FindStringSubmatch(zone); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// FieldError is one invalid configuration value.
type FieldError struct {
	// Key is the full configuration key, e.g. vpclink:sites[0].vpcCidr.
	Key string
	// Value is the offending value as the user wrote it ("" or "[secret]"
	// when the value is a secret and must not be repeated).
	Value string
	// Literal says Value is JSON as written (a number, boolean, list or
	// object), shown without quotes; otherwise Value is a string, quoted.
	Literal bool
	// Unset says the key is not set at all (Value is empty).
	Unset bool
	// Problem says what is wrong with it.
	Problem string
}

func (e *FieldError) Error() string {
	switch {
	case e.Unset:
		return fmt.Sprintf("config %s (not set): %s", e.Key, e.Problem)
	case e.Literal:
		return fmt.Sprintf("config %s = %s: %s", e.Key, e.Value, e.Problem)
	}
	return fmt.Sprintf("config %s = %q: %s", e.Key, e.Value, e.Problem)
}

// awsLinkLocal is the part of 169.254.0.0/16 where AWS answers instances
// itself: the instance metadata service 169.254.169.254, the Amazon DNS
// resolver 169.254.169.253 and Amazon Time Sync 169.254.169.123 (AWS EC2
// documentation). A tunnel end there would shadow them. The rest of the
// link-local range is usable, as AWS's own Site-to-Site VPN uses /30s of it
// for inside-tunnel addresses.
var awsLinkLocal = netip.MustParsePrefix("169.254.169.0/24")

// Validate checks a normalized configuration and returns every problem found,
// joined; each is a *FieldError. It never includes the private key's value.
func Validate(c Config) error {
	v := &validator{}
	v.config(c)
	return errors.Join(v.errs...)
}

type validator struct {
	errs []error
	// tunnels are the tunnel addresses the links took, by owner key.
	tunnels map[netip.Addr]string
}

func key(path string, args ...any) string {
	return ConfigNamespace + ":" + fmt.Sprintf(path, args...)
}

func (v *validator) add(k, value, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: k, Value: value, Problem: fmt.Sprintf(format, args...)})
}

// addUnset reports a key that is not set.
func (v *validator) addUnset(k, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: k, Unset: true, Problem: fmt.Sprintf(format, args...)})
}

// addLiteral reports a value written as JSON (a number or a list).
func (v *validator) addLiteral(k, value, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: k, Value: value, Literal: true, Problem: fmt.Sprintf(format, args...)})
}

// jsonList renders a list of strings as written in JSON.
func jsonList(list []string) string {
	b, _ := json.Marshal(list)
	if list == nil {
		return "[]"
	}
	return string(b)
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
		v.addLiteral(key("sites"), sitesCount(len(c.Sites)), "at least two sites are needed for a tunnel")
	}
	if !instanceTypePattern.MatchString(c.InstanceType) {
		v.add(key("instanceType"), c.InstanceType, "is not an EC2 instance type such as t3.micro")
	}
	if !slices.Contains(OSes, c.OS) {
		v.add(key("os"), c.OS, "must be one of %s", osChoices())
	}
	for i, s := range c.Sites {
		k := fmt.Sprintf("sites[%d].os", i)
		switch {
		case s.OS == "" && !c.given[k], c.derived[k] != "":
			// Left out, or vpclink:os's (checked above).
		case !slices.Contains(OSes, s.OS):
			v.add(key("%s", k), s.OS, "must be one of %s (or left out for vpclink:os)", osChoices())
		case s.Ami != "":
			v.add(key("%s", k), s.OS, "has no effect with sites[%d].ami %q set: the pinned image is used as it is, whatever its system; remove one of the two", i, s.Ami)
		}
	}
	if !sshUserPattern.MatchString(c.SSHUser) {
		v.add(key("sshUser"), c.SSHUser, "is not a valid login user name")
	}
	if len(c.SSHAllowedCIDRs) == 0 {
		v.addLiteral(key("sshAllowedCidrs"), "[]", "needs at least one network: `pulumi up` itself configures the instances over SSH")
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
		v.addLiteral(key("tunnelPort"), fmt.Sprint(c.TunnelPort), "is not a port (1-65535)")
	}
	if !openvpn.ValidMTU(c.TunnelMTU) {
		v.addLiteral(key("tunnelMtu"), fmt.Sprint(c.TunnelMTU), "must be between %d and %d", openvpn.MinMTU, openvpn.MaxMTU)
	}
	if !validMode(c.TunnelMode) {
		v.add(key("tunnelMode"), c.TunnelMode, "must be tls (TLS 1.3 with pinned certificates) or static (the pre-shared static key)")
	}
	for i, l := range c.Links {
		if l.Mode != "" && !validMode(l.Mode) || l.Mode == "" && c.given[fmt.Sprintf("links[%d].mode", i)] {
			v.add(key("links[%d].mode", i), l.Mode, "must be tls or static (or left out for vpclink:tunnelMode)")
		}
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
	v.hub(c, parsed)
	v.ha(c, parsed)
}

// zone checks that site i's availability zone is one of the site's region:
// AWS names them after the region, so a zone of another region (or no zone
// at all) is refused at preview rather than by AWS when the subnet is
// created. The names are not checked against a list: AWS adds regions and
// zones.
func (v *validator) zone(i int, s Site) {
	k := key("sites[%d].availabilityZone", i)
	shapes := func(r string) string {
		return fmt.Sprintf("%[1]s followed by a letter (%[1]sa), or for a Local Zone %[1]s-<location>-<number><letter> (such as %[1]s-bos-1a)", r)
	}
	region, ok := zoneRegion(s.AvailabilityZone)
	switch {
	case !regionPattern.MatchString(s.Region):
		// The region is wrong (reported under sites[i].region): which
		// zones belong to it is unknown; only the shape is checked.
		if !ok {
			v.add(k, s.AvailabilityZone, "is not an availability zone name such as eu-west-1a or a Local Zone name such as us-east-1-bos-1a")
		}
	case !ok:
		v.add(k, s.AvailabilityZone, "is not an availability zone name; the zones of sites[%d].region %q are named %s", i, s.Region, shapes(s.Region))
	case region != s.Region:
		v.add(k, s.AvailabilityZone, "is a zone of region %q, not of sites[%d].region %q, whose zones are named %s", region, i, s.Region, shapes(s.Region))
	}
}

func (v *validator) site(i int, s Site) parsedSite {
	var ps parsedSite
	if !siteNamePattern.MatchString(s.Name) {
		v.add(key("sites[%d].name", i), s.Name, "must be 1-20 lowercase letters, digits or '-', not starting or ending with '-'")
	}
	if !regionPattern.MatchString(s.Region) {
		v.add(key("sites[%d].region", i), s.Region, "is not an AWS region such as eu-west-1")
	}
	if s.AvailabilityZone != "" {
		v.zone(i, s)
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

// siteNames returns the valid site names, for suggestions.
func siteNames(c Config) []string {
	var out []string
	for _, s := range c.Sites {
		if siteNamePattern.MatchString(s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// sitesCount stands for the list of sites in messages.
func sitesCount(n int) string {
	if n == 1 {
		return "[1 site]"
	}
	return fmt.Sprintf("[%d sites]", n)
}

// osChoices lists the accepted image choices for messages, the default
// marked.
func osChoices() string {
	out := make([]string, len(OSes))
	for i, o := range OSes {
		out[i] = o
		if o == DefaultOS {
			out[i] += " (the default)"
		}
	}
	return strings.Join(out, ", ")
}

// validMode reports whether m names a tunnel mode.
func validMode(m string) bool { return slices.Contains(TunnelModes, m) }

// LinkMode is the tunnel mode of link i: its own, else the stack's.
func (c Config) LinkMode(i int) string {
	if i < len(c.Links) && c.Links[i].Mode != "" {
		return c.Links[i].Mode
	}
	return c.TunnelMode
}
