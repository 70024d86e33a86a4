package topology

import (
	"fmt"
	"net/netip"
	"strings"
)

// hubLinks joins the hub to every other site, in site order, the hub first
// (so it is the TLS server and key direction 0 of each of its links).
func hubLinks(sites []Site, hub string) []Link {
	var links []Link
	for _, s := range sites {
		if s.Name != hub {
			links = append(links, Link{Sites: []string{hub, s.Name}})
		}
	}
	return links
}

// Route is one destination a site sends into one of its links.
type Route struct {
	// Site is the destination site; Cidr its VPC network.
	Site string
	Cidr string
	// Link is the index in Config.Links of the link the traffic takes from
	// the routing site; Direct says the link ends at the destination
	// (otherwise it ends at the hub, which forwards the traffic).
	Link   int
	Direct bool
}

// Routes returns what each site (by name) reaches and over which of its
// links: a site with a link to the destination uses it; otherwise, with a
// Hub, a site linked to the hub sends the destination to the hub when the
// hub has a link to it. Destinations reached neither way are left out (a
// partial mesh without a hub: only linked sites reach each other). The
// order is that of c.Sites. c must be normalized; links naming unknown
// sites are ignored.
func (c Config) Routes() map[string][]Route {
	index := map[string]int{}
	for i, s := range c.Sites {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	// direct[a][b] is the first link between a and b.
	direct := map[string]map[string]int{}
	for k, l := range c.Links {
		if len(l.Sites) != 2 || l.Sites[0] == l.Sites[1] {
			continue
		}
		for e := 0; e < 2; e++ {
			a, b := l.Sites[e], l.Sites[1-e]
			if direct[a] == nil {
				direct[a] = map[string]int{}
			}
			if _, seen := direct[a][b]; !seen {
				direct[a][b] = k
			}
		}
	}
	out := map[string][]Route{}
	for _, s := range c.Sites {
		if _, dup := out[s.Name]; dup || index[s.Name] != indexOf(c.Sites, s.Name) {
			continue
		}
		routes := []Route{}
		for _, d := range c.Sites {
			if d.Name == s.Name {
				continue
			}
			if k, ok := direct[s.Name][d.Name]; ok {
				routes = append(routes, Route{Site: d.Name, Cidr: d.VpcCidr, Link: k, Direct: true})
				continue
			}
			if c.Hub == "" || s.Name == c.Hub || d.Name == c.Hub {
				continue
			}
			up, toHub := direct[s.Name][c.Hub]
			_, onward := direct[c.Hub][d.Name]
			if toHub && onward {
				routes = append(routes, Route{Site: d.Name, Cidr: d.VpcCidr, Link: up})
			}
		}
		out[s.Name] = routes
	}
	return out
}

func indexOf(sites []Site, name string) int {
	for i, s := range sites {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// Networks returns the VPC networks site sends into link k (its peer's, and
// with a hub the VPCs it reaches through the peer), in site order.
func (c Config) Networks(site string, k int) []string {
	var out []string
	for _, r := range c.Routes()[site] {
		if r.Link == k {
			out = append(out, r.Cidr)
		}
	}
	return out
}

// hub checks vpclink:hub and vpclink:summaryCidr: the hub is a site, every
// site reaches every other (through the hub where it has no link of its
// own), and the summary covers every VPC and no tunnel address nor the
// default route.
func (v *validator) hub(c Config, parsed []parsedSite) {
	if c.Hub != "" || c.Given("hub") {
		v.hubSite(c)
	}
	if c.SummaryCidr != "" || c.Given("summaryCidr") {
		v.summary(c, parsed)
	}
}

func (v *validator) hubSite(c Config) {
	if _, ok := c.SiteByName(c.Hub); !ok {
		v.add(key("hub"), c.Hub, "is not the name of a site in vpclink:sites%s", suggest(c.Hub, siteNames(c), ""))
		return
	}
	if c.derived["links"] == "hub" {
		return
	}
	// Explicit links: every spoke must reach every site, over a link of
	// its own or through its link to the hub.
	routes := c.Routes()
	for i, s := range c.Sites {
		if s.Name == c.Hub || len(routes[s.Name]) == len(c.Sites)-1 {
			continue
		}
		reached := map[string]bool{}
		for _, r := range routes[s.Name] {
			reached[r.Site] = true
		}
		var missing []string
		for _, d := range c.Sites {
			if d.Name != s.Name && !reached[d.Name] {
				missing = append(missing, d.Name)
			}
		}
		if !reached[c.Hub] {
			v.add(key("hub"), c.Hub, "site %q (sites[%d]) has no link to the hub in vpclink:links, so it does not reach %s; add a link with sites [%q, %q], or leave vpclink:links out for the default hub links", s.Name, i, quoteList(missing), c.Hub, s.Name)
		}
		// A spoke linked to the hub misses only spokes without such a
		// link, which are reported themselves.
	}
}

// summary checks vpclink:summaryCidr.
func (v *validator) summary(c Config, parsed []parsedSite) {
	k := key("summaryCidr")
	p, ok := v.prefix(k, c.SummaryCidr)
	if !ok {
		return
	}
	if p.Bits() == 0 {
		v.add(k, c.SummaryCidr, "is the default route, which every route table already sends to its internet gateway; give a network that covers the VPCs only, such as 10.0.0.0/12 (not 10.0.0.0/8, which holds the default tunnel network %s)", DefaultTunnelNetwork)
		return
	}
	for i, ps := range parsed {
		if ps.vpcOK && !(p.Contains(ps.vpc.Addr()) && ps.vpc.Bits() >= p.Bits()) {
			v.add(k, c.SummaryCidr, "does not cover sites[%d].vpcCidr %s (site %q): the summary must cover every site's VPC", i, c.Sites[i].VpcCidr, c.Sites[i].Name)
		}
	}
	for j, l := range c.Links {
		for e, a := range l.TunnelAddresses {
			if ip, err := netip.ParseAddr(a); err == nil && p.Contains(ip) {
				field := fmt.Sprintf("links[%d].tunnelAddresses[%d]", j, e)
				if c.derived[fmt.Sprintf("links[%d].tunnelAddresses", j)] != "" {
					field = fmt.Sprintf("the default tunnel address of links[%d] %q (from %s)", j, strings.Join(l.Sites, "-"), DefaultTunnelNetwork)
				}
				v.add(k, c.SummaryCidr, "contains %s %s: the route tables would send tunnel addresses to the VPN instances; give a summary that covers the VPCs only, or tunnel addresses outside it", field, a)
				return
			}
		}
	}
}

// quoteList renders names as "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "(none)"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// SuggestSummary returns, for a configuration without SummaryCidr whose
// sites reach others through a hub or more than one link, the smallest
// network covering every VPC that contains no tunnel address and is not the
// default route, and how many routes and terminal rules there are without
// it (per reached VPC a route and, on a terminal, two rules) and with it
// (one route and, on a terminal, two rules per site). It returns "" when
// there is none or nothing to save. c must be normalized and valid.
func SuggestSummary(c Config) (cidr string, without, with int) {
	if c.SummaryCidr != "" || len(c.Sites) < 3 {
		return "", 0, 0
	}
	var cover netip.Prefix
	for i, s := range c.Sites {
		p, err := netip.ParsePrefix(s.VpcCidr)
		if err != nil {
			return "", 0, 0
		}
		if i == 0 {
			cover = p
			continue
		}
		for !(cover.Contains(p.Addr()) && cover.Bits() <= p.Bits()) {
			if cover.Bits() == 0 {
				return "", 0, 0
			}
			cover, _ = cover.Addr().Prefix(cover.Bits() - 1)
		}
	}
	if cover.Bits() == 0 {
		return "", 0, 0
	}
	for _, l := range c.Links {
		for _, a := range l.TunnelAddresses {
			if ip, err := netip.ParseAddr(a); err == nil && cover.Contains(ip) {
				return "", 0, 0
			}
		}
	}
	for name, routes := range c.Routes() {
		s, _ := c.SiteByName(name)
		per := 1
		if s.HasTerminal() {
			per = 3
		}
		without += per * len(routes)
		with += per
	}
	if without <= with {
		return "", 0, 0
	}
	return cover.String(), without, with
}
