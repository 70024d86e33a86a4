package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// Variant is one tunnel configuration measured by the throughput bench.
type Variant struct {
	Name string
	// Mode is the program's tunnel mode; Extra lines are appended to both
	// ends' configuration and Drop lines removed from it (bench only), Raw
	// measures without a tunnel.
	Mode        string
	Extra, Drop []string
	Raw         bool
	// Control is 1 or 2 on the two variants that measure the shipped
	// configuration as it is: what separates them is the bench's noise.
	Control int
	// NoClamp removes the setup's TCP MSS clamp (its nft table) on both
	// VPN instances for the variant; the next restart of the unit
	// (ExecStartPre) brings it back.
	NoClamp bool
}

// tuned says whether the variant changes the configuration the setup wrote.
func (v Variant) tuned() bool { return len(v.Extra)+len(v.Drop) > 0 || v.NoClamp }

// Label is the variant's name in the table.
func (v Variant) Label() string {
	if v.Control > 0 {
		return fmt.Sprintf("%s (control %d)", v.Name, v.Control)
	}
	return v.Name
}

// Variants are the configurations the bench measures: the two modes as the
// program ships them, and the tuning worth trying. The shipped TLS
// configuration is measured twice, as controls at both ends of the TLS
// variants, so that every round measures them as far apart as it can.
var Variants = []Variant{
	{Name: "raw path, no tunnel (VPN instance to VPN instance)", Raw: true},
	{Name: "static, as shipped", Mode: "static"},
	{Name: "tls, as shipped", Mode: "tls", Control: 1},
	{Name: "tls + sndbuf/rcvbuf 4 MiB", Mode: "tls", Extra: []string{"sndbuf 4194304", "rcvbuf 4194304"}},
	{Name: "tls + txqueuelen 1000", Mode: "tls", Extra: []string{"txqueuelen 1000"}},
	// The shipped configuration has fast-io; the bench keeps checking it.
	{Name: "tls without fast-io", Mode: "tls", Drop: []string{"fast-io"}},
	{Name: "tls + CHACHA20-POLY1305 first", Mode: "tls", Extra: []string{"data-ciphers CHACHA20-POLY1305:AES-256-GCM"}},
	{Name: "tls + tun-mtu 1500, no MSS clamp", Mode: "tls", Extra: []string{"tun-mtu 1500", "mssfix 0"}, NoClamp: true},
	{Name: "tls, no MSS clamp (path MTU discovery only)", Mode: "tls", NoClamp: true},
	{Name: "tls + tun-mtu 1300", Mode: "tls", Extra: []string{"tun-mtu 1300", "mssfix 1300"}},
	{Name: "tls, as shipped", Mode: "tls", Control: 2},
}

// Throughput is one variant's result.
type Throughput struct {
	Variant Variant
	// One and Four are the Mbit/s of each run, one stream and four, in
	// the order measured; Mbps1 and Mbps4 are their medians.
	One, Four    []float64
	Mbps1, Mbps4 float64
	// CPUPerGB is OpenVPN's CPU seconds (both ends) per GB carried, over
	// all runs.
	CPUPerGB float64
	// Fragments counts fragmented outer packets on the emulated internet;
	// Oversize counts outer packets over 1500 bytes (all runs).
	Fragments, Oversize int

	cpuSeconds, bytes float64
}

// add counts one more run into t.
func (t *Throughput) add(run Throughput) {
	t.One, t.Four = append(t.One, run.One...), append(t.Four, run.Four...)
	t.cpuSeconds += run.cpuSeconds
	t.bytes += run.bytes
	t.Fragments += run.Fragments
	t.Oversize += run.Oversize
	t.Mbps1, t.Mbps4 = Median(t.One), Median(t.Four)
	if t.bytes > 0 && !t.Variant.Raw {
		t.CPUPerGB = t.cpuSeconds / (t.bytes / 1e9)
	}
}

// Slot is one run of one variant (an index into the bench's variants).
type Slot struct{ Run, Variant int }

// Schedule interleaves runs runs of n variants: each round measures every
// variant once, so that a slow change of the machine (another lab's load,
// a busy moment) falls on all variants alike instead of on the variant
// measured during it. Rounds alternate direction, the last one forward
// (A B C, C B A, A B C): an early position in one round is a late one in
// the next, and a change of tunnelMode costs one `pulumi up` per round
// instead of two.
func Schedule(n, runs int) []Slot {
	var s []Slot
	for r := 0; r < runs; r++ {
		forward := (runs-1-r)%2 == 0
		for i := 0; i < n; i++ {
			v := i
			if !forward {
				v = n - 1 - i
			}
			s = append(s, Slot{Run: r, Variant: v})
		}
	}
	return s
}

// SwitchCost counts what BenchThroughput spends on a schedule besides
// measuring: tunnel restarts (one before each run of a tunnel variant, and
// one to undo tuning before a change of mode) and `pulumi up`s (the first
// tunnel variant, then each change of tunnelMode).
func SwitchCost(variants []Variant, sched []Slot) (restarts, ups int) {
	mode, tuned := "", false
	for _, s := range sched {
		v := variants[s.Variant]
		if v.Raw {
			continue
		}
		if v.Mode != mode {
			if tuned {
				restarts++
			}
			ups++
			mode = v.Mode
		}
		restarts++
		tuned = v.tuned()
	}
	return restarts, ups
}

// BenchThroughput measures iperf3 throughput between the terminals of the
// lab's first link: runs runs of secs seconds (one stream, then four) of
// each variant, interleaved by Schedule. Before each run of a tunnel
// variant both ends restart into its configuration (switchTunnel; the
// shipped one too, so that every run starts alike); a change of
// tunnelMode is a `pulumi up`. The lab is left with the shipped
// configuration. Results are in the order of variants.
func (l *Lab) BenchThroughput(ctx context.Context, variants []Variant, runs, secs int, log io.Writer) (out []Throughput, err error) {
	out = make([]Throughput, len(variants))
	for i, v := range variants {
		out[i].Variant = v
	}
	sched := Schedule(len(variants), runs)
	restarts, ups := SwitchCost(variants, sched)
	fmt.Fprintf(log, "[bench] %d variants x %d runs, interleaved: %d tunnel restarts, %d pulumi ups\n", len(variants), runs, restarts, ups)
	var k checks.Link
	link := func() error {
		_, links, err := l.Probes(ctx)
		if err != nil {
			return err
		}
		k = links[0]
		if k.Terminals[0] == nil || k.Terminals[1] == nil {
			return fmt.Errorf("the bench needs terminals at both ends of %s", k.Name)
		}
		return nil
	}
	if err := link(); err != nil {
		return out, err
	}
	tuned := false
	defer func() {
		if tuned {
			if rerr := switchTunnel(k, nil, nil, false); rerr != nil && err == nil {
				err = fmt.Errorf("restoring the shipped configuration: %w", rerr)
			}
		}
	}()
	var switching, measuring time.Duration
	mode := ""
	for _, s := range sched {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		v := variants[s.Variant]
		start := time.Now()
		if !v.Raw && v.Mode != mode {
			// The setup rewrites the configuration on a change of mode, and
			// switchTunnel's copy of the shipped one would be stale.
			if tuned {
				if err := switchTunnel(k, nil, nil, false); err != nil {
					return out, fmt.Errorf("restoring the shipped configuration: %w", err)
				}
				tuned = false
			}
			fmt.Fprintf(log, "[bench] tunnelMode %s: pulumi up\n", v.Mode)
			if o, err := l.Pulumi(ctx, "up", "--yes", "--skip-preview", "--config", "vpclink:tunnelMode="+v.Mode); err != nil {
				return out, fmt.Errorf("%v: %s", err, lastLines(o, 5))
			}
			mode = v.Mode
			if err := link(); err != nil {
				return out, err
			}
		}
		if !v.Raw {
			tuned = true // until the switch is known to have finished
			if err := switchTunnel(k, v.Extra, v.Drop, v.NoClamp); err != nil {
				return out, fmt.Errorf("%s: %w", v.Label(), err)
			}
			tuned = v.tuned()
		}
		switching += time.Since(start)
		start = time.Now()
		from, to, dst := k.Terminals[0], k.Terminals[1], k.Terminals[1].PrivateIP
		if v.Raw {
			from, to, dst = k.VPN[0], k.VPN[1], k.VPN[1].PublicIP
		}
		r, err := l.measure(ctx, v, from, to, dst, k, secs)
		measuring += time.Since(start)
		if err != nil {
			return out, fmt.Errorf("%s: %w", v.Label(), err)
		}
		out[s.Variant].add(r)
		fmt.Fprintf(log, "[bench] round %d/%d, %s: %.0f / %.0f Mbit/s, %d fragments\n", s.Run+1, runs, v.Label(), r.Mbps1, r.Mbps4, r.Fragments)
	}
	fmt.Fprintf(log, "[bench] %.0f s switching variants, %.0f s measuring\n", switching.Seconds(), measuring.Seconds())
	return out, nil
}

// tunnelReady bounds the wait for a restarted tunnel to carry traffic both
// ways. A TLS client that restarted while its server did may wait out a
// handshake retry (hand-window 60 s) before it tries again.
const tunnelReady = 2 * time.Minute

// switchTunnel appends extra lines to both ends' configuration of link k
// and removes drop lines, which must be there (both nil: back to the
// configuration the setup wrote, kept aside the first time), removes the
// MSS clamp when noClamp (a restart brings it back), restarts both units, and returns only when the tunnel carries
// pings in both directions, so that what runs next measures the variant
// and not its start. Each end's unit must have restarted (a new main PID).
func switchTunnel(k checks.Link, extra, drop []string, noClamp bool) error {
	conf := "/etc/openvpn/vpclink/" + k.Name + ".conf"
	unit := "vpclink-" + k.Name + ".service"
	orig := "/run/vpclab-bench." + k.Name + ".conf"
	for _, h := range k.VPN {
		script := fmt.Sprintf(`set -e
[ -e %[1]s ] || cp %[2]s %[1]s
cp %[1]s %[2]s
`, orig, conf)
		for _, line := range drop {
			script += fmt.Sprintf("grep -qxF -e %[1]s %[2]s || { echo 'no line '%[1]s' to drop' >&2; exit 1; }\n", shellWords([]string{line}), conf)
		}
		if len(drop) > 0 {
			script += fmt.Sprintf("grep -vxF %s %s >%s\n", dropArgs(drop), orig, conf)
		}
		if len(extra) > 0 {
			script += fmt.Sprintf("printf '%%s\\n' %s >>%s\n", shellWords(extra), conf)
		}
		if len(extra)+len(drop) == 0 {
			script += "rm -f " + orig + "\n"
		}
		script += fmt.Sprintf(`before=$(systemctl show -p MainPID --value %[1]s)
systemctl restart %[1]s
for i in $(seq 100); do
  now=$(systemctl show -p MainPID --value %[1]s)
  [ "$now" != 0 ] && [ "$now" != "$before" ] && systemctl is-active -q %[1]s && break
  [ "$i" != 100 ] || { echo "%[1]s did not restart" >&2; exit 1; }
  sleep 0.1
done
`, unit)
		if noClamp {
			script += "nft delete table inet " + openvpn.NftTable(k.Name) + "\n"
		}
		if o, err := h.Exec("bash", "-c", script); err != nil {
			return fmt.Errorf("%s: %v %s", h.Name, err, o)
		}
	}
	start := time.Now()
	for i, dir := range [][2]*world.Host{{k.Terminals[0], k.Terminals[1]}, {k.Terminals[1], k.Terminals[0]}} {
		if _, err := checks.TimeToFirstPing(dir[0], dir[1].PrivateIP, start, tunnelReady); err != nil {
			return fmt.Errorf("after restarting %s, direction %d: %w", k.Name, i, err)
		}
	}
	return nil
}

// listening waits until something on h listens on TCP port (iperf3 -D
// returns before its server is bound).
func listening(h *world.Host, port int) error {
	script := fmt.Sprintf("for i in $(seq 100); do [ -n \"$(ss -Hltn 'sport = :%d')\" ] && exit 0; sleep 0.05; done; exit 1", port)
	if o, err := h.Exec("bash", "-c", script); err != nil {
		return fmt.Errorf("%s: nothing listens on TCP %d after 5 s: %v %s", h.Name, port, err, o)
	}
	return nil
}

// dropArgs are grep's -e arguments for each line.
func dropArgs(lines []string) string {
	var a []string
	for _, l := range lines {
		a = append(a, "-e "+shellWords([]string{l}))
	}
	return strings.Join(a, " ")
}

func shellWords(words []string) string {
	var q []string
	for _, w := range words {
		q = append(q, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}

// measure runs iperf3 once with one stream and once with four, from one
// host to another, opening the port on the receiver for the run only (the
// program's security groups do not), and returns it as a one-run result.
func (l *Lab) measure(ctx context.Context, v Variant, from, to *world.Host, dst string, k checks.Link, secs int) (Throughput, error) {
	r := Throughput{Variant: v}
	open := fmt.Sprintf("nft insert rule inet vpclab_eni ingress tcp dport 5201 accept comment bench")
	if _, err := world.Run("ip", "netns", "exec", to.NetNS, "bash", "-c", open); err != nil {
		return r, err
	}
	defer world.Run("ip", "netns", "exec", to.NetNS, "bash", "-c",
		"h=$(nft -a list chain inet vpclab_eni ingress | sed -n 's/.*comment \"bench\" # handle \\([0-9]*\\)/\\1/p'); for x in $h; do nft delete rule inet vpclab_eni ingress handle $x; done")
	counters := "table bridge vpclab_bench {}\ndelete table bridge vpclab_bench\ntable bridge vpclab_bench {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n" +
		"    ip frag-off & 0x3fff != 0 counter comment \"fragments\"\n    meta length > 1514 counter comment \"oversize\"\n  }\n}\n"
	if _, err := world.RunIn([]byte(counters), "ip", "netns", "exec", l.World.NS("inet"), "nft", "-f", "-"); err != nil {
		return r, err
	}
	defer world.Run("ip", "netns", "exec", l.World.NS("inet"), "nft", "delete", "table", "bridge", "vpclab_bench")
	cpu := func() float64 {
		var total float64
		if v.Raw {
			return 0
		}
		for _, h := range k.VPN {
			o, err := h.Exec("bash", "-c", "pid=$(systemctl show -p MainPID --value vpclink-"+k.Name+".service); cut -d' ' -f14,15 /proc/$pid/stat")
			if err != nil {
				continue
			}
			f := strings.Fields(o)
			if len(f) == 2 {
				u, _ := strconv.ParseFloat(f[0], 64)
				s, _ := strconv.ParseFloat(f[1], 64)
				total += (u + s) / 100 // clock ticks
			}
		}
		return total
	}
	for _, streams := range []int{1, 4} {
		if _, err := to.Exec("iperf3", "-s", "-1", "-D", "--pidfile", "/run/iperf3.pid"); err != nil {
			return r, err
		}
		if err := listening(to, 5201); err != nil {
			return r, err
		}
		c0 := cpu()
		o, err := from.Exec("iperf3", "-c", dst, "-t", strconv.Itoa(secs), "-P", strconv.Itoa(streams), "-J")
		r.cpuSeconds += cpu() - c0
		if err != nil {
			return r, fmt.Errorf("iperf3: %v %s", err, lastLines(o, 3))
		}
		var res struct {
			End struct {
				SumReceived struct {
					Bytes         float64 `json:"bytes"`
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal([]byte(o), &res); err != nil {
			return r, fmt.Errorf("iperf3 output: %v", err)
		}
		mbps := res.End.SumReceived.BitsPerSecond / 1e6
		r.bytes += res.End.SumReceived.Bytes
		if streams == 1 {
			r.One, r.Mbps1 = []float64{mbps}, mbps
		} else {
			r.Four, r.Mbps4 = []float64{mbps}, mbps
		}
	}
	o, _ := world.Run("ip", "netns", "exec", l.World.NS("inet"), "nft", "list", "table", "bridge", "vpclab_bench")
	for _, line := range strings.Split(o, "\n") {
		if i := strings.Index(line, "packets "); i >= 0 {
			n, _ := strconv.Atoi(strings.Fields(line[i:])[1])
			if strings.Contains(line, "fragments") {
				r.Fragments = n
			} else if strings.Contains(line, "oversize") {
				r.Oversize = n
			}
		}
	}
	return r, nil
}

// ThroughputTable prints the bench results: per variant the median and
// min-max of its runs, and its difference from the shipped configuration
// where that exceeds the controls' noise (ControlNoise), else the noise.
func ThroughputTable(w io.Writer, rs []Throughput, runs, secs int) {
	fmt.Fprintf(w, "iperf3 terminal to terminal through the tunnel, %d runs of %d s per variant, interleaved; Mbit/s median (min-max)\n", runs, secs)
	var c1, c2, static *Throughput
	for i := range rs {
		switch r := &rs[i]; {
		case r.Variant.Control == 1 && c1 == nil:
			c1 = r
		case r.Variant.Control == 2 && c2 == nil:
			c2 = r
		case r.Variant.Name == "static, as shipped" && static == nil:
			static = r
		}
	}
	var n1, n4 Noise
	if c1 != nil && c2 != nil {
		n1, n4 = ControlNoise(c1.One, c2.One), ControlNoise(c1.Four, c2.Four)
	}
	row := "%-52s %-20s %-24s %-20s %-24s %-9s %s\n"
	fmt.Fprintf(w, row, "variant", "1 stream", "vs shipped", "4 streams", "vs shipped", "CPU s/GB", "outer frags / >1500 B")
	for _, r := range rs {
		a, b := Summarize(r.One), Summarize(r.Four)
		v1, v4 := n1.Versus(a.Median), n4.Versus(b.Median)
		if r.Variant.Control > 0 && n1.Ref > 0 {
			v1, v4 = "control", "control"
		}
		cpu := "-"
		if !r.Variant.Raw {
			cpu = fmt.Sprintf("%.1f", r.CPUPerGB)
		}
		fmt.Fprintf(w, row, r.Variant.Label(),
			fmt.Sprintf("%.0f (%.0f-%.0f)", a.Median, a.Min, a.Max), v1,
			fmt.Sprintf("%.0f (%.0f-%.0f)", b.Median, b.Min, b.Max), v4,
			cpu, fmt.Sprintf("%d / %d", r.Fragments, r.Oversize))
	}
	if n1.Ref <= 0 {
		fmt.Fprintln(w, "no pair of controls (control 1 and 2): differences are not judged")
		return
	}
	fmt.Fprintln(w, "vs shipped: the median's difference from the controls' mean median, shown only beyond the noise;")
	fmt.Fprintln(w, "noise: the gap between the two controls' medians plus the larger of their interquartile ranges")
	for _, n := range []struct {
		what string
		n    Noise
		a, b []float64
	}{{"1 stream", n1, c1.One, c2.One}, {"4 streams", n4, c1.Four, c2.Four}} {
		fmt.Fprintf(w, "noise, %s: controls %.0f and %.0f (gap %.0f) + IQR %.0f = ±%.0f Mbit/s, ±%.1f %% of %.0f\n",
			n.what, Median(n.a), Median(n.b), n.n.Gap, n.n.IQR, n.n.Abs, n.n.Pct, n.n.Ref)
	}
	if static != nil && static.Mbps1 > 0 {
		fmt.Fprintf(w, "TLS (controls' mean) / static, 1 stream, same run: %.2f\n", n1.Ref/static.Mbps1)
	}
}

// Spread summarises one variant's runs: their median, extremes and
// interquartile range. Quartiles interpolate linearly between the sorted
// runs (numpy's default, R's type 7), so with 3 runs the IQR is half the
// min-max range, and unlike min-max it does not grow with more runs.
type Spread struct {
	N                     int
	Median, Min, Max, IQR float64
}

// Summarize returns the spread of runs (zero when empty).
func Summarize(runs []float64) Spread {
	if len(runs) == 0 {
		return Spread{}
	}
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		x := p * float64(len(s)-1)
		i := int(x)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (x-float64(i))*(s[i+1]-s[i])
	}
	return Spread{N: len(s), Median: q(0.5), Min: s[0], Max: s[len(s)-1], IQR: q(0.75) - q(0.25)}
}

// Noise is how far apart two measurements of one configuration fall in a
// run: the bench measures the shipped configuration twice, as two variants
// (control 1 and control 2), and differences smaller than what separates
// identical configurations are not differences.
type Noise struct {
	// Ref is the shipped figure differences are taken against: the mean
	// of the two controls' medians.
	Ref float64
	// Gap is |median(control 1) - median(control 2)|, IQR the larger of
	// the two controls' interquartile ranges.
	Gap, IQR float64
	// Abs = Gap + IQR (Mbit/s); Pct is Abs in % of Ref. A variant differs
	// from the shipped configuration only when |median - Ref| > Abs.
	Abs, Pct float64
}

// ControlNoise is the noise the two controls' runs show.
func ControlNoise(control1, control2 []float64) Noise {
	a, b := Summarize(control1), Summarize(control2)
	n := Noise{Ref: (a.Median + b.Median) / 2, Gap: math.Abs(a.Median - b.Median), IQR: math.Max(a.IQR, b.IQR)}
	n.Abs = n.Gap + n.IQR
	if n.Ref > 0 {
		n.Pct = 100 * n.Abs / n.Ref
	}
	return n
}

// Versus says how a variant's median compares with the shipped
// configuration: its difference in % of Ref when that exceeds the noise,
// else "within noise (±Pct %)".
func (n Noise) Versus(median float64) string {
	if n.Ref <= 0 {
		return "-"
	}
	d := median - n.Ref
	if math.Abs(d) > n.Abs {
		return fmt.Sprintf("%+.1f %%", 100*d/n.Ref)
	}
	return fmt.Sprintf("within noise (±%.1f %%)", n.Pct)
}
