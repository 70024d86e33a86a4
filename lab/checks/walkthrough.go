package checks

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// Probe is one of the walk-through's checks between two terminals.
type Probe struct {
	From, To *world.Host
	// PingOK tells whether `ping` got replies; PingSummary is its result line.
	PingOK      bool
	PingSummary string
	// Hops are traceroute's hops; WantHops what the walk-through shows:
	// the local VPN instance, the tunnel's far end, the destination.
	Hops, WantHops []string
}

// OK reports whether the probe matches the walk-through.
func (p Probe) OK() bool {
	return p.PingOK && strings.Join(p.Hops, " ") == strings.Join(p.WantHops, " ")
}

// Ping pings dst from host h (3 packets) and returns whether any reply came
// and ping's summary line.
func Ping(h *world.Host, dst string) (bool, string) {
	out, err := h.Exec("ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", dst)
	summary := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "packets transmitted") {
			summary = strings.TrimSpace(l)
		}
	}
	return err == nil, summary
}

// Traceroute returns the hops from h to dst (numeric, one probe per hop,
// one at a time). traceroute's default of 16 probes in flight makes every
// probe past the destination's distance arrive at once, and Linux answers
// at most 6 port-unreachables per peer in a burst, then one a second: a
// second traceroute within seconds shows only stars for the last hop.
func Traceroute(h *world.Host, dst string) ([]string, error) {
	out, err := h.Exec("traceroute", "-n", "-N", "1", "-q", "1", "-w", "2", "-m", "8", dst)
	if err != nil {
		return nil, err
	}
	var hops []string
	for _, l := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(l)
		if len(f) >= 2 {
			hops = append(hops, f[1])
		}
	}
	return hops, nil
}

// Link is one link of the deployed stack, as the lab sees it.
type Link struct {
	Name string
	// Sites are the names of the two ends.
	Sites [2]string
	// VPN are the two ends' VPN instances; Terminals their sites' terminals
	// (nil for a site without one). TunnelIPs are the ends' tunnel addresses.
	VPN, Terminals [2]*world.Host
	TunnelIPs      [2]string
	Port           int
}

// Links reads the links from the stack outputs (`pulumi stack output
// --json`) and finds their hosts in the world by private address.
func Links(m *world.Model, outputs map[string]any) ([]Link, error) {
	sites, _ := outputs["sites"].(map[string]any)
	links, _ := outputs["links"].(map[string]any)
	if sites == nil || links == nil {
		return nil, fmt.Errorf("stack outputs have no sites or links (was `up` run?)")
	}
	host := func(ip any) *world.Host {
		s, _ := ip.(string)
		for _, inst := range m.Instances {
			if inst.IP == s && s != "" {
				h := inst.Host
				h.PublicIP = m.PublicIPOf(inst)
				return &h
			}
		}
		return nil
	}
	var out []Link
	for _, n := range slices.Sorted(maps.Keys(links)) {
		l, _ := links[n].(map[string]any)
		ends, _ := l["sites"].([]any)
		tun, _ := l["tunnelAddresses"].([]any)
		port, _ := l["port"].(float64)
		if len(ends) != 2 || len(tun) != 2 {
			return nil, fmt.Errorf("link %s: unexpected outputs %v", n, l)
		}
		link := Link{Name: n, Port: int(port)}
		for i := range ends {
			link.Sites[i] = fmt.Sprint(ends[i])
			site, _ := sites[fmt.Sprint(ends[i])].(map[string]any)
			if site == nil {
				return nil, fmt.Errorf("link %s: no site %v in the outputs", n, ends[i])
			}
			link.VPN[i], link.Terminals[i] = host(site["vpnPrivateIp"]), host(site["terminalPrivateIp"])
			link.TunnelIPs[i] = fmt.Sprint(tun[i])
			if link.VPN[i] == nil {
				return nil, fmt.Errorf("link %s: site %v has no VPN instance in the lab", n, ends[i])
			}
		}
		out = append(out, link)
	}
	return out, nil
}

// Check runs the walk-through's checks: for each link whose sites have
// terminals, ping and traceroute both ways.
func Check(links []Link) ([]Probe, error) {
	var probes []Probe
	for _, link := range links {
		for end := 0; end < 2; end++ {
			from, to := link.Terminals[end], link.Terminals[1-end]
			if from == nil || to == nil {
				continue
			}
			p := Probe{From: from, To: to, WantHops: []string{link.VPN[end].PrivateIP, link.TunnelIPs[1-end], to.PrivateIP}}
			p.PingOK, p.PingSummary = Ping(from, to.PrivateIP)
			hops, err := Traceroute(from, to.PrivateIP)
			if err != nil {
				return nil, err
			}
			p.Hops = hops
			probes = append(probes, p)
		}
	}
	return probes, nil
}

// CheckThroughHub runs the walk-through's checks between every two spokes
// of hub that have terminals and no link of their own, both ways: ping, and
// traceroute showing the spoke's VPN instance, the hub's end of the
// spoke's link, the far spoke's end of its link to the hub, and the
// destination.
func CheckThroughHub(links []Link, hub string) ([]Probe, error) {
	type spoke struct {
		vpn, terminal *world.Host
		hubTunnelIP   string // the hub's end of the spoke's link
		ownTunnelIP   string // the spoke's end
	}
	var spokes []spoke
	direct := map[[2]string]bool{}
	var names []string
	for _, l := range links {
		direct[l.Sites] = true
		direct[[2]string{l.Sites[1], l.Sites[0]}] = true
		for e := 0; e < 2; e++ {
			if l.Sites[1-e] == hub && l.Sites[e] != hub {
				spokes = append(spokes, spoke{l.VPN[e], l.Terminals[e], l.TunnelIPs[1-e], l.TunnelIPs[e]})
				names = append(names, l.Sites[e])
			}
		}
	}
	var probes []Probe
	for i, a := range spokes {
		for j, c := range spokes {
			if i == j || a.terminal == nil || c.terminal == nil || direct[[2]string{names[i], names[j]}] {
				continue
			}
			p := Probe{From: a.terminal, To: c.terminal, WantHops: []string{a.vpn.PrivateIP, a.hubTunnelIP, c.ownTunnelIP, c.terminal.PrivateIP}}
			p.PingOK, p.PingSummary = Ping(a.terminal, c.terminal.PrivateIP)
			hops, err := Traceroute(a.terminal, c.terminal.PrivateIP)
			if err != nil {
				return nil, err
			}
			p.Hops = hops
			probes = append(probes, p)
		}
	}
	return probes, nil
}

// Report prints probes as the walk-through would show them, and returns
// the number that failed.
func Report(w io.Writer, probes []Probe) int {
	failed := 0
	for _, p := range probes {
		verdict := "ok"
		if !p.OK() {
			verdict = "FAILED"
			failed++
		}
		fmt.Fprintf(w, "%s (%s) -> %s (%s): %s\n", p.From.Name, p.From.PrivateIP, p.To.Name, p.To.PrivateIP, verdict)
		fmt.Fprintf(w, "  ping:       %s\n", orNone(p.PingSummary))
		fmt.Fprintf(w, "  traceroute: %s\n", strings.Join(p.Hops, " -> "))
		what := "VPN instance, tunnel far end, destination"
		if len(p.WantHops) == 4 {
			what = "VPN instance, hub's tunnel end, far spoke's tunnel end, destination"
		}
		fmt.Fprintf(w, "  expected:   %s (%s)\n", strings.Join(p.WantHops, " -> "), what)
	}
	return failed
}

func orNone(s string) string {
	if s == "" {
		return "no reply"
	}
	return s
}

// TimeToFirstPing polls a one-packet ping from h to dst every 100 ms and
// returns how long until the first reply, measured from since.
func TimeToFirstPing(h *world.Host, dst string, since time.Time, limit time.Duration) (time.Duration, error) {
	for time.Since(since) < limit {
		if _, err := h.Exec("ping", "-n", "-c", "1", "-W", "1", dst); err == nil {
			return time.Since(since), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("no reply from %s within %s", dst, limit)
}
