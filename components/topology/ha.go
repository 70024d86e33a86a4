package topology

import (
	"fmt"
	"net/netip"
)

// High availability (vpclink:highAvailability): a site with it has a second
// VPN instance in a subnet of its own, and a link between two such sites a
// second tunnel between the second instances, with its own port and tunnel
// addresses. A monitor on each VPN instance moves the route table's routes
// for the peer networks to the second instance when the first tunnel fails,
// and back after FailbackHoldDownSeconds of health.
const (
	// DefaultHighAvailability: one VPN instance per site unless asked.
	DefaultHighAvailability = false
	// DefaultFailbackHoldDownSeconds is how long, in seconds, the first
	// tunnel must answer every probe before the routes move back to it.
	DefaultFailbackHoldDownSeconds = 60
	// MinFailbackHoldDownSeconds and MaxFailbackHoldDownSeconds bound it.
	MinFailbackHoldDownSeconds = 5
	MaxFailbackHoldDownSeconds = 3600
	// SecondaryPortOffset: a second tunnel without a port of its own uses
	// its link's port plus this (1194 -> 1294), so that adding links or
	// sites never moves it.
	SecondaryPortOffset = 100
	// secondaryBlockBase is the first /30 of DefaultTunnelNetwork that
	// second tunnels take: link k's second tunnel takes block
	// secondaryBlockBase+k, 10.254.k.129/.130 for k < 256 (the first
	// tunnel's are 10.254.k.1/.2), so that adding links never moves it.
	secondaryBlockBase = MaxDefaultTunnels / 2
)

// SiteHA reports whether site i has high availability: its own
// highAvailability, else vpclink:highAvailability.
func (c Config) SiteHA(i int) bool {
	if i < 0 || i >= len(c.Sites) {
		return false
	}
	if b := c.Sites[i].HighAvailability; b != nil {
		return *b
	}
	if c.HighAvailability != nil {
		return *c.HighAvailability
	}
	return DefaultHighAvailability
}

// siteIndex returns the index of the named site, -1 when none.
func (c Config) siteIndex(name string) int {
	for i, s := range c.Sites {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// LinkHA reports whether link k has a second tunnel: both its sites have
// high availability. A link with one such site has one tunnel, between
// the first VPN instances, and its routes stay there.
func (c Config) LinkHA(k int) bool {
	if k < 0 || k >= len(c.Links) || len(c.Links[k].Sites) != 2 {
		return false
	}
	return c.SiteHA(c.siteIndex(c.Links[k].Sites[0])) && c.SiteHA(c.siteIndex(c.Links[k].Sites[1]))
}

// AnyHA reports whether some link has a second tunnel.
func (c Config) AnyHA() bool {
	for k := range c.Links {
		if c.LinkHA(k) {
			return true
		}
	}
	return false
}

// normalizeHA fills in the hold-down and, on links with a second tunnel,
// its port and addresses; used holds the tunnel addresses taken so far.
func normalizeHA(c Config, out *Config, used map[string]bool) {
	unset := func(k string, zero bool) bool { return zero && !c.given[k] }
	if unset("failbackHoldDownSeconds", out.FailbackHoldDownSeconds == 0) {
		out.FailbackHoldDownSeconds = DefaultFailbackHoldDownSeconds
	}
	for k := range out.Links {
		l := &out.Links[k]
		l.SecondaryTunnelAddresses = append([]string(nil), l.SecondaryTunnelAddresses...)
		for _, a := range l.SecondaryTunnelAddresses {
			used[a] = true
		}
	}
	for k := range out.Links {
		l := &out.Links[k]
		if !out.LinkHA(k) {
			continue
		}
		if unset(fmt.Sprintf("links[%d].secondaryPort", k), l.SecondaryPort == 0) && l.Port > 0 {
			l.SecondaryPort = l.Port + SecondaryPortOffset
			out.derived[fmt.Sprintf("links[%d].secondaryPort", k)] = "port"
		}
		if unset(fmt.Sprintf("links[%d].secondaryTunnelAddresses", k), len(l.SecondaryTunnelAddresses) == 0) {
			for block := secondaryBlockBase + k; block < MaxDefaultTunnels; block++ {
				if a := DefaultTunnelAddresses(block); !used[a[0]] && !used[a[1]] {
					l.SecondaryTunnelAddresses = a
					used[a[0]], used[a[1]] = true, true
					out.derived[fmt.Sprintf("links[%d].secondaryTunnelAddresses", k)] = "default"
					break
				}
			}
		}
	}
}

// ha checks high availability: the hold-down, each HA site's second
// subnet and address, each link's second port and addresses, and what HA
// does not combine with.
func (v *validator) ha(c Config, parsed []parsedSite) {
	if c.FailbackHoldDownSeconds < MinFailbackHoldDownSeconds || c.FailbackHoldDownSeconds > MaxFailbackHoldDownSeconds {
		v.addLiteral(key("failbackHoldDownSeconds"), fmt.Sprint(c.FailbackHoldDownSeconds), "must be between %d and %d seconds", MinFailbackHoldDownSeconds, MaxFailbackHoldDownSeconds)
	}
	anySite := false
	for i, s := range c.Sites {
		if !c.SiteHA(i) {
			for _, f := range []struct{ name, value string }{
				{"secondaryVpnSubnetCidr", s.SecondaryVpnSubnetCidr},
				{"secondaryVpnPrivateIp", s.SecondaryVpnPrivateIP},
				{"secondaryAvailabilityZone", s.SecondaryAvailabilityZone},
			} {
				if f.value != "" {
					v.add(key("sites[%d].%s", i, f.name), f.value, "has no effect without high availability: set vpclink:highAvailability or sites[%d].highAvailability to true, or remove it", i)
				}
			}
			continue
		}
		anySite = true
		v.secondarySite(i, s, parsed[i])
	}
	if anySite {
		haKey, haValue := key("highAvailability"), "true"
		for i, s := range c.Sites {
			if s.HighAvailability != nil && *s.HighAvailability {
				haKey = key("sites[%d].highAvailability", i)
				break
			}
		}
		if c.Hub != "" {
			v.addLiteral(haKey, haValue, "is not supported with vpclink:hub %q yet: traffic through the hub would also need the hub's own routes to move; use a mesh (links between the sites) for high availability", c.Hub)
		}
		if c.SummaryCidr != "" {
			v.addLiteral(haKey, haValue, "is not supported with vpclink:summaryCidr %q yet: the monitor moves each peer's route to the tunnel that carries it, which one summary route cannot follow; remove summaryCidr", c.SummaryCidr)
		}
	}
	ports := map[string]map[int]int{}
	for k, l := range c.Links {
		if !c.LinkHA(k) {
			if l.SecondaryPort != 0 || c.given[fmt.Sprintf("links[%d].secondaryPort", k)] {
				v.addLiteral(key("links[%d].secondaryPort", k), fmt.Sprint(l.SecondaryPort), "has no effect: a second tunnel needs high availability at both sites of the link")
			}
			if len(l.SecondaryTunnelAddresses) > 0 {
				v.addLiteral(key("links[%d].secondaryTunnelAddresses", k), jsonList(l.SecondaryTunnelAddresses), "has no effect: a second tunnel needs high availability at both sites of the link")
			}
			continue
		}
		pk := key("links[%d].secondaryPort", k)
		switch {
		case l.SecondaryPort < 1 || l.SecondaryPort > 65535:
			if c.derived[fmt.Sprintf("links[%d].secondaryPort", k)] != "" {
				v.addLiteral(pk, fmt.Sprint(l.SecondaryPort), "the default (links[%d].port + %d) is past 65535: give links[%d].secondaryPort", k, SecondaryPortOffset, k)
			} else {
				v.addLiteral(pk, fmt.Sprint(l.SecondaryPort), "is not a port (1-65535)")
			}
		default:
			for _, name := range l.Sites {
				if ports[name] == nil {
					ports[name] = map[int]int{}
				}
				if j, dup := ports[name][l.SecondaryPort]; dup {
					v.addLiteral(pk, fmt.Sprint(l.SecondaryPort), "site %q already uses this port for the second tunnel of links[%d]", name, j)
				}
				ports[name][l.SecondaryPort] = k
			}
		}
		v.secondaryTunnel(c, parsed, k)
	}
}

// secondarySite checks the second VPN instance's subnet, address and zone
// of HA site i.
func (v *validator) secondarySite(i int, s Site, ps parsedSite) {
	sk, ik := key("sites[%d].secondaryVpnSubnetCidr", i), key("sites[%d].secondaryVpnPrivateIp", i)
	if s.SecondaryVpnSubnetCidr == "" {
		v.addUnset(sk, "is required with high availability: the second VPN instance's subnet, inside vpcCidr %s and disjoint from the other two", s.VpcCidr)
	}
	if s.SecondaryVpnPrivateIP == "" {
		v.addUnset(ik, "is required with high availability: the second VPN instance's address inside secondaryVpnSubnetCidr")
	}
	if s.SecondaryAvailabilityZone != "" {
		z := s
		z.AvailabilityZone = s.SecondaryAvailabilityZone
		before := len(v.errs)
		v.zone(i, z)
		for n := before; n < len(v.errs); n++ {
			if fe, ok := v.errs[n].(*FieldError); ok {
				fe.Key = key("sites[%d].secondaryAvailabilityZone", i)
			}
		}
	}
	if s.SecondaryVpnSubnetCidr == "" {
		return
	}
	p, ok := v.prefix(sk, s.SecondaryVpnSubnetCidr)
	if !ok {
		return
	}
	switch {
	case ps.vpcOK && !(ps.vpc.Contains(p.Addr()) && p.Bits() >= ps.vpc.Bits()):
		v.add(sk, s.SecondaryVpnSubnetCidr, "is outside the site's VPC %s", s.VpcCidr)
	case p.Bits() > 28:
		v.add(sk, s.SecondaryVpnSubnetCidr, "AWS subnets must be /28 or larger")
	}
	for n, f := range []string{"vpnSubnetCidr", "terminalSubnetCidr"} {
		if ps.subnets[n].IsValid() && overlaps(ps.subnets[n], p) {
			v.add(sk, s.SecondaryVpnSubnetCidr, "overlaps %s %s; the three subnets must be disjoint", f, ps.subnets[n])
		}
	}
	if s.SecondaryVpnPrivateIP == "" {
		return
	}
	if a, ok := v.addr(ik, s.SecondaryVpnPrivateIP); ok {
		switch {
		case !p.Contains(a):
			v.add(ik, s.SecondaryVpnPrivateIP, "is outside its subnet %s (secondaryVpnSubnetCidr)", s.SecondaryVpnSubnetCidr)
		case reserved(p, a):
			v.add(ik, s.SecondaryVpnPrivateIP, "is reserved by AWS in subnet %s (the first four addresses and the last one are)", s.SecondaryVpnSubnetCidr)
		}
	}
}

// secondaryTunnel checks the second tunnel's addresses of link k like the
// first's: two, unicast, outside AWS's link-local services and every VPC,
// distinct and used by no other tunnel.
func (v *validator) secondaryTunnel(c Config, parsed []parsedSite, k int) {
	l := c.Links[k]
	fk := key("links[%d].secondaryTunnelAddresses", k)
	if len(l.SecondaryTunnelAddresses) != 2 {
		v.addLiteral(fk, jsonList(l.SecondaryTunnelAddresses), "must hold exactly two addresses")
		return
	}
	var addrs [2]netip.Addr
	for n, s := range l.SecondaryTunnelAddresses {
		ak := fmt.Sprintf("links[%d].secondaryTunnelAddresses[%d]", k, n)
		a, ok := v.tunnelAddress(key("%s", ak), s)
		if !ok {
			continue
		}
		addrs[n] = a
		for i, ps := range parsed {
			if ps.vpcOK && ps.vpc.Contains(a) {
				v.add(key("%s", ak), s, "lies inside sites[%d].vpcCidr %s; tunnel addresses must be outside every VPC", i, c.Sites[i].VpcCidr)
			}
		}
		if owner, dup := v.tunnels[a]; dup {
			v.add(key("%s", ak), s, "is already used by %s", owner)
		}
		v.tunnels[a] = ak
	}
	if addrs[0].IsValid() && addrs[0] == addrs[1] {
		v.add(key("links[%d].secondaryTunnelAddresses[1]", k), l.SecondaryTunnelAddresses[1], "equals secondaryTunnelAddresses[0]; the two ends need different addresses")
	}
}
