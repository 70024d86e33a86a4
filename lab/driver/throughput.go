package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	// ends' configuration (bench only), Raw measures without a tunnel.
	Mode  string
	Extra []string
	Raw   bool
	// NoClamp removes the setup's TCP MSS clamp (its nft table) on both
	// VPN instances for the variant; the next restart of the unit
	// (ExecStartPre) brings it back.
	NoClamp bool
}

// Variants are the configurations the bench measures: the two modes as the
// program ships them, and the tuning worth trying.
var Variants = []Variant{
	{Name: "raw path, no tunnel (VPN instance to VPN instance)", Raw: true},
	{Name: "static, as shipped", Mode: "static"},
	{Name: "tls, as shipped", Mode: "tls"},
	{Name: "tls + sndbuf/rcvbuf 4 MiB", Mode: "tls", Extra: []string{"sndbuf 4194304", "rcvbuf 4194304"}},
	{Name: "tls + txqueuelen 1000", Mode: "tls", Extra: []string{"txqueuelen 1000"}},
	{Name: "tls + fast-io", Mode: "tls", Extra: []string{"fast-io"}},
	{Name: "tls + CHACHA20-POLY1305 first", Mode: "tls", Extra: []string{"data-ciphers CHACHA20-POLY1305:AES-256-GCM"}},
	{Name: "tls + tun-mtu 1500, no MSS clamp", Mode: "tls", Extra: []string{"tun-mtu 1500", "mssfix 0"}, NoClamp: true},
	{Name: "tls, no MSS clamp (path MTU discovery only)", Mode: "tls", NoClamp: true},
	{Name: "tls + tun-mtu 1300", Mode: "tls", Extra: []string{"tun-mtu 1300", "mssfix 1300"}},
}

// Throughput is one variant's result.
type Throughput struct {
	Variant Variant
	// Mbps are the medians of the runs, one stream and four; Spread the
	// min-max of the runs.
	Mbps1, Mbps4     float64
	Spread1, Spread4 [2]float64
	// CPUPerGB is OpenVPN's CPU seconds (both ends) per GB carried.
	CPUPerGB float64
	// Fragments counts fragmented outer packets on the emulated internet;
	// Oversize counts outer packets over 1500 bytes.
	Fragments, Oversize int
}

// BenchThroughput measures iperf3 throughput between the terminals of the
// lab's first link for each variant (runs runs of secs seconds each, one
// stream and four), switching the stack's tunnelMode with `pulumi up` and
// applying tuning lines by hand (restored by a setup re-run at the end).
func (l *Lab) BenchThroughput(ctx context.Context, variants []Variant, runs, secs int, log io.Writer) ([]Throughput, error) {
	var out []Throughput
	mode := ""
	for _, v := range variants {
		if !v.Raw && v.Mode != mode {
			fmt.Fprintf(log, "[bench] tunnelMode %s: pulumi up\n", v.Mode)
			if o, err := l.Pulumi(ctx, "up", "--yes", "--skip-preview", "--config", "vpclink:tunnelMode="+v.Mode); err != nil {
				return out, fmt.Errorf("%v: %s", err, lastLines(o, 5))
			}
			mode = v.Mode
		}
		_, links, err := l.Probes(ctx)
		if err != nil {
			return out, err
		}
		k := links[0]
		if k.Terminals[0] == nil || k.Terminals[1] == nil {
			return out, fmt.Errorf("the bench needs terminals at both ends of %s", k.Name)
		}
		switched := len(v.Extra) > 0 || v.NoClamp
		if switched {
			if err := switchTunnel(k, v.Extra, v.NoClamp); err != nil {
				return out, fmt.Errorf("%s: %w", v.Name, err)
			}
		}
		from, to, dst := k.Terminals[0], k.Terminals[1], k.Terminals[1].PrivateIP
		if v.Raw {
			from, to, dst = k.VPN[0], k.VPN[1], k.VPN[1].PublicIP
		}
		r, err := l.measure(ctx, v, from, to, dst, k, runs, secs)
		if switched {
			if rerr := switchTunnel(k, nil, false); rerr != nil && err == nil {
				err = fmt.Errorf("restoring the shipped configuration: %w", rerr)
			}
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", v.Name, err)
		}
		fmt.Fprintf(log, "[bench] %s: %.0f / %.0f Mbit/s, %.1f CPU s/GB, %d fragments\n", v.Name, r.Mbps1, r.Mbps4, r.CPUPerGB, r.Fragments)
		out = append(out, r)
	}
	return out, nil
}

// tunnelReady bounds the wait for a restarted tunnel to carry traffic both
// ways. A TLS client that restarted while its server did may wait out a
// handshake retry (hand-window 60 s) before it tries again.
const tunnelReady = 2 * time.Minute

// switchTunnel appends extra lines to both ends' configuration of link k
// (nil: back to the configuration the setup wrote, kept aside the first
// time), restarts both units, and returns only when the tunnel carries
// pings in both directions, so that what runs next measures the variant
// and not its start. Each end's unit must have restarted (a new main PID).
func switchTunnel(k checks.Link, extra []string, noClamp bool) error {
	conf := "/etc/openvpn/vpclink/" + k.Name + ".conf"
	unit := "vpclink-" + k.Name + ".service"
	orig := "/run/vpclab-bench." + k.Name + ".conf"
	for _, h := range k.VPN {
		script := fmt.Sprintf(`set -e
[ -e %[1]s ] || cp %[2]s %[1]s
cp %[1]s %[2]s
`, orig, conf)
		if len(extra) > 0 {
			script += fmt.Sprintf("printf '%%s\\n' %s >>%s\n", shellWords(extra), conf)
		} else {
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

func shellWords(words []string) string {
	var q []string
	for _, w := range words {
		q = append(q, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}

// measure runs iperf3 from one host to another, opening the port on the
// receiver for the run only (the program's security groups do not).
func (l *Lab) measure(ctx context.Context, v Variant, from, to *world.Host, dst string, k checks.Link, runs, secs int) (Throughput, error) {
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
	var m1, m4 []float64
	var bytes, cpuSec float64
	for i := 0; i < runs; i++ {
		for _, streams := range []int{1, 4} {
			if _, err := to.Exec("iperf3", "-s", "-1", "-D", "--pidfile", "/run/iperf3.pid"); err != nil {
				return r, err
			}
			if err := listening(to, 5201); err != nil {
				return r, err
			}
			c0 := cpu()
			o, err := from.Exec("iperf3", "-c", dst, "-t", strconv.Itoa(secs), "-P", strconv.Itoa(streams), "-J")
			cpuSec += cpu() - c0
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
			bytes += res.End.SumReceived.Bytes
			if streams == 1 {
				m1 = append(m1, mbps)
			} else {
				m4 = append(m4, mbps)
			}
		}
	}
	r.Mbps1, r.Spread1 = Median(m1), spread(m1)
	r.Mbps4, r.Spread4 = Median(m4), spread(m4)
	if bytes > 0 && !v.Raw {
		r.CPUPerGB = cpuSec / (bytes / 1e9)
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

func spread(v []float64) [2]float64 {
	if len(v) == 0 {
		return [2]float64{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return [2]float64{s[0], s[len(s)-1]}
}

// ThroughputTable prints the bench results.
func ThroughputTable(w io.Writer, rs []Throughput, runs, secs int) {
	fmt.Fprintf(w, "iperf3 terminal to terminal through the tunnel, %d runs of %d s each; median (min-max)\n", runs, secs)
	fmt.Fprintf(w, "%-52s %-22s %-22s %-12s %s\n", "variant", "1 stream Mbit/s", "4 streams Mbit/s", "CPU s/GB", "outer frags / >1500 B")
	var static, tls float64
	for _, r := range rs {
		cpu := "-"
		if !r.Variant.Raw {
			cpu = fmt.Sprintf("%.1f", r.CPUPerGB)
		}
		fmt.Fprintf(w, "%-52s %-22s %-22s %-12s %d / %d\n", r.Variant.Name,
			fmt.Sprintf("%.0f (%.0f-%.0f)", r.Mbps1, r.Spread1[0], r.Spread1[1]),
			fmt.Sprintf("%.0f (%.0f-%.0f)", r.Mbps4, r.Spread4[0], r.Spread4[1]), cpu, r.Fragments, r.Oversize)
		switch r.Variant.Name {
		case "static, as shipped":
			static = r.Mbps1
		case "tls, as shipped":
			tls = r.Mbps1
		}
	}
	if static > 0 && tls > 0 {
		fmt.Fprintf(w, "TLS / static (1 stream, same run): %.2f\n", tls/static)
	}
}
