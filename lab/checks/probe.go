package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// TCPProbe connects from one of the lab's internet hosts ("op" for the
// operator, "x" for the stranger) to ip:port; nil means it connected.
func TCPProbe(w *world.World, from, ip string, port int) error {
	conn, err := world.DialIn(w.NS(from), fmt.Sprintf("%s:%d", ip, port), 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

// probePayload gives probe datagrams a length nothing else has (UDP length
// 8+18 = 26), so counters see only them.
const probePayload = "vpclink-lab-probe1"

var packetsRe = regexp.MustCompile(`comment "([^"]+)".*|packets (\d+)`)

// Sender is where a probe comes from: a host of the lab, or one of the
// lab's internet hosts by name ("x" the stranger, "op" the operator).
type Sender struct {
	Host     *world.Host
	Internet string
}

// UDPProbe sends three datagrams to target's public IP and port from each
// sender (by label) and returns, per label, how many arrived at target's IP
// stack, counted by an nft rule inside target that sits behind the
// emulated security group.
func UDPProbe(w *world.World, target *world.Host, port int, senders map[string]Sender) (map[string]int, error) {
	var rules strings.Builder
	rules.WriteString("table inet vpclab_probe {\n  chain input {\n    type filter hook input priority -400; policy accept;\n")
	sourceOf := map[string]string{}
	for label, from := range senders {
		src := map[string]string{"x": world.StrangerIP, "op": world.OperatorIP}[from.Internet]
		if from.Host != nil {
			src = from.Host.PublicIP
		}
		if src == "" {
			return nil, fmt.Errorf("probe sender %q unknown", label)
		}
		sourceOf[label] = src
		fmt.Fprintf(&rules, "    ip saddr %s udp dport %d udp length 26 counter comment %q\n", src, port, label)
	}
	rules.WriteString("  }\n}\n")
	if _, err := world.RunIn([]byte(rules.String()), "ip", "netns", "exec", target.NetNS, "nft", "-f", "-"); err != nil {
		return nil, err
	}
	defer world.Run("ip", "netns", "exec", target.NetNS, "nft", "delete", "table", "inet", "vpclab_probe")
	send := fmt.Sprintf("for i in 1 2 3; do printf %s > /dev/udp/%s/%d; sleep 0.1; done", probePayload, target.PublicIP, port)
	for _, from := range senders {
		var err error
		if from.Host != nil {
			_, err = from.Host.Exec("bash", "-c", send)
		} else {
			_, err = world.Run("ip", "netns", "exec", w.NS(from.Internet), "bash", "-c", send)
		}
		if err != nil {
			return nil, err
		}
	}
	time.Sleep(500 * time.Millisecond)
	out, err := world.Run("ip", "netns", "exec", target.NetNS, "nft", "list", "table", "inet", "vpclab_probe")
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "packets "); i >= 0 {
			f := strings.Fields(line[i:])
			n, _ := strconv.Atoi(f[1])
			if c := regexp.MustCompile(`comment "([^"]+)"`).FindStringSubmatch(line); c != nil {
				counts[c[1]] = n
			}
		}
	}
	for label := range senders {
		if _, ok := counts[label]; !ok {
			return nil, fmt.Errorf("probe counter %q missing:\n%s", label, out)
		}
	}
	return counts, nil
}

// InternetLoss drops percent of the frames crossing the emulated internet
// (0 removes the loss). Delay cannot be emulated here: no netem.
func InternetLoss(w *world.World, percent int) error {
	rules := "table bridge vpclab_loss {}\ndelete table bridge vpclab_loss\n"
	if percent > 0 {
		rules += fmt.Sprintf("table bridge vpclab_loss {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    meta protocol ip numgen random mod 100 < %d counter drop\n  }\n}\n", percent)
	}
	_, err := world.RunIn([]byte(rules), "ip", "netns", "exec", w.NS("inet"), "nft", "-f", "-")
	return err
}
