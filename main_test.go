package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// site is what a test expects of one configured site.
type site struct {
	name, region, vpc, vpnIP, termIP string
	terminal                         bool
}

func sitesOf(t *testing.T, cfg map[string]string) []site {
	t.Helper()
	var sites []topology.Site
	if err := json.Unmarshal([]byte(cfg["vpclink:sites"]), &sites); err != nil {
		t.Fatal(err)
	}
	var out []site
	for _, s := range sites {
		out = append(out, site{s.Name, s.Region, s.VpcCidr, s.VpnPrivateIP, s.TerminalPrivateIP, s.HasTerminal()})
	}
	return out
}

// secondTopology is a different layout: other regions and CIDRs, an arm64
// instance type, a third site without terminal, default (mesh) links.
func secondTopology() map[string]string {
	return map[string]string{
		"vpclink:sites": `[
		 {"name":"tokyo","region":"ap-northeast-1","vpcCidr":"172.20.0.0/16","vpnSubnetCidr":"172.20.8.0/22","terminalSubnetCidr":"172.20.16.0/24","vpnPrivateIp":"172.20.8.5","terminalPrivateIp":"172.20.16.99","instanceType":"t4g.small"},
		 {"name":"virginia","region":"us-east-1","vpcCidr":"192.168.0.0/20","vpnSubnetCidr":"192.168.0.0/24","terminalSubnetCidr":"192.168.4.0/24","vpnPrivateIp":"192.168.0.200","terminalPrivateIp":"192.168.4.4"},
		 {"name":"sydney","region":"ap-southeast-2","vpcCidr":"10.50.0.0/16","vpnSubnetCidr":"10.50.1.0/24","terminalSubnetCidr":"10.50.2.0/24","vpnPrivateIp":"10.50.1.7","terminal":false,"ami":"ami-0123456789abcdef0"}]`,
		"vpclink:tunnelPort":      "4000",
		"vpclink:sshAllowedCidrs": `["198.51.100.7/32","192.0.2.0/28"]`,
	}
}

func TestReferenceTopology(t *testing.T) {
	cfg := loadStack(t, "Pulumi.dev.yaml")
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), []string{"0.0.0.0/0"})

	// The walk-through's exact addresses end up in the two configurations;
	// by default a serves TLS, b connects, the static key is tls-crypt's.
	confs := setupConfigs(t, res.mon)
	for _, want := range []string{"ifconfig 10.254.0.1 10.254.0.2", "route 10.1.0.0 255.255.0.0", "tls-server", "tls-crypt /etc/openvpn/vpclink/a-b.key", "port 1194"} {
		if !strings.Contains(confs["a"], want+"\n") {
			t.Errorf("site a config lacks %q:\n%s", want, confs["a"])
		}
	}
	for _, want := range []string{"ifconfig 10.254.0.2 10.254.0.1", "route 10.0.0.0 255.255.0.0", "tls-client", "tls-crypt /etc/openvpn/vpclink/a-b.key"} {
		if !strings.Contains(confs["b"], want+"\n") {
			t.Errorf("site b config lacks %q:\n%s", want, confs["b"])
		}
	}
}

// The walk-through's own mode, static keys with directions 0 and 1.
func TestReferenceTopologyStaticMode(t *testing.T) {
	cfg := loadStack(t, "Pulumi.dev.yaml")
	cfg["vpclink:tunnelMode"] = "static"
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), []string{"0.0.0.0/0"})
	confs := setupConfigs(t, res.mon)
	for site, want := range map[string]string{"a": "secret /etc/openvpn/vpclink/a-b.key 0", "b": "secret /etc/openvpn/vpclink/a-b.key 1"} {
		if !strings.Contains(confs[site], want+"\n") || strings.Contains(confs[site], "tls-") {
			t.Errorf("site %s config is not static mode with %q:\n%s", site, want, confs[site])
		}
	}
	for _, r := range res.mon.ByType(tCommand) {
		if strings.HasSuffix(r.Name, "-identity") {
			t.Errorf("static mode registered %s", r.Name)
		}
	}
}

// linkIndex is the index of a link of the configuration by name.
func linkIndex(c topology.Config, name string) int {
	for i, l := range c.Links {
		if l.Name == name {
			return i
		}
	}
	return -1
}

func TestSecondTopology(t *testing.T) {
	cfg := secondTopology()
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), []string{"198.51.100.7/32", "192.0.2.0/28"})

	if n := len(res.mon.ByType(tCommand)); n != 3*3*2 {
		// Three TLS links, two identities, setups and checks each (the
		// terminal-less site pings from its VPN instance).
		t.Errorf("%d remote commands, want 18", n)
	}
	// The arm64 instance type gets an arm64 image.
	var sawArm bool
	for _, c := range res.mon.Calls() {
		if c.Token == "aws:ec2/getAmi:getAmi" && strings.Contains(fmt.Sprint(c.Args), "ubuntu-noble-24.04-arm64-server-*") {
			sawArm = true
		}
	}
	if !sawArm {
		t.Error("no arm64 Ubuntu 24.04 lookup for t4g.small")
	}
	// Default mesh links take consecutive ports from tunnelPort.
	ports := map[string]bool{}
	for _, r := range res.mon.ByType(tIngress) {
		if in(r, "ipProtocol") == "udp" && in(r, "fromPort") != "33434" {
			ports[in(r, "fromPort")] = true
		}
	}
	if !reflect.DeepEqual(ports, map[string]bool{"4000": true, "4001": true, "4002": true}) {
		t.Errorf("tunnel ports %v, want 4000-4002", ports)
	}
}

// TestImageChoice: vpclink:os chooses every site's image unless a site says
// otherwise, for each instance type's architecture; a pinned ami wins (no
// lookup, no trigger). The choice is each instance's replacement trigger,
// so that changing it on a live stack replaces the instances (the image
// itself is ignored in diffs); the lookups are answered by the same
// stand-in as the lab's (awsmodel.AmiResult), with an image of the
// architecture.
func TestImageChoice(t *testing.T) {
	const (
		noble    = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-%s-server-*"
		resolute = "ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-%s-server-*"
	)
	cases := []struct {
		name string
		edit func(cfg map[string]string)
		// want per site: the image name filter and trigger ("" for none).
		want map[string][2]string
	}{
		{"default", func(map[string]string) {}, map[string][2]string{
			"tokyo":    {fmt.Sprintf(noble, "arm64"), "ubuntu-24.04"},
			"virginia": {fmt.Sprintf(noble, "amd64"), "ubuntu-24.04"},
			"sydney":   {"", ""},
		}},
		{"stack-wide 26.04", func(cfg map[string]string) { cfg["vpclink:os"] = "ubuntu-26.04" }, map[string][2]string{
			"tokyo":    {fmt.Sprintf(resolute, "arm64"), "ubuntu-26.04"},
			"virginia": {fmt.Sprintf(resolute, "amd64"), "ubuntu-26.04"},
			"sydney":   {"", ""},
		}},
		{"one site 26.04", func(cfg map[string]string) {
			cfg["vpclink:sites"] = strings.Replace(cfg["vpclink:sites"], `"instanceType":"t4g.small"`, `"instanceType":"t4g.small","os":"ubuntu-26.04"`, 1)
		}, map[string][2]string{
			"tokyo":    {fmt.Sprintf(resolute, "arm64"), "ubuntu-26.04"},
			"virginia": {fmt.Sprintf(noble, "amd64"), "ubuntu-24.04"},
			"sydney":   {"", ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := secondTopology()
			tc.edit(cfg)
			res := mustEvaluate(t, cfg)
			lookups := map[string]string{}
			for _, c := range res.mon.Calls() {
				if c.Token != "aws:ec2/getAmi:getAmi" {
					continue
				}
				var name string
				for _, f := range c.Args["filters"].ArrayValue() {
					if f.ObjectValue()["name"].StringValue() == "name" {
						name = f.ObjectValue()["values"].ArrayValue()[0].StringValue()
					}
				}
				r := regionOfProvider(res.mon, c.Provider)
				if lookups[r] != "" {
					t.Errorf("two image lookups in %s", r)
				}
				lookups[r] = name
			}
			for _, s := range sitesOf(t, cfg) {
				want := tc.want[s.name]
				if got := lookups[s.region]; got != want[0] {
					t.Errorf("site %s: image lookup %q, want %q", s.name, got, want[0])
				}
				for _, role := range []string{"vpn", "terminal"} {
					r := res.mon.Find(tInstance, s.name+"-"+role)
					if r == nil {
						continue
					}
					trigger := ""
					if !r.ReplacementTrigger.IsNull() {
						trigger = r.ReplacementTrigger.StringValue()
					}
					if trigger != want[1] {
						t.Errorf("%s: replacement trigger %q, want %q", r.Name, trigger, want[1])
					}
					arch, emulated := awsmodel.ImageArchitecture(in(r, "ami"))
					if want[0] != "" && (!emulated || awsmodel.ArchitectureMismatch(in(r, "instanceType"), in(r, "ami")) != nil) {
						t.Errorf("%s: image %s (%s) for %s is not the looked-up one of its architecture", r.Name, in(r, "ami"), arch, in(r, "instanceType"))
					}
					if want[0] == "" && in(r, "ami") != "ami-0123456789abcdef0" {
						t.Errorf("%s: image %s, want the pinned one", r.Name, in(r, "ami"))
					}
					// The Elastic IP survives a change of image: it is
					// updated onto the replacement, never replaced (a new
					// public address for every peer and user).
					if eip := res.mon.Find(tEip, r.Name+"-eip"); eip == nil || !eip.ReplacementTrigger.IsNull() || len(eip.IgnoreChanges) != 0 {
						t.Errorf("%s-eip: missing, or with the instance's image options", r.Name)
					}
				}
			}
		})
	}
}

// regionOfProvider is the region of the provider a reference names.
func regionOfProvider(mon *mockaws.Monitor, ref string) string {
	return region(mon, &mockaws.Registration{Provider: ref})
}

// checkInvariants asserts what must hold for any valid configuration.
func checkInvariants(t *testing.T, res *result, sites []site, sshCIDRs []string) {
	t.Helper()
	mon := res.mon
	regs := mon.Registrations()
	siteByVpc := map[string]site{}
	vpcOfSite := map[string]*mockaws.Registration{}

	// Every AWS resource and invoke goes through an explicit provider for a
	// region; no resource at all uses a default provider.
	for _, r := range regs {
		if strings.HasPrefix(r.Type, "aws:") && region(mon, r) == "" {
			t.Errorf("%s %s uses the default AWS provider", r.Type, r.Name)
		}
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") && mon.ProviderOf(r) == nil {
			t.Errorf("%s %s uses a default provider", r.Type, r.Name)
		}
	}
	for _, c := range mon.Calls() {
		if strings.HasPrefix(c.Token, "aws:") && c.Provider == "" {
			t.Errorf("invoke %s uses the default AWS provider", c.Token)
		}
	}

	for _, s := range sites {
		v := mon.Find(tVpc, s.name+"-vpc")
		if v == nil {
			t.Fatalf("site %s: no VPC", s.name)
		}
		vpcOfSite[s.name] = v
		siteByVpc[v.ID] = s
		if got := region(mon, v); got != s.region {
			t.Errorf("site %s: VPC on provider for %q, want %q", s.name, got, s.region)
		}
		if in(v, "cidrBlock") != s.vpc || in(v, "enableDnsHostnames") != "true" {
			t.Errorf("site %s: VPC inputs %v", s.name, v.Inputs)
		}
	}

	// Each AWS resource that references another uses that resource's region.
	for _, r := range regs {
		if !strings.HasPrefix(r.Type, "aws:") {
			continue
		}
		for k, v := range r.Inputs {
			walkStrings(v, false, func(s string, _ bool) {
				if ref := byID(mon, s); ref != nil && strings.HasPrefix(ref.Type, "aws:ec2") && region(mon, ref) != region(mon, r) {
					t.Errorf("%s %s (%s) references %s %s in %s via %s", r.Type, r.Name, region(mon, r), ref.Type, ref.Name, region(mon, ref), k)
				}
			})
		}
	}

	// One route table per site, both subnets associated with it.
	tables := mon.ByType(tRouteTable)
	if len(tables) != len(sites) {
		t.Errorf("%d route tables for %d sites", len(tables), len(sites))
	}
	tableOf := map[string]*mockaws.Registration{}
	for _, rt := range tables {
		s := siteByVpc[in(rt, "vpcId")]
		if _, dup := tableOf[s.name]; dup {
			t.Errorf("site %s has two route tables", s.name)
		}
		tableOf[s.name] = rt
	}
	for _, s := range sites {
		rt := tableOf[s.name]
		if rt == nil {
			t.Errorf("site %s has no route table", s.name)
			continue
		}
		var subnets []string
		for _, a := range mon.ByType(tAssoc) {
			if in(a, "routeTableId") == rt.ID {
				subnets = append(subnets, in(a, "subnetId"))
			}
		}
		var want []string
		for _, sn := range mon.ByType(tSubnet) {
			if in(sn, "vpcId") == vpcOfSite[s.name].ID {
				want = append(want, sn.ID)
			}
		}
		if len(want) != 2+haSubnets(res, s.name) || !reflect.DeepEqual(sorted(subnets), sorted(want)) {
			t.Errorf("site %s: route table associated with %v, want both subnets %v", s.name, subnets, want)
		}
	}

	// Instances: fixed IPs, src/dst check off only on VPN instances, IMDSv2,
	// encrypted root volume, replaced delete-first (the private IP is fixed).
	vpnENI := map[string]string{}
	vpnEIP := map[string]string{}
	for _, s := range sites {
		for _, role := range []string{"vpn", "terminal"} {
			inst := mon.Find(tInstance, s.name+"-"+role)
			if role == "terminal" && !s.terminal {
				if inst != nil {
					t.Errorf("site %s: terminal created although turned off", s.name)
				}
				continue
			}
			if inst == nil {
				t.Fatalf("site %s: no %s instance", s.name, role)
			}
			wantIP := map[string]string{"vpn": s.vpnIP, "terminal": s.termIP}[role]
			if in(inst, "privateIp") != wantIP {
				t.Errorf("%s: private IP %s, want %s", inst.Name, in(inst, "privateIp"), wantIP)
			}
			if got, want := in(inst, "sourceDestCheck"), fmt.Sprint(role != "vpn"); got != want {
				t.Errorf("%s: sourceDestCheck %s, want %s", inst.Name, got, want)
			}
			if plain(object(inst, "metadataOptions")["httpTokens"]) != "required" {
				t.Errorf("%s: IMDSv2 not required", inst.Name)
			}
			if plain(object(inst, "rootBlockDevice")["encrypted"]) != "true" {
				t.Errorf("%s: root volume not encrypted", inst.Name)
			}
			if !inst.DeleteBeforeReplace {
				t.Errorf("%s: not delete-before-replace", inst.Name)
			}
			if region(mon, inst) != s.region {
				t.Errorf("%s: region %s, want %s", inst.Name, region(mon, inst), s.region)
			}
			var eip *mockaws.Registration
			for _, e := range mon.ByType(tEip) {
				if in(e, "instance") == inst.ID {
					eip = e
				}
			}
			if eip == nil || in(eip, "domain") != "vpc" {
				t.Errorf("%s: no VPC Elastic IP", inst.Name)
				continue
			}
			if role == "vpn" {
				vpnENI[s.name] = out(inst, "primaryNetworkInterfaceId")
				vpnEIP[s.name] = out(eip, "publicIp")
			}
		}
	}

	// Routes: per table, the default route to the site's gateway and, for
	// each peer, peer CIDR -> this site's VPN network interface.
	peers := linkedPeers(t, mon, sites)
	for _, s := range sites {
		rt := tableOf[s.name]
		if rt == nil {
			continue
		}
		got := map[string]string{}
		for _, r := range mon.ByType(tRoute) {
			if in(r, "routeTableId") != rt.ID {
				continue
			}
			target := in(r, "gatewayId") + in(r, "networkInterfaceId")
			if _, dup := got[in(r, "destinationCidrBlock")]; dup {
				t.Errorf("site %s: two routes for %s", s.name, in(r, "destinationCidrBlock"))
			}
			got[in(r, "destinationCidrBlock")] = target
		}
		want := map[string]string{}
		for _, igw := range mon.ByType(tIgw) {
			if in(igw, "vpcId") == vpcOfSite[s.name].ID {
				want["0.0.0.0/0"] = igw.ID
			}
		}
		for _, p := range peers[s.name] {
			want[p.vpc] = vpnENI[s.name]
		}
		for _, l := range haLinksOf(res, s.name) {
			// The monitor's probe: the peer's first tunnel end, via the
			// first VPN instance.
			want[l.probe+"/32"] = vpnENI[s.name]
		}
		if summary := res.config.SummaryCidr; summary != "" {
			// One route covers every VPC.
			want = map[string]string{"0.0.0.0/0": want["0.0.0.0/0"], summary: vpnENI[s.name]}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("site %s: routes %v, want %v", s.name, got, want)
		}
	}

	// Security groups: exactly these rules.
	for _, s := range sites {
		for _, role := range []string{"vpn", "terminal"} {
			sg := mon.Find(tSG, fmt.Sprintf("%s-%s-sg", s.name, role))
			if sg == nil {
				t.Fatalf("site %s: no %s security group", s.name, role)
			}
			var got, want []string
			for _, r := range mon.ByType(tIngress) {
				if in(r, "securityGroupId") == sg.ID {
					got = append(got, ruleString(r))
					if in(r, "ipProtocol") == "udp" && in(r, "cidrIpv4") == "0.0.0.0/0" {
						t.Errorf("%s: UDP open to the internet: %s", sg.Name, ruleString(r))
					}
				}
			}
			for _, c := range sshCIDRs {
				want = append(want, "tcp 22-22 from "+c)
			}
			if role == "vpn" {
				want = append(want, "-1 - from "+s.vpc)
				for _, p := range peers[s.name] {
					if !p.transit {
						want = append(want, fmt.Sprintf("udp %d-%d from %s/32", p.port, p.port, vpnEIP[p.name]))
					}
				}
				for _, l := range haLinksOf(res, s.name) {
					want = append(want, fmt.Sprintf("udp %d-%d from %s/32", l.port, l.port, out(mon.Find(tEip, l.peer+"-vpn2-eip"), "publicIp")))
				}
			} else if s.terminal {
				want = append(want, "icmp -1--1 from "+s.vpc)
				for _, p := range peers[s.name] {
					if res.config.SummaryCidr == "" {
						want = append(want, "icmp -1--1 from "+p.vpc, "udp 33434-33534 from "+p.vpc)
					}
				}
				if summary := res.config.SummaryCidr; summary != "" {
					want = append(want, "icmp -1--1 from "+summary, "udp 33434-33534 from "+summary)
				}
			} else {
				want = append(want, "icmp -1--1 from "+s.vpc)
			}
			if !reflect.DeepEqual(sorted(got), sorted(want)) {
				t.Errorf("%s ingress:\n got %v\nwant %v", sg.Name, sorted(got), sorted(want))
			}
			var egress []string
			for _, r := range mon.ByType(tEgress) {
				if in(r, "securityGroupId") == sg.ID {
					egress = append(egress, ruleString(r))
				}
			}
			if !reflect.DeepEqual(egress, []string{"-1 - from 0.0.0.0/0"}) {
				t.Errorf("%s egress: %v", sg.Name, egress)
			}
		}
	}

	checkSetups(t, res, sites)
	checkWiring(t, res, sites, vpnEIP)
	checkForwarding(t, res, sites, peers)
	checkNoSecretLeaks(t, res)
}

// checkWiring asserts, per link end, what connects the resources: the setup
// dials its own VPN instance's EIP and its config's remote is the PEER's
// EIP, the key direction follows the link's site order, a setup is replaced
// with its own VPN instance (triggers, delete first), a check re-runs with
// either setup or config and pings the peer's terminal (or VPN instance),
// and each Elastic IP waits for its VPC's internet gateway.
func checkWiring(t *testing.T, res *result, sites []site, vpnEIP map[string]string) {
	t.Helper()
	mon := res.mon
	byName := map[string]site{}
	for _, s := range sites {
		byName[s.name] = s
	}
	if len(res.config.Links) == 0 {
		t.Fatal("no links in the configuration")
	}
	for _, l := range res.config.Links {
		var setups [2]*mockaws.Registration
		var confs [2]string
		for i, name := range l.Sites {
			peer := l.Sites[1-i]
			setup := mon.Find(tCommand, l.Name+"-"+name+"-setup")
			if setup == nil {
				t.Fatalf("link %s: no setup at %s", l.Name, name)
			}
			setups[i], confs[i] = setup, configOf(t, setup)
			d := directives(confs[i])
			if got := d["remote"]; len(got) == 0 || got[0] != vpnEIP[peer] {
				t.Errorf("%s: remote %v, want the peer %s's EIP %s", setup.Name, got, peer, vpnEIP[peer])
			}
			if got := plain(object(setup, "connection")["host"]); got != vpnEIP[name] {
				t.Errorf("%s: connects to %s, want its own VPN EIP %s", setup.Name, got, vpnEIP[name])
			}
			if res.config.LinkMode(linkIndex(res.config, l.Name)) == "static" {
				if got := d["secret"]; len(got) != 2 || got[0] != openvpn.KeyPath(l.Name) || got[1] != fmt.Sprint(i) {
					t.Errorf("%s: secret %v, want %s %d (site %d of the link)", setup.Name, got, openvpn.KeyPath(l.Name), i, i)
				}
			} else {
				// TLS: the first site serves, the other connects; the
				// static key is the tls-crypt key of both.
				role := []string{"tls-server", "tls-client"}[i]
				if _, ok := d[role]; !ok {
					t.Errorf("%s: not %s (site %d of the link)", setup.Name, role, i)
				}
				if got := d["tls-crypt"]; len(got) != 1 || got[0] != openvpn.KeyPath(l.Name) {
					t.Errorf("%s: tls-crypt %v, want %s", setup.Name, got, openvpn.KeyPath(l.Name))
				}
			}
			vpn := mon.Find(tInstance, name+"-vpn")
			if got := setup.InputList("triggers"); vpn == nil || !reflect.DeepEqual(got, []string{vpn.ID}) {
				t.Errorf("%s: triggers %v, want its own VPN instance's id", setup.Name, got)
			}
			if !setup.DeleteBeforeReplace {
				t.Errorf("%s: not delete-before-replace", setup.Name)
			}
		}
		for i, name := range l.Sites {
			check := mon.Find(tCommand, l.Name+"-"+name+"-check")
			if !res.config.CheckEnabled() {
				continue
			}
			if check == nil {
				t.Fatalf("link %s: no check from %s", l.Name, name)
			}
			// A replaced setup replaces the check; a changed configuration
			// or instance type (AWS stops and starts the instances) changes
			// its command (an update that runs it again).
			want := []string{setups[0].ID, setups[1].ID}
			if got := check.InputList("triggers"); !reflect.DeepEqual(sorted(got), sorted(want)) {
				t.Errorf("%s: triggers %v are not both setups' ids", check.Name, got)
			}
			types := ""
			for _, n := range l.Sites {
				s, _ := res.config.SiteByName(n)
				types += in(mon.Find(tInstance, s.Name+"-vpn"), "instanceType")
			}
			digest := sha256.Sum256([]byte(confs[0] + confs[1] + types))
			if !strings.Contains(in(check, "create"), fmt.Sprintf("configurations %x", digest[:8])) {
				t.Errorf("%s: its command does not change with both configurations and instance types", check.Name)
			}
			self, peer := byName[name], byName[l.Sites[1-i]]
			wantSrc, wantDst := self.vpnIP, peer.vpnIP
			if self.terminal {
				wantSrc = self.termIP
			}
			if peer.terminal {
				wantDst = peer.termIP
			}
			if src, dst := pingTarget(t, in(check, "create")); src != wantSrc || dst != wantDst {
				t.Errorf("%s: pings %s from %s, want %s from %s", check.Name, dst, src, wantDst, wantSrc)
			}
		}
	}
	for _, s := range sites {
		for _, role := range []string{"vpn", "terminal"} {
			inst := mon.Find(tInstance, s.name+"-"+role)
			if inst == nil {
				continue
			}
			var eip *mockaws.Registration
			for _, e := range mon.ByType(tEip) {
				if in(e, "instance") == inst.ID {
					eip = e
				}
			}
			var igw bool
			for _, dep := range eip.Dependencies {
				if d := mon.ByURN(dep); d != nil && d.Type == tIgw && in(d, "vpcId") == in(mon.Find(tSubnet, s.name+"-"+role+"-subnet"), "vpcId") {
					igw = true
				}
			}
			if !igw {
				t.Errorf("%s: does not wait for its VPC's internet gateway", eip.Name)
			}
			var cs topology.Site
			for _, c := range res.config.Sites {
				if c.Name == s.name {
					cs = c
				}
			}
			// Unpinned, the image is the newest for the type's
			// architecture and ignored in diffs (a newer one must not
			// replace the instance); pinned, it is not ignored.
			wantAmi := cs.Ami
			if wantAmi == "" {
				arch := "x86_64"
				if slices.Contains(awsmodel.Architectures(cs.InstanceType), "arm64") {
					arch = "arm64"
				}
				wantAmi = newestImage(mon, inst, arch)
			}
			if contains(inst.IgnoreChanges, "ami") == (cs.Ami != "") || in(inst, "ami") != wantAmi {
				t.Errorf("%s: ami %s (ignoreChanges %v), want %s", inst.Name, in(inst, "ami"), inst.IgnoreChanges, wantAmi)
			}
			// Subnets: in the first zone that offers the type (unless
			// pinned), kept there, and replaced delete-first.
			sub := mon.Find(tSubnet, s.name+"-"+role+"-subnet")
			wantZone, ignored := cs.AvailabilityZone, false
			if wantZone == "" {
				wantZone, ignored = awsmodel.OfferingZones(region(mon, inst), cs.InstanceType)[0], true
			}
			if in(sub, "availabilityZone") != wantZone || contains(sub.IgnoreChanges, "availabilityZone") != ignored || !sub.DeleteBeforeReplace {
				t.Errorf("%s: zone %q (ignoreChanges %v, deleteBeforeReplace %v), want %q (ignored %v, delete first)",
					sub.Name, in(sub, "availabilityZone"), sub.IgnoreChanges, sub.DeleteBeforeReplace, wantZone, ignored)
			}
		}
	}
}

// directives parses an OpenVPN configuration into directive -> arguments.
func directives(conf string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(conf, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			out[f[0]] = f[1:]
		}
	}
	return out
}

// pingTarget runs a check command with ping (and id, so that it does not
// re-execute itself under sudo) replaced by shell functions, and returns
// the source (-I) and destination ping was called with.
func pingTarget(t *testing.T, create string) (src, dst string) {
	t.Helper()
	log := t.TempDir() + "/ping.log"
	cmd := exec.Command("bash", "-c", create)
	cmd.Env = append(os.Environ(),
		"PING_LOG="+log,
		`BASH_FUNC_ping%%=() { printf '%s\n' "$@" > "$PING_LOG"; echo '3 packets transmitted, 3 received'; }`,
		`BASH_FUNC_id%%=() { echo 0; }`,
		`BASH_FUNC_sleep%%=() { :; }`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("check command failed with a ping that answers: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("the check never ran ping: %v", err)
	}
	args := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-I" && i+1 < len(args):
			src = args[i+1]
			i++
		case a == "-c" || a == "-W" || a == "-w" || a == "-i" || a == "-s" || a == "-t":
			i++
		case !strings.HasPrefix(a, "-"):
			dst = a
		}
	}
	return src, dst
}

type peer struct {
	name, vpc string
	port      int
	// transit: reached through this link's peer (a hub), not the peer
	// itself; link names the link.
	transit bool
	link    string
}

// linkedPeers reads, from the setup commands' OpenVPN configurations, what
// each site sends into which tunnel: per route line, the site whose VPC it
// is, the port, and whether it is the peer (the first route line) or a site
// reached through the peer.
func linkedPeers(t *testing.T, mon *mockaws.Monitor, sites []site) map[string][]peer {
	t.Helper()
	byVpc := map[string]site{}
	for _, s := range sites {
		byVpc[s.vpc] = s
	}
	out := map[string][]peer{}
	routeLine := regexp.MustCompile(`(?m)^route (\S+) (\S+)( vpn_gateway (\d+))?$`)
	portLine := regexp.MustCompile(`(?m)^port (\d+)$`)
	for _, cmd := range mon.ByType(tCommand) {
		name, ok := strings.CutSuffix(cmd.Name, "-setup")
		if !ok || strings.Contains(name, "-secondary-") {
			// A second tunnel joins the same peers (checkHA).
			continue
		}
		conf := configOf(t, cmd)
		ms := routeLine.FindAllStringSubmatch(conf, -1)
		pm := portLine.FindStringSubmatch(conf)
		if ms == nil || pm == nil {
			t.Fatalf("%s: config without route or port:\n%s", cmd.Name, conf)
		}
		var port int
		fmt.Sscan(pm[1], &port)
		for n, m := range ms {
			var bits int
			for _, part := range strings.Split(m[2], ".") {
				var n int
				fmt.Sscan(part, &n)
				for ; n > 0; n = (n << 1) & 0xff {
					bits++
				}
			}
			p := byVpc[fmt.Sprintf("%s/%d", m[1], bits)]
			for _, s := range sites {
				if link, ok := strings.CutSuffix(name, "-"+s.name); ok {
					// The peer's network first, with the default metric;
					// the networks it forwards to after it, with the
					// transit metric.
					transit := m[4] == fmt.Sprint(openvpn.TransitMetric)
					if transit != (n > 0) {
						t.Errorf("%s: route %d %q: transit %v", cmd.Name, n, m[0], transit)
					}
					out[s.name] = append(out[s.name], peer{p.name, p.vpc, port, transit, link})
				}
			}
		}
	}
	return out
}

var confBlock = regexp.MustCompile(`(?s)<<'VPCLINK_CONF'\n(.*?)VPCLINK_CONF\n`)

// configOf extracts the OpenVPN configuration from a setup command.
func configOf(t *testing.T, cmd *mockaws.Registration) string {
	t.Helper()
	// The script is single-quoted for bash -c; undo the quoting.
	m := confBlock.FindStringSubmatch(strings.ReplaceAll(in(cmd, "create"), `'\''`, `'`))
	if m == nil {
		t.Fatalf("%s: no configuration in create", cmd.Name)
	}
	return m[1]
}

// setupConfigs returns the configuration per site name for the first link.
func setupConfigs(t *testing.T, mon *mockaws.Monitor) map[string]string {
	out := map[string]string{}
	for _, cmd := range mon.ByType(tCommand) {
		if name, ok := strings.CutSuffix(cmd.Name, "-setup"); ok {
			out[name[strings.LastIndex(name, "-")+1:]] = configOf(t, cmd)
		}
	}
	return out
}

// checkSetups asserts the remote setup of every link end: mirror-image
// configurations with the required lines, one V1 key on stdin of both ends
// as a secret, secret stdout/stderr, regions configured in parallel, and the
// post-deploy checks after both ends.
func checkSetups(t *testing.T, res *result, sites []site) {
	t.Helper()
	mon := res.mon
	type end struct {
		cmd  *mockaws.Registration
		conf string
	}
	links := map[string][]end{}
	for _, cmd := range mon.ByType(tCommand) {
		name, ok := strings.CutSuffix(cmd.Name, "-setup")
		if !ok {
			continue
		}
		link := name[:strings.LastIndex(name, "-")]
		for _, s := range sites {
			if strings.HasSuffix(name, "-"+s.name) {
				link = strings.TrimSuffix(name, "-"+s.name)
			}
		}
		links[link] = append(links[link], end{cmd, configOf(t, cmd)})
	}
	if len(links) == 0 {
		t.Fatal("no setup commands")
	}
	common := []string{"proto udp", "dev-type tun", "keepalive 10 60", "persist-tun", "persist-key",
		"tun-mtu 1400", "user openvpn", "group openvpn"}
	// What each mode needs (SPEC: OpenVPN facts; TLS without a CA). TLS
	// leaves TCP MSS to the host's nft clamp (OpenVPN's is off: under
	// data channel offload it would not apply).
	modeLines := map[string][]string{
		"static": {"ignore-unknown-option allow-deprecated-insecure-static-crypto", "allow-deprecated-insecure-static-crypto",
			"cipher AES-256-CBC", "auth SHA256", "mssfix 1400"},
		"tls": {"tls-version-min 1.3", "data-ciphers AES-256-GCM:CHACHA20-POLY1305", "mssfix 0"},
	}
	for name, ends := range links {
		mode := "static"
		if strings.Contains(ends[0].conf, "\ntls-crypt ") {
			mode = "tls"
		}
		required := append(append([]string{}, common...), modeLines[mode]...)
		if len(ends) != 2 {
			t.Errorf("link %s: %d ends", name, len(ends))
			continue
		}
		a, b := ends[0], ends[1]
		for _, e := range ends {
			lines := strings.Split(e.conf, "\n")
			for _, want := range required {
				if !contains(lines, want) {
					t.Errorf("%s: config lacks %q", e.cmd.Name, want)
				}
			}
			if mode == "tls" {
				for _, bad := range []string{"secret ", "cipher ", "ca ", "topology ", "float", "remote-cert-tls"} {
					if strings.Contains(e.conf, "\n"+bad) {
						t.Errorf("%s: a TLS config with %q", e.cmd.Name, bad)
					}
				}
			}
			if strings.Index(e.conf, "ignore-unknown-option") > strings.Index(e.conf, "\nallow-deprecated") {
				t.Errorf("%s: ignore-unknown-option must precede the 2.7 flag", e.cmd.Name)
			}
			if !contains(e.cmd.AdditionalSecretOutputs, "stdout") || !contains(e.cmd.AdditionalSecretOutputs, "stderr") {
				t.Errorf("%s: stdout/stderr not secret: %v", e.cmd.Name, e.cmd.AdditionalSecretOutputs)
			}
			if in(e.cmd, "delete") == "" || !strings.Contains(in(e.cmd, "delete"), "systemctl disable --now") {
				t.Errorf("%s: no delete step that stops the service", e.cmd.Name)
			}
			stdin := e.cmd.Inputs["stdin"]
			if !stdin.IsSecret() || !openvpn.ValidStaticKey(plain(stdin)) {
				t.Errorf("%s: stdin is not a secret V1 static key", e.cmd.Name)
			}
			conn := e.cmd.Inputs["connection"]
			if !conn.IsSecret() && !object(e.cmd, "connection")["privateKey"].IsSecret() {
				t.Errorf("%s: SSH private key not secret", e.cmd.Name)
			}
		}
		if plain(a.cmd.Inputs["stdin"]) != plain(b.cmd.Inputs["stdin"]) {
			t.Errorf("link %s: the two ends have different keys", name)
		}
		// Mirror images: swapping the mirrored lines of one gives the other.
		if mirror(a.conf, true) != mirror(b.conf, false) {
			t.Errorf("link %s: configurations are not mirror images:\n%s\n---\n%s", name, a.conf, b.conf)
		}
		// Parallel regions: a setup never waits for another setup; in TLS
		// mode it waits for the two identity steps of its link only.
		for _, e := range ends {
			identities := 0
			for _, dep := range e.cmd.Dependencies {
				d := mon.ByURN(dep)
				switch {
				case d == nil || d.Type != tCommand:
				case strings.HasSuffix(d.Name, "-identity") && strings.HasPrefix(d.Name, name+"-"):
					identities++
				default:
					t.Errorf("%s waits for %s", e.cmd.Name, d.Name)
				}
			}
			if want := map[string]int{"static": 0, "tls": 2}[mode]; identities != want {
				t.Errorf("%s waits for %d identity steps, want %d", e.cmd.Name, identities, want)
			}
		}
	}
	// Checks run after both setups of their link.
	for _, cmd := range mon.ByType(tCommand) {
		name, ok := strings.CutSuffix(cmd.Name, "-check")
		if !ok || strings.HasSuffix(name, "-transit") {
			continue
		}
		var setups int
		for _, dep := range cmd.Dependencies {
			if d := mon.ByURN(dep); d != nil && strings.HasSuffix(d.Name, "-setup") && strings.HasPrefix(d.Name, name[:strings.LastIndex(name, "-")]) {
				setups++
			}
		}
		if setups != 2 {
			t.Errorf("%s depends on %d setups, want 2", cmd.Name, setups)
		}
		// What it pings is asserted by running it (checkWiring).
	}
}

// mirror masks the remote and route lines (they name the other end's own
// address and network) and, with swap, swaps the per-end lines, so that
// mirror(a, true) equals mirror(b, false) for the two ends of a link.
func mirror(conf string, swap bool) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		f := strings.Fields(l)
		switch {
		case swap && len(f) == 3 && f[0] == "ifconfig":
			l = "ifconfig " + f[2] + " " + f[1]
		case swap && len(f) == 3 && f[0] == "secret":
			l = "secret " + f[1] + " " + map[string]string{"0": "1", "1": "0"}[f[2]]
		case swap && len(f) == 1 && (f[0] == "tls-server" || f[0] == "tls-client"):
			l = map[string]string{"tls-server": "tls-client", "tls-client": "tls-server"}[f[0]]
		case len(f) == 2 && f[0] == "dh" && f[1] == "none":
			continue // the server's only
		case strings.HasPrefix(l, "# This end's certificate: "):
			continue // each end's own
		case len(f) >= 1 && f[0] == "route":
			continue // each end's own networks (checkForwarding follows them)
		case len(f) >= 1 && (f[0] == "remote" || f[0] == "peer-fingerprint"):
			l = f[0] + " *"
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkNoSecretLeaks collects every secret string and asserts none of it
// appears in a non-secret input, output or stack output.
func checkNoSecretLeaks(t *testing.T, res *result) {
	t.Helper()
	var secrets []string
	for _, r := range res.mon.Registrations() {
		for _, m := range []resource.PropertyMap{r.Inputs, r.Outputs} {
			for _, v := range m {
				walkStrings(v, false, func(s string, secret bool) {
					if secret && len(s) >= 32 {
						secrets = append(secrets, s)
					}
				})
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("no secret values found at all")
	}
	// Distinctive fragments: each line of the key and of the PEM body.
	var fragments []string
	for _, s := range secrets {
		for _, l := range strings.Split(s, "\n") {
			// A user data's public host key and comments are public.
			if strings.Contains(l, "ssh-ed25519 ") || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			if len(l) >= 32 && !strings.HasPrefix(l, "-----") {
				fragments = append(fragments, l)
			}
		}
	}
	leak := func(where, s string) {
		for _, f := range fragments {
			if strings.Contains(s, f) {
				t.Errorf("secret material in plain text in %s", where)
				return
			}
		}
	}
	for _, r := range res.mon.Registrations() {
		for k, v := range r.Inputs {
			walkStrings(v, false, func(s string, secret bool) {
				if !secret {
					leak(fmt.Sprintf("%s %s input %s", r.Type, r.Name, k), s)
				}
			})
		}
	}
	for name, o := range res.outputs {
		if o.secret {
			continue
		}
		walkAny(o.value, func(s string) { leak("stack output "+name, s) })
	}
}

func TestSecretsAreSecret(t *testing.T) {
	res := mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml"))
	priv, ok := res.outputs["sshPrivateKey"]
	if !ok || !priv.secret || !strings.Contains(fmt.Sprint(priv.value), "PRIVATE KEY") {
		t.Errorf("sshPrivateKey output: present %v, secret %v", ok, priv.secret)
	}
	for name, o := range res.outputs {
		if name != "sshPrivateKey" && o.secret {
			t.Errorf("stack output %s is secret; only the private key should be", name)
		}
	}
	// The static key is generated once per link with 2048 bits.
	keys := res.mon.ByType(tRandom)
	var found bool
	for _, k := range keys {
		if strings.HasSuffix(k.Name, "-static-key") {
			found = true
			// hex digits only, two per byte
			if in(k, "length") != fmt.Sprint(2*openvpn.StaticKeyBytes) || in(k, "overrideSpecial") != "abcdef" || in(k, "upper") != "false" || in(k, "lower") != "false" {
				t.Errorf("%s: not %d random bytes in hex: %v", k.Name, openvpn.StaticKeyBytes, k.Inputs)
			}
		}
	}
	if !found {
		t.Error("no random static key")
	}
}

func TestOperatorSSHKey(t *testing.T) {
	cfg := loadStack(t, "Pulumi.dev.yaml")
	cfg["vpclink:sshPublicKey"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb9c0Sgv9wH0cDoN4lDsVffG9K2SGpx2ae8iREdvGzR op@laptop"
	cfg["vpclink:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"

	// Stored in plain text: refused, nothing registered, value not echoed.
	res := evaluate(t, cfg)
	if res.err == nil || !strings.Contains(res.err.Error(), "vpclink:sshPrivateKey") {
		t.Fatalf("plain-text private key accepted: %v", res.err)
	}
	if strings.Contains(res.err.Error(), "b3BlbnNzaC1") {
		t.Error("error message repeats the private key")
	}
	if n := len(res.mon.Registrations()); n != 0 {
		t.Errorf("%d resources registered for an invalid config", n)
	}

	res = mustEvaluate(t, cfg, "vpclink:sshPrivateKey")
	for _, r := range res.mon.ByType(tRandom) {
		if r.Name == "ssh-key-seed" {
			t.Error("generated a key although the operator gave one")
		}
	}
	for _, kp := range res.mon.ByType(tKeyPair) {
		if in(kp, "publicKey") != cfg["vpclink:sshPublicKey"] {
			t.Errorf("%s: public key %q", kp.Name, in(kp, "publicKey"))
		}
	}
	if _, ok := res.outputs["sshPrivateKey"]; ok {
		t.Error("operator's private key exported")
	}
	checkNoSecretLeaks(t, res)
	// Their own key is wherever they keep it: the ssh commands name none.
	assertSSHCommands(t, res, "ssh ubuntu@")
}

// The ssh outputs can be pasted: with the generated key they name the file
// the README writes it to.
func TestSSHCommandsNameTheKeyFile(t *testing.T) {
	assertSSHCommands(t, mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml")), "ssh -i vpclink.key ubuntu@")
}

func assertSSHCommands(t *testing.T, res *result, prefix string) {
	t.Helper()
	sites, _ := res.outputs["sites"].value.(map[string]any)
	if len(sites) != 2 {
		t.Fatalf("sites output: %v", res.outputs["sites"].value)
	}
	for name, v := range sites {
		m, _ := v.(map[string]any)
		// The zone the program chose (a newcomer looked for it).
		if got, want := fmt.Sprint(m["availabilityZone"]), in(res.mon.Find(tSubnet, name+"-vpn-subnet"), "availabilityZone"); got != want || got == "" {
			t.Errorf("sites.%s.availabilityZone = %q, want the subnets' %q", name, got, want)
		}
		for _, k := range []string{"sshVpn", "sshTerminal"} {
			ip := m[map[string]string{"sshVpn": "vpnPublicIp", "sshTerminal": "terminalPublicIp"}[k]]
			if got, want := fmt.Sprint(m[k]), prefix+fmt.Sprint(ip); got != want {
				t.Errorf("sites.%s.%s = %q, want %q", name, k, got, want)
			}
		}
	}
}

func TestEvaluationIsDeterministic(t *testing.T) {
	for name, cfg := range map[string]map[string]string{"dev": loadStack(t, "Pulumi.dev.yaml"), "second": secondTopology()} {
		t.Run(name, func(t *testing.T) {
			inputs := func() map[string]resource.PropertyMap {
				m := map[string]resource.PropertyMap{}
				for _, r := range mustEvaluate(t, cfg).mon.Registrations() {
					m[r.Type+"::"+r.Name] = r.Inputs
				}
				return m
			}
			first, second := inputs(), inputs()
			if len(first) == 0 {
				t.Fatal("nothing registered")
			}
			for k, v := range first {
				if !reflect.DeepEqual(fmt.Sprint(v), fmt.Sprint(second[k])) {
					// Values are not printed: they may hold secrets.
					t.Errorf("%s differs between evaluations", k)
				}
			}
			if len(first) != len(second) {
				t.Errorf("%d vs %d registrations", len(first), len(second))
			}
		})
	}
}

func TestPostDeployCheckCanBeTurnedOff(t *testing.T) {
	cfg := loadStack(t, "Pulumi.dev.yaml")
	cfg["vpclink:postDeployCheck"] = "false"
	res := mustEvaluate(t, cfg)
	for _, c := range res.mon.ByType(tCommand) {
		if strings.HasSuffix(c.Name, "-check") {
			t.Errorf("%s registered with postDeployCheck=false", c.Name)
		}
	}
	if n := len(res.mon.ByType(tCommand)); n != 4 {
		t.Errorf("%d commands, want the two identities and two setups", n)
	}
}

// naiveMocks is the mock from Pulumi's unit-testing guide: outputs are the
// inputs, invokes answer nothing.
type naiveMocks struct{ n int }

func (m *naiveMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return args.Name + "_id", args.Inputs, nil
}

func (m *naiveMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

// The program must not depend on a mock that answers like AWS: other
// stacks' tests use the minimal one.
func TestProgramRunsUnderMinimalMocks(t *testing.T) {
	for name, cfg := range map[string]map[string]string{"dev": loadStack(t, "Pulumi.dev.yaml"), "second": secondTopology()} {
		if err := pulumi.RunErr(program, pulumi.WithMocks("vpclink", "test", &naiveMocks{}), withConfig(cfg)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// No remote command asks for its previous output in the environment: no
// script reads PULUMI_COMMAND_STDOUT/STDERR, and the instances' sshd
// refuses them, which made every update and delete print two warnings per
// command.
func TestCommandsDoNotPassPreviousOutput(t *testing.T) {
	res := mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml"))
	cmds := res.mon.ByType(tCommand)
	if len(cmds) == 0 {
		t.Fatal("no remote commands registered")
	}
	for _, cmd := range cmds {
		if got := in(cmd, "addPreviousOutputInEnv"); got != "false" {
			t.Errorf("%s: addPreviousOutputInEnv = %q, want false", cmd.Name, got)
		}
	}
}

// Key seeds and keys survive a change of their random resource's inputs
// (a provider release with another default, or a change of Args): every
// input of every RandomPassword is in its ignoreChanges.
func TestRandomSecretsIgnoreInputChanges(t *testing.T) {
	res := mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml"))
	randoms := res.mon.ByType(tRandom)
	if len(randoms) == 0 {
		t.Fatal("no RandomPassword registered")
	}
	for _, r := range randoms {
		for k := range r.Inputs {
			if !contains(r.IgnoreChanges, string(k)) {
				t.Errorf("%s: a change of input %q would replace it (ignoreChanges %v)", r.Name, k, r.IgnoreChanges)
			}
		}
	}
}

// quotaTopology has three sites with terminals in one region: 6 Elastic IPs,
// above the default 5, and two SSH networks.
func quotaTopology(t *testing.T) map[string]string {
	cfg := secondTopology()
	for i := range 3 {
		editSites(t, cfg, i, "region", "us-east-1")
	}
	editSites(t, cfg, 2, "terminal", nil)
	editSites(t, cfg, 2, "terminalPrivateIp", "10.50.2.9")
	return cfg
}

// topology.QuotaUsage counts exactly what the program registers: Elastic
// IPs and VPCs per region, routes per route table, inbound rules per
// security group. A component that adds or drops one fails this test until
// the counter follows.
func TestQuotaUsageMatchesTheProgram(t *testing.T) {
	star := secondTopology()
	star["vpclink:links"] = `[{"sites":["tokyo","virginia"]},{"sites":["tokyo","sydney"]}]`
	for name, cfg := range map[string]map[string]string{
		"dev": loadStack(t, "Pulumi.dev.yaml"), "second (mesh, a site without terminal)": secondTopology(),
		"star": star, "one region": quotaTopology(t),
		"hub": hubTopology(), "hub with a summary": hubWithSummary(),
	} {
		t.Run(name, func(t *testing.T) {
			res := mustEvaluate(t, cfg)
			mon := res.mon
			got := map[string]int{}
			for _, r := range mon.ByType(tEip) {
				got[topology.QuotaElasticIPs.Code+" "+region(mon, r)]++
			}
			for _, r := range mon.ByType(tVpc) {
				got[topology.QuotaVPCs.Code+" "+region(mon, r)]++
			}
			for _, r := range mon.ByType(tRoute) {
				rt := byID(mon, in(r, "routeTableId"))
				got[topology.QuotaRoutes.Code+" "+region(mon, r)+" "+strings.TrimSuffix(rt.Name, "-rt")]++
			}
			for _, sg := range mon.ByType(tSG) {
				site, group, _ := strings.Cut(strings.TrimSuffix(sg.Name, "-sg"), "-")
				k := topology.QuotaSecurityGroupRules.Code + " " + region(mon, sg) + " " + site + " " + group
				got[k] += 0 // a group without rules is counted too
				for _, r := range mon.ByType(tIngress) {
					if in(r, "securityGroupId") == sg.ID {
						got[k]++
					}
				}
			}
			want := map[string]int{}
			for _, u := range topology.QuotaUsage(res.config) {
				k := u.Quota.Code + " " + u.Region
				if u.Site != "" {
					k += " " + u.Site
				}
				if u.Group != "" {
					k += " " + u.Group
				}
				want[k] = u.Count
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the program registers\n%v\nQuotaUsage counts\n%v", got, want)
			}
		})
	}
}

// warnRecorder records the warnings the program logs and how many
// resources were registered at the first one.
type warnRecorder struct {
	pulumi.Log
	mon       *mockaws.Monitor
	warnings  []string
	infos     []string
	atFirstRn int
}

func (w *warnRecorder) Info(msg string, args *pulumi.LogArgs) error {
	w.infos = append(w.infos, msg)
	return w.Log.Info(msg, args)
}

func (w *warnRecorder) Warn(msg string, args *pulumi.LogArgs) error {
	if len(w.warnings) == 0 {
		w.atFirstRn = len(w.mon.Registrations())
	}
	w.warnings = append(w.warnings, msg)
	return w.Log.Warn(msg, args)
}

// The quota warnings come before anything is created, and do not stop the
// deployment.
func TestQuotaWarningsBeforeAnyResource(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  map[string]string
		want int
	}{"dev": {loadStack(t, "Pulumi.dev.yaml"), 0}, "one region": {quotaTopology(t), 1}} {
		t.Run(name, func(t *testing.T) {
			engineConfig(t, tc.cfg)
			mon := &mockaws.Monitor{}
			rec := &warnRecorder{mon: mon}
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				rec.Log = ctx.Log
				ctx.Log = rec
				return program(ctx)
			}, pulumi.WithMocks("vpclink", "test", mon), withConfig(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.warnings) != tc.want {
				t.Fatalf("%d warnings, want %d: %q", len(rec.warnings), tc.want, rec.warnings)
			}
			if tc.want > 0 && (rec.atFirstRn != 0 || !strings.Contains(rec.warnings[0], "L-0263D0A3") || !strings.Contains(rec.warnings[0], "needs 6 in us-east-1")) {
				t.Errorf("after %d registrations: %q", rec.atFirstRn, rec.warnings[0])
			}
			if len(mon.ByType(tEip)) != 6 && tc.want > 0 {
				t.Errorf("%d Elastic IPs registered: a warning must not stop the deployment", len(mon.ByType(tEip)))
			}
		})
	}
}

// newestImage is the answer the mocks gave to the site's getAmi call for
// arch (the newest Ubuntu image), recomputed from the call's arguments.
func newestImage(mon *mockaws.Monitor, inst *mockaws.Registration, arch string) string {
	for _, c := range mon.Calls() {
		if c.Token == awsmodel.GetAmi && c.Provider == inst.Provider && strings.Contains(fmt.Sprint(c.Args), arch) {
			return awsmodel.Text(awsmodel.AmiResult(region(mon, inst), c.Args)["id"])
		}
	}
	return "(no getAmi call for " + arch + ")"
}

// checkForwarding follows, for every ordered pair of sites, the traffic of
// the first to the second's VPC through the OpenVPN configurations (which
// tunnel each VPN instance routes it into, and who is at the other end),
// and checks that it arrives exactly where it should: every pair with a
// hub (spoke to spoke in two hops, through the hub), only linked pairs
// without one.
func checkForwarding(t *testing.T, res *result, sites []site, peers map[string][]peer) {
	t.Helper()
	// far[x][link] is the site at the other end of x's link.
	far := map[string]map[string]string{}
	for x, ps := range peers {
		far[x] = map[string]string{}
		for _, p := range ps {
			if !p.transit {
				far[x][p.link] = p.name
			}
		}
	}
	linked := map[[2]string]bool{}
	linkOf := map[[2]string]string{}
	for _, l := range res.config.Links {
		linked[[2]string{l.Sites[0], l.Sites[1]}], linked[[2]string{l.Sites[1], l.Sites[0]}] = true, true
		if _, dup := linkOf[[2]string{l.Sites[0], l.Sites[1]}]; !dup {
			linkOf[[2]string{l.Sites[0], l.Sites[1]}], linkOf[[2]string{l.Sites[1], l.Sites[0]}] = l.Name, l.Name
		}
	}
	// What each site reaches through the hub, and the links on the way.
	transit := map[string][]site{}
	onPath := map[string][]string{}
	defer func() { checkTransitChecks(t, res, sites, transit, onPath) }()
	for _, s := range sites {
		for _, d := range sites {
			if s.name == d.name {
				continue
			}
			path := []string{s.name}
			for x := s.name; x != d.name && len(path) <= len(sites); {
				next := ""
				for _, p := range peers[x] {
					if p.vpc == d.vpc {
						next = far[x][p.link]
					}
				}
				if next == "" {
					break
				}
				path = append(path, next)
				x = next
			}
			reached := path[len(path)-1] == d.name
			hub := res.config.Hub
			if reached && len(path) == 3 {
				transit[s.name] = append(transit[s.name], d)
				for i := 0; i < 2; i++ {
					onPath[s.name] = append(onPath[s.name], linkOf[[2]string{path[i], path[i+1]}])
				}
			}
			switch {
			case linked[[2]string{s.name, d.name}] && (!reached || len(path) != 2):
				t.Errorf("%s -> %s: path %v, want the direct link", s.name, d.name, path)
			case linked[[2]string{s.name, d.name}]:
			case hub == "" && reached:
				t.Errorf("%s -> %s: path %v between sites without a link or hub", s.name, d.name, path)
			case hub != "" && (!reached || len(path) != 3 || path[1] != hub):
				t.Errorf("%s -> %s: path %v, want through the hub %s", s.name, d.name, path, hub)
			}
		}
	}
}

// hubTopology is four sites with the hub second in the list, one spoke
// without a terminal, default (hub) links.
func hubTopology() map[string]string {
	return map[string]string{
		"vpclink:sites": `[
		 {"name":"paris","region":"eu-west-3","vpcCidr":"10.1.0.0/16","vpnSubnetCidr":"10.1.0.0/24","terminalSubnetCidr":"10.1.1.0/24","vpnPrivateIp":"10.1.0.10","terminalPrivateIp":"10.1.1.40"},
		 {"name":"hub","region":"eu-central-1","vpcCidr":"10.0.0.0/16","vpnSubnetCidr":"10.0.0.0/24","terminalSubnetCidr":"10.0.1.0/24","vpnPrivateIp":"10.0.0.10","terminalPrivateIp":"10.0.1.40"},
		 {"name":"tokyo","region":"ap-northeast-1","vpcCidr":"10.2.0.0/16","vpnSubnetCidr":"10.2.0.0/24","terminalSubnetCidr":"10.2.1.0/24","vpnPrivateIp":"10.2.0.10","terminalPrivateIp":"10.2.1.40"},
		 {"name":"ohio","region":"us-east-2","vpcCidr":"172.16.0.0/16","vpnSubnetCidr":"172.16.0.0/24","terminalSubnetCidr":"172.16.1.0/24","vpnPrivateIp":"172.16.0.10","terminal":false}]`,
		"vpclink:hub": "hub",
	}
}

// TestHubTopology: with a hub, the default links join it to each spoke
// (hub first: TLS server), spokes reach each other through it (checked by
// following the OpenVPN routes in checkInvariants), and the resources per
// link are the same as in a mesh, plus a route and, on a terminal, two
// rules per VPC reached through the hub.
func TestHubTopology(t *testing.T) {
	cfg := hubTopology()
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), topology.DefaultSSHAllowedCIDRs)
	var names []string
	for _, l := range res.config.Links {
		names = append(names, l.Name)
	}
	if want := []string{"hub-paris", "hub-tokyo", "hub-ohio"}; !reflect.DeepEqual(names, want) {
		t.Errorf("links %v, want %v", names, want)
	}
	// paris reaches tokyo and ohio through its link to the hub: a route
	// and two terminal rules each, the site's own (named after the
	// destination, not after the link).
	for _, n := range []string{"paris-route-to-tokyo", "paris-route-to-ohio", "paris-terminal-sg-icmp-from-site-tokyo", "paris-terminal-sg-udp-from-site-ohio"} {
		if res.mon.FindName(n) == nil {
			t.Errorf("no %s", n)
		}
	}
	// ohio has no terminal: no rules for one, but the routes.
	if res.mon.FindName("ohio-terminal-sg-icmp-from-site-paris") != nil || res.mon.FindName("ohio-route-to-paris") == nil {
		t.Error("ohio (no terminal) should have routes to the other spokes and no terminal rules")
	}
	// The hub's ends route only their spoke.
	hubConf := configOf(t, res.mon.Find(tCommand, "hub-paris-hub-setup"))
	if got := regexp.MustCompile(`(?m)^route .*$`).FindAllString(hubConf, -1); !reflect.DeepEqual(got, []string{"route 10.1.0.0 255.255.0.0"}) {
		t.Errorf("the hub's end of hub-paris routes %v, want paris's VPC only", got)
	}
}

// TestHubSummaryCidr: with vpclink:summaryCidr each route table has one
// route for it and each terminal two rules from it, whatever the number of
// sites; the links register none. The VPN instances still route each VPC.
func TestHubSummaryCidr(t *testing.T) {
	cfg := hubWithSummary()
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), topology.DefaultSSHAllowedCIDRs)
	if n := len(res.mon.ByType(tRoute)); n != 2*4 {
		t.Errorf("%d routes, want 8 (default and summary per site)", n)
	}
	without := hubTopology()
	without["vpclink:sites"] = cfg["vpclink:sites"]
	plain := mustEvaluate(t, without)
	// Routes: 3 spokes x 3 + hub 3 = 12 peer routes become 4 summaries;
	// terminal rules: (2 spokes x 3 + hub 3) x 2 = 18 become 3 x 2 = 6.
	if got, want := len(plain.mon.Registrations())-len(res.mon.Registrations()), (12-4)+(18-6); got != want {
		t.Errorf("summaryCidr saves %d resources on 4 sites, want %d", got, want)
	}
}

// hubWithSummary is hubTopology with ohio moved into 10.9.0.0/16 and the
// summary 10.0.0.0/12 covering every VPC.
func hubWithSummary() map[string]string {
	cfg := hubTopology()
	cfg["vpclink:sites"] = strings.ReplaceAll(cfg["vpclink:sites"], "172.16.", "10.9.")
	cfg["vpclink:summaryCidr"] = "10.0.0.0/12"
	return cfg
}

// TestHubWithDirectLink: explicit links with a hub and one extra spoke to
// spoke link (a partial mesh): the extra pair uses its own link, the others
// go through the hub (checkInvariants follows every path).
func TestHubWithDirectLink(t *testing.T) {
	cfg := hubTopology()
	cfg["vpclink:links"] = `[{"sites":["hub","paris"]},{"sites":["hub","tokyo"]},{"sites":["hub","ohio"]},{"sites":["paris","tokyo"]}]`
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), topology.DefaultSSHAllowedCIDRs)
	routes := regexp.MustCompile(`(?m)^route .*$`)
	if got := routes.FindAllString(configOf(t, res.mon.Find(tCommand, "hub-paris-paris-setup")), -1); !reflect.DeepEqual(got, []string{"route 10.0.0.0 255.255.0.0", "route 172.16.0.0 255.255.0.0 vpn_gateway 100"}) {
		t.Errorf("paris sends %v to the hub, want the hub's and ohio's VPCs (tokyo has its own link)", got)
	}
}

// TestRoutesKeepTheirResources: the route and terminal rules of a site for
// a destination are the site's, named after the destination, so that
// moving the destination between a direct link and the hub changes
// nothing in AWS; those of a direct link's peer carry their earlier names,
// the link's own children, as aliases, so a stack made before keeps them.
func TestRoutesKeepTheirResources(t *testing.T) {
	res := mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml"))
	link := res.mon.Find("vpclink:index:Link", "a-b")
	if link == nil {
		t.Fatal("no link a-b")
	}
	for name, old := range map[string]string{
		"a-route-to-b": "a-b-a-route", "b-route-to-a": "a-b-b-route",
		"a-terminal-sg-icmp-from-site-b": "a-b-a-icmp-from-peer", "b-terminal-sg-udp-from-site-a": "a-b-b-udp-from-peer",
	} {
		r := res.mon.FindName(name)
		if r == nil {
			t.Errorf("no %s", name)
			continue
		}
		if !strings.HasSuffix(r.Parent, "vpclink:index:Site::"+name[:1]) {
			t.Errorf("%s: parent %s, want its site", name, r.Parent)
		}
		ok := false
		for _, a := range r.Aliases {
			ok = ok || strings.HasPrefix(a, old+" under ") && strings.HasSuffix(a, "vpclink:index:Link::a-b") ||
				strings.HasSuffix(a, "vpclink:index:Link$"+r.Type+"::"+old)
		}
		if !ok {
			t.Errorf("%s: aliases %v, want %s under link a-b", name, r.Aliases, old)
		}
	}
}

// nSites is n sites with terminals, VPCs 10.i.0.0/16, for counting.
func nSites(n int) string {
	var sites []string
	for i := 0; i < n; i++ {
		sites = append(sites, fmt.Sprintf(`{"name":"s%02d","region":"eu-west-1","vpcCidr":"10.%d.0.0/16","vpnSubnetCidr":"10.%[2]d.0.0/24","terminalSubnetCidr":"10.%[2]d.1.0/24","vpnPrivateIp":"10.%[2]d.0.10","terminalPrivateIp":"10.%[2]d.1.40"}`, i, i))
	}
	return "[" + strings.Join(sites, ",") + "]"
}

// TestResourcesPerSite: the README's resource counts. A stack is 3
// resources, a site 25, a link 10 plus, per VPC a site reaches, a route and
// two terminal rules (or, with summaryCidr, 3 per site for all of them).
// A component that adds or drops a resource fails this until the README's
// numbers follow.
func TestResourcesPerSite(t *testing.T) {
	// A spoke that reaches others through the hub adds its transit check.
	// The stack: the Network component, the SSH key seed, the command and
	// random providers.
	const stack, site, link, perReached, summary, transitCheck = 4, 25, 10, 3, 3, 1
	for _, n := range []int{2, 4, 10} {
		for _, kind := range []string{"mesh", "hub", "hub+summary"} {
			cfg := map[string]string{"vpclink:sites": nSites(n)}
			links, reached := n*(n-1)/2, n*(n-1)
			want := stack + site*n + link*links + perReached*reached
			spokes := 0
			if n > 2 {
				spokes = n - 1
			}
			if kind != "mesh" {
				cfg["vpclink:hub"] = "s00"
				links = n - 1
				want = stack + site*n + link*links + perReached*reached + transitCheck*spokes
			}
			if kind == "hub+summary" {
				cfg["vpclink:summaryCidr"] = "10.0.0.0/12"
				want = stack + site*n + link*links + summary*n + transitCheck*spokes
			}
			res := mustEvaluate(t, cfg)
			if got := len(res.mon.Registrations()); got != want || len(res.config.Links) != links {
				t.Errorf("%d-site %s: %d resources, %d links; want %d, %d", n, kind, got, len(res.config.Links), want, links)
			}
		}
	}
}

// checkTransitChecks: with the post-deploy check on, each site that reaches
// others through the hub has one transit check, pinging exactly those
// sites (terminal, else VPN instance) from its terminal (else its VPN
// instance), after every setup on the way; no other site has one.
func checkTransitChecks(t *testing.T, res *result, sites []site, transit map[string][]site, onPath map[string][]string) {
	t.Helper()
	for _, s := range sites {
		cmd := res.mon.Find(tCommand, s.name+"-transit-check")
		if len(transit[s.name]) == 0 || !res.config.CheckEnabled() {
			if cmd != nil {
				t.Errorf("%s: a transit check where nothing is reached through the hub", s.name)
			}
			continue
		}
		if cmd == nil {
			t.Errorf("%s reaches %d sites through the hub and has no transit check", s.name, len(transit[s.name]))
			continue
		}
		src := s.vpnIP
		if s.terminal {
			src = s.termIP
		}
		var want []string
		for _, d := range transit[s.name] {
			dst := d.vpnIP
			if d.terminal {
				dst = d.termIP
			}
			want = append(want, src+" -> "+dst)
		}
		got := regexp.MustCompile(`# vpclink: post-deploy check, (\S+ -> \S+) through`).FindAllStringSubmatch(in(cmd, "create"), -1)
		var pings []string
		for _, m := range got {
			pings = append(pings, m[1])
		}
		if !reflect.DeepEqual(sorted(pings), sorted(want)) {
			t.Errorf("%s: pings %v, want %v", cmd.Name, pings, want)
		}
		deps := map[string]bool{}
		for _, dep := range cmd.Dependencies {
			if d := res.mon.ByURN(dep); d != nil && strings.HasSuffix(d.Name, "-setup") {
				deps[d.Name] = true
			}
		}
		for _, l := range onPath[s.name] {
			for _, cl := range res.config.Links {
				if cl.Name != l {
					continue
				}
				for _, e := range cl.Sites {
					if !deps[l+"-"+e+"-setup"] {
						t.Errorf("%s does not wait for %s-%s-setup", cmd.Name, l, e)
					}
				}
			}
		}
	}
}

// A hub without summaryCidr whose VPCs fit one network without tunnel
// addresses is told which summary would save how many resources; with it,
// or where none fits, nothing is said.
func TestSummarySuggestion(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  map[string]string
		want string
	}{
		"hub":               {hubWithSummary(), ""},
		"hub, no summary":   {func() map[string]string { c := hubWithSummary(); delete(c, "vpclink:summaryCidr"); return c }(), "vpclink:summaryCidr 10.0.0.0/12 covers every VPC and no tunnel address: with it, the sites' routes and terminal rules for other VPCs would be 10 instead of 30"},
		"no common network": {hubTopology(), ""},
	} {
		t.Run(name, func(t *testing.T) {
			engineConfig(t, tc.cfg)
			rec := &warnRecorder{mon: &mockaws.Monitor{}}
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				rec.Log = ctx.Log
				ctx.Log = rec
				return program(ctx)
			}, pulumi.WithMocks("vpclink", "test", rec.mon), withConfig(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(rec.infos, "\n")
			if tc.want == "" && strings.Contains(got, "summaryCidr") || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("infos %q, want %q", got, tc.want)
			}
		})
	}
}
