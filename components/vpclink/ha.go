package vpclink

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// High availability: a Site with SiteArgs.HighAvailability has a second
// VPN instance ("secondary", resource <site>-vpn2) in a subnet of its own
// (<site>-vpn2-subnet, on the site's route table), with its own Elastic IP
// and host key, in the VPN security group. A Link between two such sites
// adds a second tunnel between the secondaries (its own static key,
// identities, port and tunnel addresses). The routes for the peer's VPC
// start at the first ("primary") VPN instance; a monitor on both VPN
// instances (Site.Monitors, the systemd unit vpclink-monitor.service) moves
// them with ec2:ReplaceRoute, signed with the instance role's credentials
// from IMDSv2. The program ignores the target of those routes afterwards
// (ignoreChanges networkInterfaceId), so `pulumi up` never moves them back.

// haLink is what the monitors of a site need to know about one link with
// a second tunnel.
type haLink struct {
	name string
	// probe is the peer's first tunnel address; destinations the VPC
	// networks the link carries.
	probe        string
	destinations []string
	// after are the link's setups at this site (both tunnels) and its
	// probe route: the monitor starts after them.
	after []pulumi.Resource
}

// partition is the AWS partition of a region, for ARNs: aws-cn for China,
// aws-us-gov for GovCloud, aws-eusc for the European Sovereign Cloud, aws
// elsewhere (AWS General Reference, "Amazon Resource Names").
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// monitorAssumeRolePolicy lets EC2 instances take the monitor role.
const monitorAssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// MonitorPolicy is the monitor role's only policy, for the route table
// routeTableID of region: ec2:ReplaceRoute and ec2:CreateRoute on that table
// only, and ec2:DescribeRouteTables, which supports no resource-level
// permission ("Actions, resources, and condition keys for Amazon EC2",
// Service Authorization Reference).
func MonitorPolicy(region, routeTableID string) (string, error) {
	type statement struct {
		Effect   string `json:"Effect"`
		Action   any    `json:"Action"`
		Resource string `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", []statement{
		{"Allow", []string{"ec2:ReplaceRoute", "ec2:CreateRoute"},
			fmt.Sprintf("arn:%s:ec2:%s:*:route-table/%s", partition(region), region, routeTableID)},
		{"Allow", "ec2:DescribeRouteTables", "*"},
	}}
	b, err := json.Marshal(doc)
	return string(b), err
}

// monitorIdentity creates the site's monitor role, its policy and the
// instance profile both VPN instances use.
func (site *Site) monitorIdentity(ctx *pulumi.Context, name string, routeTable *ec2.RouteTable) (*iam.InstanceProfile, []pulumi.Resource, error) {
	region := site.Region
	role, err := iam.NewRole(ctx, name+"-monitor-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(monitorAssumeRolePolicy),
		Description:      pulumi.String(fmt.Sprintf("vpclink: the failover monitor of site %s moves its routes between its VPN instances", name)),
		Tags:             site.tagsFor(name + "-monitor-role"),
	}, site.with()...)
	if err != nil {
		return nil, nil, err
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-monitor-policy", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: routeTable.ID().ApplyT(func(id pulumi.ID) (string, error) {
			return MonitorPolicy(region, string(id))
		}).(pulumi.StringOutput),
	}, site.with()...)
	if err != nil {
		return nil, nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-monitor-profile", &iam.InstanceProfileArgs{
		Role: role.Name,
		Tags: site.tagsFor(name + "-monitor-profile"),
	}, site.with()...)
	if err != nil {
		return nil, nil, err
	}
	site.MonitorRoleArn = role.Arn
	return profile, []pulumi.Resource{role, policy, profile}, nil
}

// secondaryZone is the zone of the second VPN instance's subnet: the pinned
// one, checked like the first (it must offer the type), else the first
// zone in name order other than the first subnets' that offers the type,
// else the same zone (a region with one such zone).
func secondaryZone(first zoneChoice, pinned string) (zoneChoice, error) {
	z := zoneChoice{region: first.region, name: pinned, pinned: pinned != "", offered: first.offered}
	if len(first.offered) == 0 { // not known (minimal test mocks): AWS chooses
		return z, nil
	}
	if z.pinned {
		if !slices.Contains(first.offered, pinned) {
			return z, fmt.Errorf("is not an available zone of %s that offers the instance type (those that do: %s)", first.region, orNone(first.offered))
		}
		return z, nil
	}
	z.name = first.name
	for _, n := range first.offered {
		if n != first.name {
			z.name = n
			break
		}
	}
	return z, nil
}

// buildSecondary creates the second VPN instance's subnet, its association
// with the site's route table, the instance and its Elastic IP, and the
// view of the site the second tunnels use.
func (site *Site) buildSecondary(ctx *pulumi.Context, n *siteNetwork, g *siteGroups, spec instanceSpec, zone zoneChoice, sshAllowed []string) error {
	name, args := site.Name, site.haArgs
	subnetName := name + "-vpn2-subnet"
	subnetOpts := []pulumi.ResourceOption{pulumi.DeleteBeforeReplace(true)}
	if !zone.pinned {
		subnetOpts = append(subnetOpts, pulumi.IgnoreChanges([]string{"availabilityZone"}))
	}
	subnet, err := ec2.NewSubnet(ctx, subnetName, &ec2.SubnetArgs{
		VpcId:            n.vpc.ID(),
		CidrBlock:        pulumi.String(args.SecondaryVpnSubnetCidr),
		AvailabilityZone: zone.input(),
		Tags:             site.tagsFor(subnetName),
	}, site.with(subnetOpts...)...)
	if err != nil {
		return err
	}
	assoc, err := ec2.NewRouteTableAssociation(ctx, subnetName, &ec2.RouteTableAssociationArgs{
		SubnetId:     subnet.ID(),
		RouteTableId: n.routeTable.ID(),
	}, site.with()...)
	if err != nil {
		return err
	}
	spec.subnet, spec.zone, spec.privateIP = subnet, zone, args.SecondaryVpnPrivateIP
	vpn2, err := site.instance(ctx, name+"-vpn2", spec, n.igw, site.with())
	if err != nil {
		return err
	}
	site.SecondaryVpnInstanceID = vpn2.instance.ID().ToStringOutput()
	site.SecondaryVpnNetworkInterfaceID = vpn2.instance.PrimaryNetworkInterfaceId
	site.SecondaryVpnPrivateIP = vpn2.instance.PrivateIp
	site.SecondaryVpnPublicIP = vpn2.eip.PublicIp
	site.SecondaryVpnHostKey = vpn2.hostKey
	site.SecondaryAvailabilityZone = subnet.AvailabilityZone
	reachable := append([]pulumi.Resource{vpn2.eip, assoc}, append(n.reachable, g.vpnSSH...)...)
	site.secondary = &Site{
		Name: name, Region: site.Region, Provider: site.Provider, VpcCidr: site.VpcCidr,
		VpnPrivateIPAddress: args.SecondaryVpnPrivateIP,
		VpnInstanceID:       site.SecondaryVpnInstanceID, VpnNetworkInterfaceID: site.SecondaryVpnNetworkInterfaceID,
		VpnPrivateIP: site.SecondaryVpnPrivateIP, VpnPublicIP: site.SecondaryVpnPublicIP,
		VpnHostKey: site.SecondaryVpnHostKey, VpnSecurityGroupID: g.vpn.ID().ToStringOutput(),
		tags: site.tags, vpnReachable: reachable, vpnInstance: vpn2.instance,
		instanceType: site.instanceType, with: site.with,
	}
	site.secondary.vpnSSHHost = sshProbe(ctx, site, fmt.Sprintf("the second VPN instance of site %s", name), vpn2.eip.PublicIp, sshAllowed, reachable)
	return nil
}

// Monitors installs the failover monitor on both VPN instances of a site
// with high availability, for every link with a second tunnel that NewLink
// registered (none: nothing is created). Call it once, after every link of
// the site. ssh is how the program logs in (as for the links); opts are
// added to the two remote commands (e.g. pulumi.Provider for the command
// provider, which the site itself does not carry).
func (site *Site) Monitors(ctx *pulumi.Context, ssh SSHArgs, opts ...pulumi.ResourceOption) error {
	if !site.HighAvailability || len(site.haLinks) == 0 {
		return nil
	}
	if ssh.PrivateKey == nil {
		return fmt.Errorf("site %q: Monitors: SSH.PrivateKey is required", site.Name)
	}
	if ssh.User == "" {
		ssh.User = topology.DefaultSSHUser
	}
	var links []openvpn.MonitorLink
	var after []pulumi.Resource
	for _, l := range site.haLinks {
		links = append(links, openvpn.MonitorLink{Name: l.name, ProbeAddress: l.probe, Destinations: l.destinations})
		after = append(after, l.after...)
	}
	holdDown := site.haArgs.FailbackHoldDownSeconds
	if holdDown == 0 {
		holdDown = topology.DefaultFailbackHoldDownSeconds
	}
	teardown, err := openvpn.MonitorTeardownScript()
	if err != nil {
		return err
	}
	config := pulumi.All(site.RouteTableID, site.VpnNetworkInterfaceID, site.SecondaryVpnNetworkInterfaceID)
	render := func() pulumi.StringOutput {
		return config.ApplyT(func(v []any) (string, error) {
			m := openvpn.Monitor{
				Region: site.Region, RouteTableID: v[0].(string),
				PrimaryENI: v[1].(string), SecondaryENI: v[2].(string),
				HoldDownSeconds: holdDown, Links: links,
			}
			if m.RouteTableID == "" || m.PrimaryENI == "" || m.SecondaryENI == "" { // not reported (test mocks)
				return "", nil
			}
			s, err := openvpn.MonitorScript(m)
			return openvpn.Command("monitor", s), err
		}).(pulumi.StringOutput)
	}
	// Checked before anything is registered: a bad link fails here.
	if _, err := openvpn.MonitorScript(openvpn.Monitor{Region: site.Region, RouteTableID: "rtb-00000000", PrimaryENI: "eni-00000001", SecondaryENI: "eni-00000002", HoldDownSeconds: holdDown, Links: links}); err != nil {
		return fmt.Errorf("site %q: %w", site.Name, err)
	}
	for _, on := range []struct {
		suffix  string
		view    *Site
		primary bool
	}{{"vpn-monitor", site, true}, {"vpn2-monitor", site.secondary, false}} {
		deps := append(append(append([]pulumi.Resource{}, on.view.vpnReachable...), site.monitorDeps...), after...)
		if _, err := remote.NewCommand(ctx, site.Name+"-"+on.suffix, &remote.CommandArgs{
			Connection:             sshConnection(ssh, on.view.vpnSSHHost, on.view.VpnHostKey),
			AddPreviousOutputInEnv: noPreviousOutput,
			Create:                 render(),
			Delete:                 pulumi.String(openvpn.Command("monitor-teardown", teardown)),
			Triggers:               pulumi.Array{on.view.VpnInstanceID},
		}, append([]pulumi.ResourceOption{pulumi.Parent(site), pulumi.DependsOn(deps),
			pulumi.AdditionalSecretOutputs([]string{"stderr"}),
			pulumi.DeleteBeforeReplace(true),
			deletedWith(on.view.vpnInstance)}, opts...)...); err != nil {
			return err
		}
	}
	return nil
}

// linkHA reports whether a link between these sites gets a second tunnel.
func (a LinkArgs) linkHA() bool {
	return a.Sites[0].HighAvailability && a.Sites[1].HighAvailability && a.Sites[0].secondary != nil && a.Sites[1].secondary != nil
}

// secondaryLink registers the link's second tunnel (between the sites'
// second VPN instances) and, per end, the route that sends the peer's
// first tunnel address to the first VPN instance (the second instance's
// monitor probes the first tunnel through it), and tells both sites'
// monitors about the link.
func (link *Link) secondaryLink(ctx *pulumi.Context, a LinkArgs, parent pulumi.ResourceOption) error {
	b := a
	b.Sites = [2]*Site{a.Sites[0].secondary, a.Sites[1].secondary}
	b.Port, b.TunnelAddresses, b.Transit = a.SecondaryPort, a.SecondaryTunnelAddresses, [2][]*Site{}
	name := link.Name + "-secondary"
	sec := &Link{Name: name, Mode: a.Mode, owner: link}
	if err := sec.staticKey(ctx, parent); err != nil {
		return err
	}
	if err := sec.identities(ctx, b, parent); err != nil {
		return err
	}
	var ready []pulumi.Resource
	for i, site := range b.Sites {
		rule, err := b.tunnelRule(ctx, name, i, []pulumi.ResourceOption{parent, pulumi.Provider(site.Provider)})
		if err != nil {
			return err
		}
		ready = append(ready, rule)
		if err := sec.setup(ctx, b, i, parent); err != nil {
			return err
		}
	}
	if !a.SkipCheck {
		if err := sec.checks(ctx, b, ready); err != nil {
			return err
		}
	}
	for i, site := range a.Sites {
		probe := a.TunnelAddresses[1-i]
		route, err := ec2.NewRoute(ctx, fmt.Sprintf("%s-route-to-%s-tunnel", site.Name, link.Name), &ec2.RouteArgs{
			RouteTableId:         site.routeTable,
			DestinationCidrBlock: pulumi.String(probe + "/32"),
			NetworkInterfaceId:   site.VpnNetworkInterfaceID,
		}, site.with()...)
		if err != nil {
			return err
		}
		var dests []string
		for _, d := range a.reached(i) {
			dests = append(dests, d.VpcCidr)
		}
		site.haLinks = append(site.haLinks, haLink{
			name: link.Name, probe: probe, destinations: dests,
			after: []pulumi.Resource{link.Setups[i], sec.Setups[i], route},
		})
	}
	link.Secondary = sec
	return nil
}
