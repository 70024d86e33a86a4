package lab

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Probe is one of the walk-through's checks between two terminals.
type Probe struct {
	From, To *Host
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
func Ping(h *Host, dst string) (bool, string) {
	out, err := hostExec(h, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", dst)
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
func Traceroute(h *Host, dst string) ([]string, error) {
	out, err := hostExec(h, "traceroute", "-n", "-N", "1", "-q", "1", "-w", "2", "-m", "8", dst)
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

// Check runs the walk-through's checks on a lab that is up: for each link
// whose sites have terminals, ping and traceroute both ways.
func Check(s *State) ([]Probe, error) {
	var probes []Probe
	for _, link := range s.Links {
		for end := 0; end < 2; end++ {
			vpn, peerVPN := s.Host(link.Ends[end]), s.Host(link.Ends[1-end])
			if vpn == nil || peerVPN == nil {
				return nil, fmt.Errorf("link %s: an end was never configured", link.Name)
			}
			from, to := s.Terminal(vpn), s.Terminal(peerVPN)
			if from == nil || to == nil {
				continue
			}
			p := Probe{From: from, To: to, WantHops: []string{vpn.PrivateIP, link.TunnelIPs[1-end], to.PrivateIP}}
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
		fmt.Fprintf(w, "  expected:   %s (VPN instance, tunnel far end, destination)\n", strings.Join(p.WantHops, " -> "))
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
func TimeToFirstPing(h *Host, dst string, since time.Time, limit time.Duration) (time.Duration, error) {
	for time.Since(since) < limit {
		if _, err := hostExec(h, "ping", "-n", "-c", "1", "-W", "1", dst); err == nil {
			return time.Since(since), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("no reply from %s within %s", dst, limit)
}
