package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	tRole       = "aws:iam/role:Role"
	tRolePolicy = "aws:iam/rolePolicy:RolePolicy"
	tProfile    = "aws:iam/instanceProfile:InstanceProfile"
)

// haResourcesPerSite and haResourcesPerLink are what high availability adds:
// per site the second VPN instance's subnet, association, instance, Elastic
// IP and host-key seed, the monitor's role, policy and instance profile,
// and a monitor on each VPN instance; per link with a second tunnel its
// static key, two identities, two tunnel rules, two setups, two checks and
// the two probe routes.
const haResourcesPerSite, haResourcesPerLink = 10, 11

// TestHighAvailability: what vpclink:highAvailability builds, wired as the
// monitor and the second tunnel need it.
func TestHighAvailability(t *testing.T) {
	cfg := loadStack(t, "testdata/Pulumi.lab-ha.yaml")
	res := mustEvaluate(t, cfg)
	checkInvariants(t, res, sitesOf(t, cfg), []string{"0.0.0.0/0"})
	text := func(pm resource.PropertyMap, k string) string {
		v := pm[resource.PropertyKey(k)]
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		if v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	byName := func(token, name string) resource.PropertyMap {
		t.Helper()
		r := res.mon.Find(token, name)
		if r == nil {
			t.Fatalf("no %s %s", token, name)
		}
		return r.Inputs
	}
	enis := map[string]string{}
	for _, s := range []struct{ name, peer, region, table, zone1 string }{{"a", "b", "eu-west-1", "", ""}, {"b", "a", "sa-east-1", "", ""}} {
		// Both VPN instances carry the monitor's profile and require IMDSv2.
		profile := res.mon.Find(tProfile, s.name+"-monitor-profile")
		role := res.mon.Find(tRole, s.name+"-monitor-role")
		policy := res.mon.Find(tRolePolicy, s.name+"-monitor-policy")
		if profile == nil || role == nil || policy == nil {
			t.Fatalf("%s: monitor IAM missing: %v %v %v", s.name, profile, role, policy)
		}
		if !strings.Contains(text(role.Inputs, "assumeRolePolicy"), `"Service":"ec2.amazonaws.com"`) {
			t.Errorf("%s: role trust policy %s", s.name, text(role.Inputs, "assumeRolePolicy"))
		}
		table := res.mon.Find(tRouteTable, s.name+"-rt").ID
		var doc struct {
			Statement []struct {
				Effect   string
				Action   any
				Resource string
			}
		}
		if err := json.Unmarshal([]byte(text(policy.Inputs, "policy")), &doc); err != nil {
			t.Fatalf("%s: policy %v", s.name, err)
		}
		var resources []string
		for _, st := range doc.Statement {
			resources = append(resources, fmt.Sprint(st.Effect, " ", st.Action, " ", st.Resource))
		}
		want := []string{
			fmt.Sprintf("Allow [ec2:ReplaceRoute ec2:CreateRoute] arn:aws:ec2:%s:*:route-table/%s", s.region, table),
			"Allow ec2:DescribeRouteTables *",
		}
		if !slices.Equal(resources, want) {
			t.Errorf("%s: policy statements %q, want %q (least privilege: the site's own table only)", s.name, resources, want)
		}
		zones := map[string]string{}
		for _, inst := range []string{s.name + "-vpn", s.name + "-vpn2"} {
			i := res.mon.Find(tInstance, inst)
			if i == nil {
				t.Fatalf("no instance %s", inst)
			}
			if got := text(i.Inputs, "iamInstanceProfile"); got == "" || got != text(profile.Outputs, "name") {
				t.Errorf("%s: iamInstanceProfile %q, want the profile's name %q", inst, got, text(profile.Outputs, "name"))
			}
			md := i.Inputs["metadataOptions"]
			if !md.IsObject() || text(md.ObjectValue(), "httpTokens") != "required" {
				t.Errorf("%s: metadataOptions %v, want httpTokens required", inst, md)
			}
			if text(i.Inputs, "sourceDestCheck") == "true" || i.Inputs["sourceDestCheck"].IsBool() && i.Inputs["sourceDestCheck"].BoolValue() {
				t.Errorf("%s: source/destination check on", inst)
			}
			enis[inst] = text(i.Outputs, "primaryNetworkInterfaceId")
			subnet := byID(res.mon, text(i.Inputs, "subnetId"))
			if subnet != nil {
				zones[inst] = text(subnet.Inputs, "availabilityZone")
			}
		}
		if sn := byName(tSubnet, s.name+"-vpn2-subnet"); text(sn, "cidrBlock") == "" {
			t.Errorf("%s: second subnet has no CIDR", s.name)
		}
		if res.mon.Find(tAssoc, s.name+"-vpn2-subnet") == nil {
			t.Errorf("%s: the second subnet does not use the site's route table", s.name)
		}
		// The route to the peer is the monitor's: ignored after creation.
		route := res.mon.Find(tRoute, s.name+"-route-to-"+s.peer)
		if route == nil || !slices.Contains(route.IgnoreChanges, "networkInterfaceId") || text(route.Inputs, "networkInterfaceId") != enis[s.name+"-vpn"] {
			t.Errorf("%s: route to %s: %+v, want the first instance's ENI %s with networkInterfaceId ignored", s.name, s.peer, route, enis[s.name+"-vpn"])
		}
		// The probe route: the peer's first tunnel address via the first
		// instance, for the second instance's probes.
		probe := res.mon.Find(tRoute, s.name+"-route-to-a-b-tunnel")
		peerTunnel := map[string]string{"a": "10.254.0.2/32", "b": "10.254.0.1/32"}[s.name]
		if probe == nil || text(probe.Inputs, "destinationCidrBlock") != peerTunnel || text(probe.Inputs, "networkInterfaceId") != enis[s.name+"-vpn"] || len(probe.IgnoreChanges) != 0 {
			t.Errorf("%s: probe route %+v, want %s -> %s", s.name, probe, peerTunnel, enis[s.name+"-vpn"])
		}
		// One monitor per VPN instance.
		for _, m := range []string{s.name + "-vpn-monitor", s.name + "-vpn2-monitor"} {
			cmd := res.mon.Find(tCommand, m)
			if cmd == nil {
				t.Errorf("no monitor %s", m)
				continue
			}
			create := text(cmd.Inputs, "create")
			for _, want := range []string{table, enis[s.name+"-vpn"], enis[s.name+"-vpn2"], "10.254.0." + map[string]string{"a": "2", "b": "1"}[s.name], map[string]string{"a": "10.1.0.0/16", "b": "10.0.0.0/16"}[s.name]} {
				if !strings.Contains(create, want) {
					t.Errorf("%s: the monitor's setup lacks %q", m, want)
				}
			}
		}
	}
	// The second tunnel: between the second instances, its own port and
	// addresses, each end pinning the other's EIP.
	for i, site := range []string{"a", "b"} {
		setup := res.mon.Find(tCommand, "a-b-secondary-"+site+"-setup")
		if setup == nil {
			t.Fatalf("no second tunnel setup at %s", site)
		}
		conf := configOf(t, setup)
		peer := []string{"b", "a"}[i]
		d := directives(conf)
		if !slices.Equal(d["port"], []string{"1294"}) && !slices.Equal(d["lport"], []string{"1294"}) {
			t.Errorf("%s: second tunnel port %v %v, want 1294", site, d["port"], d["lport"])
		}
		wantIfconfig := map[string]string{"a": "10.254.0.129 10.254.0.130", "b": "10.254.0.130 10.254.0.129"}[site]
		if strings.Join(d["ifconfig"], " ") != wantIfconfig {
			t.Errorf("%s: second tunnel ifconfig %v, want %s", site, d["ifconfig"], wantIfconfig)
		}
		peerEIP := text(res.mon.Find(tEip, peer+"-vpn2-eip").Outputs, "publicIp")
		if peerEIP == "" || !slices.ContainsFunc(d["remote"], func(r string) bool { return strings.HasPrefix(r, peerEIP) }) {
			t.Errorf("%s: second tunnel remote %v, want the peer's second EIP %s", site, d["remote"], peerEIP)
		}
	}
	if n := len(res.mon.ByType(tRole)); n != 2 {
		t.Errorf("%d roles, want one per site", n)
	}
}

// TestHighAvailabilityOff: without it, nothing of it is registered.
func TestHighAvailabilityOff(t *testing.T) {
	res := mustEvaluate(t, loadStack(t, "Pulumi.dev.yaml"))
	for _, token := range []string{tRole, tRolePolicy, tProfile} {
		if n := len(res.mon.ByType(token)); n != 0 {
			t.Errorf("%d %s without high availability", n, token)
		}
	}
	for _, r := range res.mon.Registrations() {
		if strings.Contains(r.Name, "vpn2") || strings.Contains(r.Name, "secondary") || strings.Contains(r.Name, "monitor") {
			t.Errorf("%s registered without high availability", r.Name)
		}
		if r.Type == tInstance && !r.Inputs["iamInstanceProfile"].IsNull() {
			t.Errorf("%s has an instance profile without high availability", r.Name)
		}
		if r.Type == tRoute && len(r.IgnoreChanges) != 0 {
			t.Errorf("%s ignores %v without high availability", r.Name, r.IgnoreChanges)
		}
	}
}

// TestHighAvailabilityResourceCounts keeps haResourcesPerSite and
// haResourcesPerLink (and the README) equal to what the program registers.
func TestHighAvailabilityResourceCounts(t *testing.T) {
	cfg := loadStack(t, "testdata/Pulumi.lab-ha.yaml")
	on := len(mustEvaluate(t, cfg).mon.Registrations())
	cfg["vpclink:highAvailability"] = "false"
	var sites []map[string]any
	if err := json.Unmarshal([]byte(cfg["vpclink:sites"]), &sites); err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		delete(s, "secondaryVpnSubnetCidr")
		delete(s, "secondaryVpnPrivateIp")
	}
	b, _ := json.Marshal(sites)
	cfg["vpclink:sites"] = string(b)
	off := len(mustEvaluate(t, cfg).mon.Registrations())
	if on-off != 2*haResourcesPerSite+haResourcesPerLink {
		t.Errorf("high availability adds %d resources to 2 sites and 1 link, want %d", on-off, 2*haResourcesPerSite+haResourcesPerLink)
	}
}

// haSubnets is the number of subnets high availability adds to a site.
func haSubnets(res *result, site string) int {
	for i, s := range res.config.Sites {
		if s.Name == site && res.config.SiteHA(i) {
			return 1
		}
	}
	return 0
}

// haLink is a link with a second tunnel as one of its sites sees it.
type haLink struct {
	peer  string
	probe string // the peer's first tunnel address
	port  int    // the second tunnel's port
}

// haLinksOf lists the links with a second tunnel at site.
func haLinksOf(res *result, site string) []haLink {
	var out []haLink
	for k, l := range res.config.Links {
		if !res.config.LinkHA(k) {
			continue
		}
		for e, s := range l.Sites {
			if s == site {
				out = append(out, haLink{l.Sites[1-e], l.TunnelAddresses[1-e], l.SecondaryPort})
			}
		}
	}
	return out
}
