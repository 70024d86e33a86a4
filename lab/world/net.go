package world

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
)

// Names of links inside lab namespaces.
const (
	bridgeName = "br0"
	extName    = "ext"
	// routerMAC is the VPC routers' (locally administered) address.
	routerMAC = "02:00:00:00:00:01"
)

// Base builds what exists before any AWS object: the state directory, the
// internet bridge and three hosts on
// the internet: the operator (runs `pulumi`), a stranger (must reach
// nothing) and the lab's package repository.
func (w *World) Base() error {
	if w.Exists() {
		return fmt.Errorf("lab %q is already up (%s): run `down` first", w.Prefix, w.Dir)
	}
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return err
	}
	var m must
	inet := w.NS("inet")
	m.run("ip", "netns", "add", inet)
	m.run("ip", "-n", inet, "link", "set", "lo", "up")
	m.run("ip", "-n", inet, "link", "add", bridgeName, "type", "bridge")
	m.run("ip", "-n", inet, "link", "set", bridgeName, "up")
	// api: the EC2 endpoint (StartEndpoints), with the lab's own CA.
	for _, h := range []struct{ name, ip string }{{"op", OperatorIP}, {"x", StrangerIP}, {"repo", RepoIP}, {"api", APIIP}} {
		ns := w.NS(h.name)
		m.run("ip", "netns", "add", ns)
		m.run("ip", "-n", ns, "link", "set", "lo", "up")
		m.run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", h.name, "netns", inet)
		m.run("ip", "-n", inet, "link", "set", h.name, "master", bridgeName, "up")
		m.run("ip", "-n", ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		m.run("ip", "-n", ns, "link", "set", "eth0", "up")
		m.run("ip", "-n", ns, "route", "add", "203.0.113.0/24", "dev", "eth0")
	}
	if m.err != nil {
		return m.err
	}
	if err := makeCA(w.endpointsDir()); err != nil {
		return fmt.Errorf("lab CA: %w", err)
	}
	return w.save(newModel(w.Prefix))
}

func (w *World) addVPCNetwork(v *VPC) error {
	var m must
	m.run("ip", "netns", "add", v.NS)
	m.run("ip", "-n", v.NS, "link", "set", "lo", "up")
	// A fixed address: a bridge otherwise takes over its ports' lowest MAC.
	m.run("ip", "-n", v.NS, "link", "add", bridgeName, "address", routerMAC, "type", "bridge")
	m.run("ip", "-n", v.NS, "link", "set", bridgeName, "up")
	m.run("ip", "netns", "exec", v.NS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	// The instance metadata service answers here (ServeEndpoints).
	m.run("ip", "-n", v.NS, "addr", "add", IMDSIP+"/32", "dev", "lo")
	return m.err
}

// linkIGW links a VPC router to the internet bridge: port is the link's
// name on the internet side.
func (w *World) linkIGW(v *VPC, port string) error {
	inet := w.NS("inet")
	var r must
	r.run("ip", "link", "add", extName, "netns", v.NS, "type", "veth", "peer", "name", port, "netns", inet)
	r.run("ip", "-n", inet, "link", "set", port, "master", bridgeName, "up")
	r.run("ip", "-n", v.NS, "link", "set", extName, "up")
	return r.err
}

// unlinkIGW cuts a VPC router's link to the internet.
func (w *World) unlinkIGW(v *VPC) error {
	// Deleting one end of a veth pair deletes both.
	_, err := run("ip", "-n", v.NS, "link", "del", extName)
	return err
}

// apply regenerates every VPC's layer-2 route table, NAT and internet
// routes, and every instance's security group, from the model. Everything
// is regenerated, so the rules are a pure function of the model.
func (w *World) apply(m *Model) error {
	for _, v := range m.VPCs {
		if err := w.applyVPC(m, v); err != nil {
			return err
		}
	}
	for _, inst := range m.Instances {
		if inst.State != "running" && inst.State != "stopped" {
			continue
		}
		if err := w.applyInstance(m, inst); err != nil {
			return err
		}
	}
	return w.applyCuts(m)
}

// applyVPC writes the VPC router's rules. Frames an instance sends to the
// gateway's MAC are redirected at layer 2 when the destination is another
// instance of the VPC (the local route) or matches a route to a network
// interface in the route table of the sender's subnet (longest prefix
// first); what is left reaches the router's IP stack, which only knows the
// way to the internet when the table routes 0.0.0.0/0 to an attached gateway.
func (w *World) applyVPC(m *Model, v *VPC) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table bridge vpclab\ndelete table bridge vpclab\ntable bridge vpclab {\n  chain route {\n    type filter hook prerouting priority -300; policy accept;\n")
	internet := false
	var dnat, snat, untracked, eips []string
	// The metadata service is link-local: no route ever takes it away.
	fmt.Fprintf(&b, "    ether daddr %s ip daddr %s accept\n", routerMAC, IMDSIP)
	inVPC := func(i *Instance) bool { s := m.Subnets[i.Subnet]; return s != nil && s.VPC == v.ID && i.MAC != "" }
	for _, inst := range m.SortedInstances() {
		if !inVPC(inst) {
			continue
		}
		if ip := m.PublicIPOf(inst); ip != "" {
			dnat = append(dnat, fmt.Sprintf("    iifname %q ip daddr %s notrack ip daddr set %s\n", extName, ip, inst.IP))
			untracked = append(untracked, fmt.Sprintf("    iifname %q ip saddr %s notrack\n", bridgeName, inst.IP))
			snat = append(snat, fmt.Sprintf("    oifname %q ip saddr %s ip saddr set %s\n", extName, inst.IP, ip))
			eips = append(eips, ip)
		}
		match := fmt.Sprintf("    iifname %q ether daddr %s ether type ip", inst.Port, routerMAC)
		for _, peer := range m.SortedInstances() {
			if peer != inst && inVPC(peer) {
				fmt.Fprintf(&b, "%s ip daddr %s ether daddr set %s accept\n", match, peer.IP, peer.MAC)
			}
		}
		table := ""
		for _, a := range m.Assocs {
			if a.Subnet == inst.Subnet {
				table = a.Table
			}
		}
		var routes []*Route
		for _, r := range m.Routes {
			if r.Table == table && table != "" {
				routes = append(routes, r)
			}
		}
		sort.SliceStable(routes, func(i, j int) bool {
			bi, bj := netip.MustParsePrefix(routes[i].Dest).Bits(), netip.MustParsePrefix(routes[j].Dest).Bits()
			if bi != bj {
				return bi > bj
			}
			return routes[i].Dest < routes[j].Dest
		})
		for _, rt := range routes {
			if rt.IGW != "" && rt.Dest == "0.0.0.0/0" && v.IGW == rt.IGW {
				internet = true
			}
			if rt.ENI == "" {
				continue
			}
			// A route to an interface that is gone, or whose instance is
			// stopped, is a blackhole.
			target := m.instanceByENI(rt.ENI)
			if target == nil || target.MAC == "" || target.State == "stopped" || target.State == "stopping" {
				fmt.Fprintf(&b, "%s ip daddr %s drop comment \"blackhole route\"\n", match, rt.Dest)
				continue
			}
			fmt.Fprintf(&b, "%s ip daddr %s ether daddr set %s accept\n", match, rt.Dest, target.MAC)
		}
	}
	b.WriteString("  }\n}\n")
	// Elastic IPs are a stateless 1:1 mapping, as on AWS: addresses are
	// rewritten, ports never, and no connection state can clash.
	b.WriteString("table ip vpclab\ndelete table ip vpclab\n")
	if v.IGW != "" {
		b.WriteString("table ip vpclab {\n  chain pre {\n    type filter hook prerouting priority raw; policy accept;\n")
		b.WriteString(strings.Join(dnat, ""))
		b.WriteString(strings.Join(untracked, ""))
		b.WriteString("  }\n  chain post {\n    type filter hook postrouting priority srcnat; policy accept;\n")
		b.WriteString(strings.Join(snat, ""))
		b.WriteString("  }\n}\n")
	}
	if _, err := runIn([]byte("table ip vpclab {}\n"+b.String()), "ip", "netns", "exec", v.NS, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("lab: VPC %s rules: %w", v.Name, err)
	}
	if v.IGW == "" {
		return nil
	}
	// Elastic IPs live on the router's internet side; the internet is
	// reachable only through a default route to the gateway.
	// Only the differences: flushing and adding them again would leave
	// every instance of the VPC without its public address for a moment
	// at each change anywhere in the lab (a route moved by the HA monitor
	// made the other site's API calls fail with "could not connect").
	var r must
	have := map[string]bool{}
	for _, f := range strings.Fields(r.run("ip", "-n", v.NS, "-4", "-o", "addr", "show", "dev", extName)) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Bits() == 32 {
			have[p.Addr().String()] = true
		}
	}
	want := map[string]bool{}
	for _, ip := range eips {
		want[ip] = true
		if !have[ip] {
			r.run("ip", "-n", v.NS, "addr", "replace", ip+"/32", "dev", extName)
		}
	}
	for ip := range have {
		if !want[ip] {
			r.run("ip", "-n", v.NS, "addr", "del", ip+"/32", "dev", extName)
		}
	}
	for _, p := range publicRanges {
		if internet {
			r.run("ip", "-n", v.NS, "route", "replace", p, "dev", extName)
		} else {
			run("ip", "-n", v.NS, "route", "del", p, "dev", extName)
		}
	}
	return r.err
}

// applyInstance writes the instance's security groups (stateful ingress)
// and source/destination check as nft rules on its interface.
func (w *World) applyInstance(m *Model, inst *Instance) error {
	var b strings.Builder
	b.WriteString("table inet vpclab_eni\ndelete table inet vpclab_eni\ntable inet vpclab_eni {\n")
	b.WriteString("  chain ingress {\n    type filter hook prerouting priority -150; policy accept;\n    iifname != \"eth0\" accept\n")
	check := inst.SrcDstCheck || m.Faults["srcdst:"+inst.Name]
	if check {
		fmt.Fprintf(&b, "    ip daddr != %s counter drop comment \"source/destination check\"\n", inst.IP)
	}
	b.WriteString("    ct state established,related accept\n")
	var rules []*Rule
	for _, r := range m.Rules {
		for _, g := range inst.Groups {
			if r.Group == g && !r.Egress {
				rules = append(rules, r)
			}
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	for _, r := range rules {
		b.WriteString("    " + r.nft() + " accept\n")
	}
	b.WriteString("    counter drop comment \"security group\"\n  }\n")
	b.WriteString("  chain egress {\n    type filter hook postrouting priority 100; policy accept;\n")
	if check {
		fmt.Fprintf(&b, "    oifname \"eth0\" ip saddr != %s counter drop comment \"source/destination check\"\n", inst.IP)
	}
	b.WriteString("  }\n}\n")
	if _, err := runIn([]byte("table inet vpclab_eni {}\n"+b.String()), "ip", "netns", "exec", inst.Host.NetNS, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("lab: %s security group: %w", inst.Name, err)
	}
	return nil
}

// nft renders the match of one ingress rule.
func (r *Rule) nft() string {
	src := "ip saddr " + r.CIDR
	switch r.Protocol {
	case "-1", "all":
		return src
	case "icmp":
		return src + " ip protocol icmp"
	case "tcp", "udp":
		if r.From < 0 {
			return src + " " + r.Protocol + " dport 0-65535"
		}
		if r.From == r.To {
			return fmt.Sprintf("%s %s dport %d", src, r.Protocol, r.From)
		}
		return fmt.Sprintf("%s %s dport %d-%d", src, r.Protocol, r.From, r.To)
	}
	return src + " ip protocol " + r.Protocol
}
