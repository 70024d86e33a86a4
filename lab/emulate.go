package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// Names of links inside lab namespaces.
const (
	bridgeName = "br0"
	extName    = "ext"
	// routerMAC is the VPC router's (locally administered) address.
	routerMAC = "02:00:00:00:00:01"
)

// base builds what exists before any registration: the state directory, a
// private mount point for the hosts' mount namespaces, the internet bridge,
// and two hosts on the internet: the operator (runs `pulumi up`) and a
// stranger (must reach nothing).
func (l *lab) base() error {
	o := l.opts
	var m must
	if err := os.MkdirAll(filepath.Join(o.StateDir, "mnt"), 0o700); err != nil {
		return err
	}
	mnt := filepath.Join(o.StateDir, "mnt")
	m.run("mount", "--bind", mnt, mnt)
	m.run("mount", "--make-private", mnt)
	inet := o.ns("inet")
	m.run("ip", "netns", "add", inet)
	m.run("ip", "-n", inet, "link", "set", "lo", "up")
	m.run("ip", "-n", inet, "link", "add", bridgeName, "type", "bridge")
	m.run("ip", "-n", inet, "link", "set", bridgeName, "up")
	for _, h := range []struct{ name, ip string }{{"op", OperatorIP}, {"x", StrangerIP}} {
		ns := o.ns(h.name)
		m.run("ip", "netns", "add", ns)
		m.run("ip", "-n", ns, "link", "set", "lo", "up")
		m.run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", h.name, "netns", inet)
		m.run("ip", "-n", inet, "link", "set", h.name, "master", bridgeName, "up")
		m.run("ip", "-n", ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		m.run("ip", "-n", ns, "link", "set", "eth0", "up")
		m.run("ip", "-n", ns, "route", "add", "203.0.113.0/24", "dev", "eth0")
	}
	return m.err
}

// hook builds the emulation of each registration before its outputs go
// back to the program, so dependents see a world that exists.
func (l *lab) hook(r *mockaws.Registration) error {
	switch r.Type {
	case "aws:ec2/vpc:Vpc":
		return l.addVPC(r)
	case "aws:ec2/internetGateway:InternetGateway":
		return l.addIGW(r)
	case "aws:ec2/subnet:Subnet":
		return l.addSubnet(r)
	case "aws:ec2/routeTable:RouteTable":
		l.mu.Lock()
		l.tables[r.ID] = &routeTable{}
		l.mu.Unlock()
	case "aws:ec2/route:Route":
		return l.addRoute(r)
	case "aws:ec2/routeTableAssociation:RouteTableAssociation":
		l.mu.Lock()
		l.assoc[r.Input("subnetId")] = r.Input("routeTableId")
		l.mu.Unlock()
		return l.apply()
	case "aws:ec2/securityGroup:SecurityGroup":
		l.mu.Lock()
		l.groups[r.ID] = &securityGroup{}
		l.mu.Unlock()
	case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
		return l.addIngress(r)
	case "aws:ec2/keyPair:KeyPair":
		l.mu.Lock()
		// Instances name the key pair by its (provider-assigned) keyName.
		l.keys[mockaws.Text(r.Outputs["keyName"])] = r.Input("publicKey")
		l.mu.Unlock()
	case "aws:ec2/instance:Instance":
		return l.addInstance(r)
	case "aws:ec2/eip:Eip":
		return l.addEIP(r)
	case "command:remote:Command":
		return l.runCommand(r)
	}
	return nil
}

func (l *lab) addVPC(r *mockaws.Registration) error {
	v := &vpc{id: r.ID, name: r.Name, cidr: r.Input("cidrBlock"), ns: l.opts.ns(r.Name)}
	var m must
	m.run("ip", "netns", "add", v.ns)
	m.run("ip", "-n", v.ns, "link", "set", "lo", "up")
	// A fixed address: a bridge otherwise takes over its ports' lowest MAC.
	m.run("ip", "-n", v.ns, "link", "add", bridgeName, "address", routerMAC, "type", "bridge")
	m.run("ip", "-n", v.ns, "link", "set", bridgeName, "up")
	m.run("ip", "netns", "exec", v.ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	v.routerMAC = strings.TrimSpace(m.run("ip", "netns", "exec", v.ns, "cat", "/sys/class/net/"+bridgeName+"/address"))
	if m.err != nil {
		return m.err
	}
	l.mu.Lock()
	l.vpcs[v.id] = v
	l.mu.Unlock()
	l.logf("VPC %s %s: router namespace %s", v.name, v.cidr, v.ns)
	return nil
}

func (l *lab) addIGW(r *mockaws.Registration) error {
	l.mu.Lock()
	v := l.vpcs[r.Input("vpcId")]
	l.ports++
	port := fmt.Sprintf("r%d", l.ports)
	l.mu.Unlock()
	if v == nil {
		return fmt.Errorf("lab: internet gateway %s: unknown VPC", r.Name)
	}
	inet := l.opts.ns("inet")
	var m must
	m.run("ip", "link", "add", extName, "netns", v.ns, "type", "veth", "peer", "name", port, "netns", inet)
	m.run("ip", "-n", inet, "link", "set", port, "master", bridgeName, "up")
	m.run("ip", "-n", v.ns, "link", "set", extName, "up")
	if m.err != nil {
		return m.err
	}
	l.mu.Lock()
	v.igw = true
	l.mu.Unlock()
	return l.apply()
}

func (l *lab) addSubnet(r *mockaws.Registration) error {
	p, err := netip.ParsePrefix(r.Input("cidrBlock"))
	if err != nil {
		return fmt.Errorf("lab: subnet %s: %w", r.Name, err)
	}
	s := &subnet{id: r.ID, vpcID: r.Input("vpcId"), cidr: p.String(), gateway: p.Addr().Next().String(), bits: p.Bits()}
	l.mu.Lock()
	v := l.vpcs[s.vpcID]
	l.subnets[s.id] = s
	l.mu.Unlock()
	if v == nil {
		return fmt.Errorf("lab: subnet %s: unknown VPC", r.Name)
	}
	// The VPC router answers on the first host address, as AWS's does.
	_, err = run("ip", "-n", v.ns, "addr", "add", fmt.Sprintf("%s/%d", s.gateway, s.bits), "dev", bridgeName)
	return err
}

func (l *lab) addRoute(r *mockaws.Registration) error {
	l.mu.Lock()
	t := l.tables[r.Input("routeTableId")]
	if t == nil {
		l.mu.Unlock()
		return fmt.Errorf("lab: route %s: unknown route table", r.Name)
	}
	t.routes = append(t.routes, route{dest: r.Input("destinationCidrBlock"), igw: r.Input("gatewayId"), eni: r.Input("networkInterfaceId")})
	l.mu.Unlock()
	return l.apply()
}

func (l *lab) addIngress(r *mockaws.Registration) error {
	l.mu.Lock()
	g := l.groups[r.Input("securityGroupId")]
	if g != nil {
		ru := rule{protocol: r.Input("ipProtocol"), cidr: r.Input("cidrIpv4"), from: -1, to: -1}
		if f := r.Inputs["fromPort"]; f.IsNumber() {
			ru.from, ru.to = int(f.NumberValue()), int(r.Inputs["toPort"].NumberValue())
		}
		g.ingress = append(g.ingress, ru)
	}
	l.mu.Unlock()
	if g == nil {
		return fmt.Errorf("lab: rule %s: unknown security group", r.Name)
	}
	return l.apply()
}

func (l *lab) addEIP(r *mockaws.Registration) error {
	ip := r.Outputs["publicIp"].StringValue()
	l.mu.Lock()
	inst := l.instances[r.Input("instance")]
	if inst != nil {
		inst.eip = ip
		inst.host.PublicIP = ip
		l.eips[ip] = inst.id
	}
	l.mu.Unlock()
	if inst == nil {
		return fmt.Errorf("lab: EIP %s: unknown instance", r.Name)
	}
	l.logf("Elastic IP %s -> %s (%s)", ip, inst.ip, inst.name)
	return l.apply()
}

// apply regenerates every VPC's layer-2 route table, NAT and internet
// routes, and every instance's security group, from the current model.
// Regenerating everything keeps the rules a pure function of the model.
func (l *lab) apply() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.vpcs {
		if err := l.applyVPC(v); err != nil {
			return err
		}
	}
	for _, inst := range l.instances {
		if err := l.applyInstance(inst); err != nil {
			return err
		}
	}
	return nil
}

// applyVPC writes the VPC router's rules. Frames an instance sends to the
// gateway's MAC are redirected at layer 2 when the destination is another
// instance of the VPC (the local route) or matches a route to a network
// interface in the route table of the sender's subnet (longest prefix
// first); what is left reaches the router's IP stack, which only knows the
// way to the internet when the table routes 0.0.0.0/0 to the gateway.
func (l *lab) applyVPC(v *vpc) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table bridge vpclab\ndelete table bridge vpclab\ntable bridge vpclab {\n  chain route {\n    type filter hook prerouting priority -300; policy accept;\n")
	internet := false
	var dnat, snat []string
	for _, inst := range l.sortedInstances() {
		if l.subnets[inst.subnetID].vpcID != v.id {
			continue
		}
		if inst.eip != "" {
			dnat = append(dnat, fmt.Sprintf("    ip daddr %s dnat to %s\n", inst.eip, inst.ip))
			snat = append(snat, fmt.Sprintf("    oifname %q ip saddr %s snat to %s\n", extName, inst.ip, inst.eip))
		}
		match := fmt.Sprintf("    iifname %q ether daddr %s ether type ip", inst.port, v.routerMAC)
		for _, peer := range l.sortedInstances() {
			if peer != inst && l.subnets[peer.subnetID].vpcID == v.id {
				fmt.Fprintf(&b, "%s ip daddr %s ether daddr set %s accept\n", match, peer.ip, peer.mac)
			}
		}
		t := l.tables[l.assoc[inst.subnetID]]
		if t == nil {
			continue
		}
		routes := append([]route(nil), t.routes...)
		sort.SliceStable(routes, func(i, j int) bool {
			return netip.MustParsePrefix(routes[i].dest).Bits() > netip.MustParsePrefix(routes[j].dest).Bits()
		})
		for _, rt := range routes {
			if rt.igw != "" && rt.dest == "0.0.0.0/0" {
				internet = true
			}
			if rt.eni == "" {
				continue
			}
			target := l.byENI(rt.eni)
			if target == nil {
				return fmt.Errorf("lab: route %s -> %s: no such network interface", rt.dest, rt.eni)
			}
			fmt.Fprintf(&b, "%s ip daddr %s ether daddr set %s accept\n", match, rt.dest, target.mac)
		}
	}
	b.WriteString("  }\n}\n")
	if v.igw {
		fmt.Fprintf(&b, "table ip vpclab\ndelete table ip vpclab\ntable ip vpclab {\n  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n")
		b.WriteString(strings.Join(dnat, ""))
		b.WriteString("  }\n  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n")
		b.WriteString(strings.Join(snat, ""))
		b.WriteString("  }\n}\n")
	}
	if _, err := runIn([]byte(b.String()), "ip", "netns", "exec", v.ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("lab: VPC %s rules: %w", v.name, err)
	}
	// Elastic IPs live on the router's internet side; the internet is
	// reachable only through a default route to the gateway.
	if v.igw {
		var m must
		for _, inst := range l.instances {
			if inst.eip != "" && l.subnets[inst.subnetID].vpcID == v.id {
				m.run("ip", "-n", v.ns, "addr", "replace", inst.eip+"/32", "dev", extName)
			}
		}
		for _, p := range publicRanges {
			if internet {
				m.run("ip", "-n", v.ns, "route", "replace", p, "dev", extName)
			}
		}
		return m.err
	}
	return nil
}

func (l *lab) sortedInstances() []*instance {
	var out []*instance
	for _, i := range l.instances {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].name < out[b].name })
	return out
}

func (l *lab) byENI(eni string) *instance {
	for _, i := range l.instances {
		if i.eni == eni {
			return i
		}
	}
	return nil
}

// applyInstance writes the instance's security group (stateful ingress)
// and source/destination check as nft rules on its interface.
func (l *lab) applyInstance(inst *instance) error {
	var b strings.Builder
	b.WriteString("table inet vpclab_eni\ndelete table inet vpclab_eni\ntable inet vpclab_eni {\n")
	b.WriteString("  chain ingress {\n    type filter hook prerouting priority -150; policy accept;\n    iifname != \"eth0\" accept\n")
	if inst.srcDstCheck {
		fmt.Fprintf(&b, "    ip daddr != %s counter drop comment \"source/destination check\"\n", inst.ip)
	}
	b.WriteString("    ct state established,related accept\n")
	for _, gid := range inst.groups {
		g := l.groups[gid]
		if g == nil {
			continue
		}
		for _, r := range g.ingress {
			b.WriteString("    " + r.nft() + " accept\n")
		}
	}
	b.WriteString("    counter drop comment \"security group\"\n  }\n")
	b.WriteString("  chain egress {\n    type filter hook postrouting priority 100; policy accept;\n")
	if inst.srcDstCheck {
		fmt.Fprintf(&b, "    oifname \"eth0\" ip saddr != %s counter drop comment \"source/destination check\"\n", inst.ip)
	}
	b.WriteString("  }\n}\n")
	if _, err := runIn([]byte(b.String()), "ip", "netns", "exec", inst.ns, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("lab: %s security group: %w", inst.name, err)
	}
	return nil
}

// nft renders the match of one ingress rule.
func (r rule) nft() string {
	src := "ip saddr " + r.cidr
	switch r.protocol {
	case "-1", "all":
		return src
	case "icmp":
		return src + " ip protocol icmp"
	case "tcp", "udp":
		if r.from < 0 {
			return src + " " + r.protocol + " dport 0-65535"
		}
		if r.from == r.to {
			return fmt.Sprintf("%s %s dport %d", src, r.protocol, r.from)
		}
		return fmt.Sprintf("%s %s dport %d-%d", src, r.protocol, r.from, r.to)
	}
	return src + " ip protocol " + r.protocol
}
