package checks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// Pinger pings from a host in the background, one packet every interval,
// and records when each reply came.
type Pinger struct {
	done    chan struct{}
	out     string
	err     error
	started time.Time
}

// StartPinger pings dst from h every interval for d.
func StartPinger(h *world.Host, dst string, interval, d time.Duration) *Pinger {
	p := &Pinger{done: make(chan struct{}), started: time.Now()}
	go func() {
		defer close(p.done)
		p.out, p.err = h.Exec("ping", "-n", "-D", "-W", "1", "-i", fmt.Sprintf("%.2f", interval.Seconds()),
			"-w", strconv.Itoa(int(d.Seconds())), dst)
	}()
	return p
}

// PingResult is what a Pinger saw.
type PingResult struct {
	Sent, Received int
	// Replies are the times replies arrived.
	Replies []time.Time
}

// Lost is the number of probes without a reply.
func (r PingResult) Lost() int { return r.Sent - r.Received }

// FirstReplyAfter is the time from t to the first reply after t (false when
// none came).
func (r PingResult) FirstReplyAfter(t time.Time) (time.Duration, bool) {
	for _, at := range r.Replies {
		if !at.Before(t) {
			return at.Sub(t), true
		}
	}
	return 0, false
}

// OutageEnd is, for an outage that starts after t, the time from t to the
// first reply that ends it: the first gap of more than a second between
// replies. It is false when replies never resumed; with no gap at all it
// returns the first reply after t.
func (r PingResult) OutageEnd(t time.Time) (time.Duration, bool) {
	prev := t
	for _, at := range r.Replies {
		if at.Before(t) {
			continue
		}
		if at.Sub(prev) > time.Second {
			return at.Sub(t), true
		}
		prev = at
	}
	if prev == t {
		return 0, false // no reply after t at all
	}
	return r.FirstReplyAfter(t) // no outage long enough to see

}

// Wait waits for the pinger to end and parses its output.
func (p *Pinger) Wait(ctx context.Context) (PingResult, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return PingResult{}, ctx.Err()
	}
	var r PingResult
	for _, line := range strings.Split(p.out, "\n") {
		if strings.HasPrefix(line, "[") && strings.Contains(line, "bytes from") {
			ts, err := strconv.ParseFloat(strings.Trim(strings.Fields(line)[0], "[]"), 64)
			if err == nil {
				r.Replies = append(r.Replies, time.Unix(0, int64(ts*1e9)))
			}
		}
		if strings.Contains(line, "packets transmitted") {
			f := strings.Fields(line)
			r.Sent, _ = strconv.Atoi(f[0])
			r.Received, _ = strconv.Atoi(f[3])
		}
	}
	if r.Sent == 0 {
		return r, fmt.Errorf("ping printed no summary: %v\n%s", p.err, p.out)
	}
	return r, nil
}

// CutInternet drops every packet between two public addresses on the
// emulated internet (cut false restores the path).
func CutInternet(w *world.World, a, b string, cut bool) error {
	rules := "table bridge vpclab_cut\ndelete table bridge vpclab_cut\n"
	if cut {
		rules += fmt.Sprintf("table bridge vpclab_cut {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n"+
			"    ip saddr %s ip daddr %s counter drop\n    ip saddr %s ip daddr %s counter drop\n  }\n}\n", a, b, b, a)
	}
	_, err := world.RunIn([]byte("table bridge vpclab_cut {}\n"+rules), "ip", "netns", "exec", w.NS("inet"), "nft", "-f", "-")
	return err
}
