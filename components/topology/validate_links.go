package topology

import (
	"fmt"
	"net/netip"
	"strings"
)

// linkState is what the checks of vpclink:links carry from one link to the
// next: names, ports and addresses already taken, and what is reported once
// for all links at the end.
type linkState struct {
	c      Config
	parsed []parsedSite
	// index is the first site of each name; sitesOK says every site name is
	// valid and unique.
	index   map[string]int
	sitesOK bool
	mesh    bool
	// derivedKind is how Normalize made the links: "mesh", "hub" or "".
	derivedKind string

	names        map[string]int
	prefixes     map[string]string // resource name prefix -> link end
	pairs        map[[2]string]int
	ports        map[string]map[int]int // site -> port -> link
	tunnel       map[netip.Addr]string
	portsPastEnd []string
	inVPC        map[int][]string // site -> default addresses inside its VPC
	exhausted    int
}

func (v *validator) links(c Config, parsed []parsedSite) {
	if len(c.Links) == 0 && len(c.Sites) >= 2 {
		v.addLiteral(key("links"), "[]", "no links: nothing would join the sites")
	}
	st := &linkState{
		c: c, parsed: parsed, index: map[string]int{}, sitesOK: true,
		mesh: c.derived["links"] != "", derivedKind: c.derived["links"],
		names: map[string]int{}, prefixes: map[string]string{}, pairs: map[[2]string]int{},
		ports: map[string]map[int]int{}, tunnel: map[netip.Addr]string{}, inVPC: map[int][]string{},
	}
	for i, s := range c.Sites {
		if _, dup := st.index[s.Name]; !dup {
			st.index[s.Name] = i
		}
	}
	for i, s := range c.Sites {
		st.sitesOK = st.sitesOK && siteNamePattern.MatchString(s.Name) && st.index[s.Name] == i
	}
	for k := range c.Links {
		// The sites come first: the name, port and addresses of a link
		// without valid sites are consequences.
		known, ok := v.linkSites(st, k)
		if !ok {
			continue
		}
		v.linkName(st, k, known)
		v.linkPort(st, k, known)
		if known {
			v.linkPair(st, k)
		}
		v.linkTunnelAddresses(st, k)
	}
	v.linksSummary(st)
	v.tunnels = st.tunnel
}

// lk is the key of a field of link k.
func lk(k int, field string, args ...any) string {
	return key("links[%d]"+field, append([]any{k}, args...)...)
}

// derived reports whether Normalize made up field of link k.
func (st *linkState) derived(k int, field string) bool {
	return st.c.derived[fmt.Sprintf("links[%d].%s", k, field)] != ""
}

// where names link k in messages about values derived for it.
func (st *linkState) where(k int) string {
	return fmt.Sprintf("links[%d] %q", k, strings.Join(st.c.Links[k].Sites, "-"))
}

// linkSites checks the two sites of link k. ok is false when the link does
// not name two sites at all (nothing else of it is checked); known says both
// are configured sites and differ.
func (v *validator) linkSites(st *linkState, k int) (known, ok bool) {
	l := st.c.Links[k]
	if len(l.Sites) != 2 {
		v.addLiteral(lk(k, ".sites"), jsonList(l.Sites), "must name exactly two sites")
		return false, false
	}
	known = true
	for n, name := range l.Sites {
		if _, ok := st.index[name]; !ok {
			v.add(lk(k, ".sites[%d]", n), name, "is not the name of a configured site%s", suggest(name, siteNames(st.c), ""))
			known = false
		}
	}
	if l.Sites[0] == l.Sites[1] {
		v.addLiteral(lk(k, ".sites"), jsonList(l.Sites), "a link needs two different sites")
		known = false
	}
	return known, true
}

// linkName checks the name of link k: its shape, that no other link has it,
// and that no two link ends name their resources alike.
func (v *validator) linkName(st *linkState, k int, known bool) {
	l := st.c.Links[k]
	switch {
	case st.derived(k, "name"):
		// Made of two valid site names it is a valid link name; it can
		// still equal another link's name.
		if j, dup := st.names[l.Name]; dup && known && st.sitesOK {
			if st.mesh {
				v.add(key("sites[%d].name", st.index[l.Sites[1]]), l.Sites[1], "the %s link between %q and %q gets the default name %q, as does links[%d]; choose site names that do not run together, or give vpclink:links with names", st.derivedKind, l.Sites[0], l.Sites[1], l.Name, j)
			} else {
				v.addLiteral(lk(k, ".sites"), jsonList(l.Sites), "the link's default name %q is already the name of links[%d]: give links[%d].name", l.Name, j, k)
			}
		}
	case !linkNamePattern.MatchString(l.Name):
		v.add(lk(k, ".name"), l.Name, "must be 1-41 lowercase letters, digits or '-', not starting or ending with '-'")
	default:
		if j, dup := st.names[l.Name]; dup {
			v.add(lk(k, ".name"), l.Name, "duplicates links[%d].name", j)
		}
	}
	if _, dup := st.names[l.Name]; !dup && l.Name != "" {
		st.names[l.Name] = k
	}
	// Each end's resources are named "<link>-<site>-...": two ends
	// must not share that prefix (link "x-a" at site "b", link "x" at "a-b").
	if known && linkNamePattern.MatchString(l.Name) {
		for _, site := range l.Sites {
			p := l.Name + "-" + site
			if other, dup := st.prefixes[p]; dup {
				v.add(lk(k, ".name"), l.Name, "its end at site %q and %s both name their resources %q: rename the link", site, other, p+"-...")
			}
			st.prefixes[p] = fmt.Sprintf("links[%d]'s end at %q", k, site)
		}
	}
}

// linkPort checks the port of link k: a port, and not used by another link
// at either end. Default ports past 65535 are reported together.
func (v *validator) linkPort(st *linkState, k int, known bool) {
	l := st.c.Links[k]
	switch {
	case st.derived(k, "port") && (st.c.TunnelPort < 1 || st.c.TunnelPort > 65535):
		// Reported once, under tunnelPort.
	case st.derived(k, "port") && l.Port > 65535:
		st.portsPastEnd = append(st.portsPastEnd, st.where(k))
	case l.Port < 1 || l.Port > 65535:
		v.addLiteral(lk(k, ".port"), fmt.Sprint(l.Port), "is not a port (1-65535)")
	case known:
		for _, name := range l.Sites {
			if st.ports[name] == nil {
				st.ports[name] = map[int]int{}
			}
			if j, dup := st.ports[name][l.Port]; dup {
				v.addLiteral(lk(k, ".port"), fmt.Sprint(l.Port), "site %q already uses this port for links[%d]", name, j)
			}
			st.ports[name][l.Port] = k
		}
	}
}

// linkPair refuses a second link between the same two sites.
func (v *validator) linkPair(st *linkState, k int) {
	l := st.c.Links[k]
	pair := [2]string{l.Sites[0], l.Sites[1]}
	if pair[0] > pair[1] {
		pair[0], pair[1] = pair[1], pair[0]
	}
	if j, dup := st.pairs[pair]; dup {
		v.addLiteral(lk(k, ".sites"), jsonList(l.Sites), "duplicates links[%d]: two tunnels between the same sites would fight over the routes", j)
	}
	st.pairs[pair] = k
}

// linkTunnelAddresses checks the two tunnel addresses of link k: unicast,
// outside AWS's own link-local services and every VPC, distinct and not
// used by another link. Default addresses inside a VPC and links that found
// no default addresses are reported together.
func (v *validator) linkTunnelAddresses(st *linkState, k int) {
	l := st.c.Links[k]
	if st.c.derived[fmt.Sprintf("links[%d].tunnelAddresses", k)] == "exhausted" {
		st.exhausted++
		return
	}
	if len(l.TunnelAddresses) != 2 {
		v.addLiteral(lk(k, ".tunnelAddresses"), jsonList(l.TunnelAddresses), "must hold exactly two addresses")
		return
	}
	var addrs [2]netip.Addr
	var ok [2]bool
	for n, s := range l.TunnelAddresses {
		ak := lk(k, ".tunnelAddresses[%d]", n)
		addrs[n], ok[n] = v.tunnelAddress(ak, s)
		if !ok[n] {
			continue
		}
		for i, ps := range st.parsed {
			if ps.vpcOK && ps.vpc.Contains(addrs[n]) {
				if st.derived(k, "tunnelAddresses") {
					st.inVPC[i] = append(st.inVPC[i], fmt.Sprintf("%s of %s", s, st.where(k)))
				} else {
					v.add(ak, s, "lies inside sites[%d].vpcCidr %s; tunnel addresses must be outside every VPC", i, st.c.Sites[i].VpcCidr)
				}
			}
		}
		if owner, dup := st.tunnel[addrs[n]]; dup {
			v.add(ak, s, "is already used by %s", owner)
		}
		st.tunnel[addrs[n]] = fmt.Sprintf("links[%d].tunnelAddresses[%d]", k, n)
	}
	if ok[0] && ok[1] && addrs[0] == addrs[1] {
		v.add(lk(k, ".tunnelAddresses[1]"), l.TunnelAddresses[1], "equals tunnelAddresses[0]; the two ends need different addresses")
	}
}

// tunnelAddress parses one tunnel end: an IPv4 unicast address outside
// the range where AWS serves instances.
func (v *validator) tunnelAddress(ak, s string) (netip.Addr, bool) {
	a, ok := v.addr(ak, s)
	switch {
	case !ok:
		return a, false
	case awsLinkLocal.Contains(a):
		v.add(ak, s, "is in %s, where AWS serves instances (metadata service 169.254.169.254, DNS 169.254.169.253, NTP 169.254.169.123); other 169.254.0.0/16 addresses can be tunnel ends", awsLinkLocal)
		return a, false
	case !(a.IsGlobalUnicast() || a.IsLinkLocalUnicast()) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		v.add(ak, s, "is not a unicast address (loopback, multicast, unspecified and broadcast addresses cannot be tunnel ends)")
		return a, false
	}
	return a, true
}

// linksSummary reports what concerns many links at once: default ports past
// 65535, default tunnel addresses inside a VPC, and links left without
// default tunnel addresses.
func (v *validator) linksSummary(st *linkState) {
	c := st.c
	if len(st.portsPastEnd) > 0 {
		v.addLiteral(key("tunnelPort"), fmt.Sprint(c.TunnelPort), "the default ports (tunnelPort and up) of %d link(s) run past 65535, first %s: lower tunnelPort or give those links a port", len(st.portsPastEnd), st.portsPastEnd[0])
	}
	for i := range c.Sites {
		if list := st.inVPC[i]; len(list) > 0 {
			v.add(key("sites[%d].vpcCidr", i), c.Sites[i].VpcCidr, "contains %d default tunnel address(es) (from %s), first %s: tunnel addresses must be outside every VPC; give the links tunnelAddresses or move this VPC", len(list), DefaultTunnelNetwork, list[0])
		}
	}
	if st.exhausted > 0 {
		if st.derivedKind == "mesh" {
			v.addLiteral(key("sites"), sitesCount(len(c.Sites)), "a full mesh of %d sites has %d links, but the default tunnel network %s holds %d (a mesh of %d sites): give vpclink:links with tunnelAddresses", len(c.Sites), len(c.Links), DefaultTunnelNetwork, MaxDefaultTunnels, maxMeshSites())
		} else {
			v.addLiteral(key("links"), fmt.Sprintf("[%d links]", len(c.Links)), "%d link(s) without tunnelAddresses find none left in the default tunnel network %s (%d links): give them tunnelAddresses", st.exhausted, DefaultTunnelNetwork, MaxDefaultTunnels)
		}
	}
}
