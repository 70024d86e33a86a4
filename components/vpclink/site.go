// Package vpclink provides Pulumi component resources that join the private
// networks of Amazon VPCs in different regions with OpenVPN site-to-site
// tunnels on EC2 instances.
//
// A Site is one VPC with a VPN instance and an optional terminal; a Link
// joins two sites: it generates the static key, adds the cross routes and the
// tunnel's security group rules, configures OpenVPN on both VPN instances
// over SSH and, by default, proves the tunnel carries traffic with a ping.
//
//	a, _ := vpclink.NewSite(ctx, "a", &vpclink.SiteArgs{Region: "eu-west-1", ...})
//	b, _ := vpclink.NewSite(ctx, "b", &vpclink.SiteArgs{Region: "sa-east-1", ...})
//	link, _ := vpclink.NewLink(ctx, "a-b", &vpclink.LinkArgs{Sites: [2]*vpclink.Site{a, b}, ...})
//
// Every AWS resource goes through the site's own aws.Provider for its region;
// none uses the default provider.
package vpclink

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
	"github.com/vpclink/pulumi-vpc-openvpn/components/sshkey"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// Type tokens of the components.
const (
	SiteType = "vpclink:index:Site"
	LinkType = "vpclink:index:Link"
)

// UbuntuOwner is the AWS account under which Canonical publishes its Ubuntu
// images.
const UbuntuOwner = "099720109477"

// ubuntuImage is where the images of one image choice come from.
type ubuntuImage struct {
	// release names it in messages.
	release string
	// namePattern is Canonical's image name filter; %s is the Ubuntu
	// architecture (amd64 or arm64).
	namePattern string
}

// ubuntuImages are the images of each image choice (topology.OSes), by
// Canonical's naming, ubuntu/images/<virtualization>-<volume>/ubuntu-
// <code name>-<version>-<arch>-server-<serial>: the gp3 SSD server images.
// Every key of topology.OSes has one (tested).
var ubuntuImages = map[string]ubuntuImage{
	topology.OSUbuntu2404: {"Ubuntu 24.04", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-%s-server-*"},
	topology.OSUbuntu2604: {"Ubuntu 26.04", "ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-%s-server-*"},
}

// SiteArgs is the set of arguments for creating a Site component resource.
//
// Addresses are plain strings, not inputs: they are validated before anything
// is created and rendered into the OpenVPN configuration of the peer.
type SiteArgs struct {
	// Region is the AWS region of the site, e.g. "eu-west-1". Required.
	Region string
	// Provider is the AWS provider for Region. When nil the site creates its
	// own; when given, it must be configured for Region.
	Provider *aws.Provider
	// VpcCidr is the VPC's IPv4 network. Required.
	VpcCidr string
	// VpnSubnetCidr and TerminalSubnetCidr are the two public subnets.
	VpnSubnetCidr, TerminalSubnetCidr string
	// VpnPrivateIP and TerminalPrivateIP are the instances' fixed addresses.
	VpnPrivateIP, TerminalPrivateIP string
	// NoTerminal skips the terminal instance (its subnet is still created).
	NoTerminal bool
	// AvailabilityZone pins both subnets to one zone, e.g. "eu-west-1b"; it
	// must be an available zone of Region that offers InstanceType
	// (checked by PlanSite, from DescribeAvailabilityZones and
	// DescribeInstanceTypeOfferings). Default: the first such zone in name
	// order, chosen when the subnets are created and kept afterwards (not
	// AWS's own choice, which may be a zone without the type). Setting or
	// changing it replaces the subnets and instances, deleting first: AWS
	// refuses a second subnet with the same range.
	AvailabilityZone string
	// InstanceType of both instances; default topology.DefaultInstanceType
	// (t3.micro). The image is chosen
	// for its architecture (x86_64 or arm64).
	InstanceType string
	// Ami pins the image; it wins over OS, which is then ignored. Default:
	// the newest image of OS from Canonical for the architecture of
	// InstanceType, looked up when the instance is created and then kept (a
	// newer image does not replace it; a change between x86_64 and arm64
	// types replaces it with an image of the new architecture).
	Ami string
	// OS is the image choice when Ami is not set: "ubuntu-24.04" (default,
	// topology.DefaultOS: OpenVPN 2.6, what the lab and the walk-through
	// proved) or "ubuntu-26.04" (OpenVPN 2.7, a 7.0 kernel); see
	// topology.OSes. The images are Canonical's (owner UbuntuOwner), named
	// ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-<arch>-server-* and
	// ubuntu/images/hvm-ssd-gp3/ubuntu-resolute-26.04-<arch>-server-*, arch
	// amd64 or arm64. Changing it replaces both instances, deleting first,
	// with the newest image of the new choice (a replacement trigger: the
	// image itself is ignored in diffs). On an instance created before this
	// field existed, the first run records the choice without replacing;
	// a change takes effect from the run after.
	OS string
	// SSHPublicKey is installed for the login user of both instances.
	SSHPublicKey pulumi.StringInput
	// SSHAllowedCIDRs may reach port 22; the program's own SSH setup must
	// come from one of them.
	SSHAllowedCIDRs []string
	// Tags are added to every resource that takes tags.
	Tags map[string]string
	// SummaryCidr, optional, is one IPv4 network covering the VPCs this
	// site reaches (topology.Config.SummaryCidr): the site's route table
	// sends it to the VPN instance with one route, and the terminal admits
	// ICMP and traceroute from it, so Reach registers no route or terminal
	// rules for a network inside it. It must not contain the tunnel
	// addresses; "" (the default): a route and rules per reached VPC.
	SummaryCidr string
	// HighAvailability gives the site a second VPN instance (see ha.go):
	// in SecondaryVpnSubnetCidr at SecondaryVpnPrivateIP (both required with
	// it, validated by topology.Validate for the program), in
	// SecondaryAvailabilityZone (default: the first zone in name order,
	// other than the first subnets', that offers InstanceType; the same
	// zone when there is no other). Both VPN instances get the monitor's
	// instance profile. FailbackHoldDownSeconds is the monitor's hold-down
	// before the routes move back to the first instance (default
	// topology.DefaultFailbackHoldDownSeconds, 60).
	HighAvailability                              bool
	SecondaryVpnSubnetCidr, SecondaryVpnPrivateIP string
	SecondaryAvailabilityZone                     string
	FailbackHoldDownSeconds                       int
}

// Site is one VPC with two public subnets sharing one route table, a VPN
// instance and (optionally) a terminal instance, each with an Elastic IP.
type Site struct {
	pulumi.ResourceState

	// Name is the site's resource name.
	Name string
	// Region is the AWS region.
	Region string
	// Provider is the AWS provider every resource of the site uses.
	Provider *aws.Provider
	// VpcCidr, VpnPrivateIPAddress and TerminalPrivateIPAddress are the plain
	// addresses the site was created with.
	VpcCidr, VpnPrivateIPAddress, TerminalPrivateIPAddress string
	// HasTerminal reports whether the site has a terminal instance.
	HasTerminal bool
	// SummaryCidr is SiteArgs.SummaryCidr ("" when none).
	SummaryCidr string
	// HighAvailability is SiteArgs.HighAvailability.
	HighAvailability bool

	// VpcID is the VPC's id.
	VpcID pulumi.StringOutput `pulumi:"vpcId"`
	// AvailabilityZone is the zone both subnets are in, e.g. "eu-west-1a"
	// (see SiteArgs.AvailabilityZone for how it is chosen).
	AvailabilityZone pulumi.StringOutput `pulumi:"availabilityZone"`
	// RouteTableID is the one route table both subnets use.
	RouteTableID pulumi.StringOutput `pulumi:"routeTableId"`
	// VpnInstanceID is the VPN instance's id.
	VpnInstanceID pulumi.StringOutput `pulumi:"vpnInstanceId"`
	// VpnNetworkInterfaceID is the VPN instance's primary network interface,
	// the target of routes to peer networks.
	VpnNetworkInterfaceID pulumi.StringOutput `pulumi:"vpnNetworkInterfaceId"`
	// VpnPrivateIP and VpnPublicIP are the VPN instance's addresses.
	VpnPrivateIP pulumi.StringOutput `pulumi:"vpnPrivateIp"`
	VpnPublicIP  pulumi.StringOutput `pulumi:"vpnPublicIp"`
	// TerminalInstanceID, TerminalPrivateIP and TerminalPublicIP describe the
	// terminal; empty strings when the site has none.
	TerminalInstanceID pulumi.StringOutput `pulumi:"terminalInstanceId"`
	TerminalPrivateIP  pulumi.StringOutput `pulumi:"terminalPrivateIp"`
	TerminalPublicIP   pulumi.StringOutput `pulumi:"terminalPublicIp"`
	// VpnHostKey and TerminalHostKey are the instances' SSH host keys
	// ("ssh-ed25519 AAAA..."), generated by the program and installed by
	// cloud-init at first boot; every SSH connection of the program pins
	// them. TerminalHostKey is "" when the site has no terminal.
	VpnHostKey      pulumi.StringOutput `pulumi:"vpnHostKey"`
	TerminalHostKey pulumi.StringOutput `pulumi:"terminalHostKey"`
	// VpnSecurityGroupID and TerminalSecurityGroupID are the instances'
	// security groups; links add their rules to them.
	VpnSecurityGroupID      pulumi.StringOutput `pulumi:"vpnSecurityGroupId"`
	TerminalSecurityGroupID pulumi.StringOutput `pulumi:"terminalSecurityGroupId"`
	// The second VPN instance's id, primary network interface, addresses
	// and host key, and the monitor's role; empty strings without high
	// availability.
	SecondaryVpnInstanceID         pulumi.StringOutput `pulumi:"secondaryVpnInstanceId"`
	SecondaryVpnNetworkInterfaceID pulumi.StringOutput `pulumi:"secondaryVpnNetworkInterfaceId"`
	SecondaryVpnPrivateIP          pulumi.StringOutput `pulumi:"secondaryVpnPrivateIp"`
	SecondaryVpnPublicIP           pulumi.StringOutput `pulumi:"secondaryVpnPublicIp"`
	SecondaryVpnHostKey            pulumi.StringOutput `pulumi:"secondaryVpnHostKey"`
	SecondaryAvailabilityZone      pulumi.StringOutput `pulumi:"secondaryAvailabilityZone"`
	MonitorRoleArn                 pulumi.StringOutput `pulumi:"monitorRoleArn"`

	tags map[string]string
	// vpnReachable and terminalReachable are what SSH to each instance needs.
	vpnReachable, terminalReachable []pulumi.Resource
	// vpnSSHHost and terminalSSHHost are the public addresses the remote
	// steps log in to, released once probed (sshProbe).
	vpnSSHHost, terminalSSHHost pulumi.StringOutput
	// plan is PlanSite's, until Build.
	plan *sitePlan
	// instanceType is both instances' type.
	instanceType string
	// vpnInstance and terminalInstance (nil without a terminal): the remote
	// commands on an instance are deleted with it, without SSH.
	vpnInstance, terminalInstance pulumi.Resource
	// reached holds what Reach registered, by destination site name.
	reached map[string][]pulumi.Resource
	// routeTable and terminalGroup are what Reach adds to.
	routeTable    pulumi.StringOutput
	terminalGroup pulumi.StringOutput
	// with are the options of the site's AWS resources.
	with func(...pulumi.ResourceOption) []pulumi.ResourceOption
	// With high availability: haArgs are the arguments of the second
	// instance and the monitor; secondary is the view of the site the
	// second tunnels use (its VPN fields are the second instance's);
	// haLinks are the links with a second tunnel, for the monitors;
	// monitorDeps the monitor's IAM resources.
	haArgs      SiteArgs
	secondary   *Site
	haLinks     []haLink
	monitorDeps []pulumi.Resource
}

// InputError is a site input that the region's API refuses: Input is the
// SiteArgs field ("AvailabilityZone", "InstanceType"), Value the value as
// given.
type InputError struct {
	Site, Input, Value string
	Err                error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("site %q: %s = %q: %v", e.Site, e.Input, e.Value, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// NewSite creates a Site: PlanSite, then Build.
func NewSite(ctx *pulumi.Context, name string, args *SiteArgs, opts ...pulumi.ResourceOption) (*Site, error) {
	site, err := PlanSite(ctx, name, args, opts...)
	if err != nil {
		return nil, err
	}
	return site, site.Build(ctx)
}

// sitePlan is what PlanSite learnt and Build uses.
type sitePlan struct {
	args         SiteArgs
	instanceType string
	// arch is the instance type's AWS architecture; zone the subnets'.
	arch string
	zone zoneChoice
	// os is the image choice and newest the newest image of it for arch
	// (both "" when args.Ami pins one).
	os, newest string
	// zone2 is the second VPN instance's zone (high availability).
	zone2 zoneChoice
}

// PlanSite registers the Site component and its provider and asks the
// region's API what the site needs: the instance type's architecture,
// the zone (a pinned one is checked to exist and to offer the type) and
// the newest image. It creates no AWS resource, so a program that plans
// every site before building any refuses bad input with nothing created.
// Errors about an input are *InputError.
func PlanSite(ctx *pulumi.Context, name string, args *SiteArgs, opts ...pulumi.ResourceOption) (*Site, error) {
	if args == nil {
		args = &SiteArgs{}
	}
	if args.Region == "" || args.VpcCidr == "" || args.VpnSubnetCidr == "" || args.TerminalSubnetCidr == "" || args.VpnPrivateIP == "" {
		return nil, fmt.Errorf("site %q: Region, VpcCidr, both subnet CIDRs and VpnPrivateIP are required", name)
	}
	if !args.NoTerminal && args.TerminalPrivateIP == "" {
		return nil, fmt.Errorf("site %q: TerminalPrivateIP is required unless NoTerminal is set", name)
	}
	if args.SSHPublicKey == nil {
		return nil, fmt.Errorf("site %q: SSHPublicKey is required", name)
	}
	if args.SummaryCidr != "" {
		p, err := netip.ParsePrefix(args.SummaryCidr)
		if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() == 0 {
			return nil, &InputError{Site: name, Input: "SummaryCidr", Value: args.SummaryCidr, Err: fmt.Errorf("is not an IPv4 network (other than 0.0.0.0/0) such as 10.0.0.0/8")}
		}
	}
	instanceType := args.InstanceType
	if instanceType == "" {
		instanceType = topology.DefaultInstanceType
	}

	site := &Site{
		Name: name, Region: args.Region, VpcCidr: args.VpcCidr, SummaryCidr: args.SummaryCidr,
		VpnPrivateIPAddress: args.VpnPrivateIP, HasTerminal: !args.NoTerminal,
		HighAvailability: args.HighAvailability,
		tags:             map[string]string{"vpclink:site": name, "ManagedBy": "pulumi-vpclink"},
	}
	if site.HasTerminal {
		site.TerminalPrivateIPAddress = args.TerminalPrivateIP
	}
	for k, v := range args.Tags {
		site.tags[k] = v
	}
	if err := ctx.RegisterComponentResource(SiteType, name, site, opts...); err != nil {
		return nil, err
	}

	prov := args.Provider
	if prov == nil {
		var err error
		prov, err = aws.NewProvider(ctx, name, &aws.ProviderArgs{Region: pulumi.String(args.Region)}, pulumi.Parent(site))
		if err != nil {
			return nil, err
		}
	}
	site.Provider = prov
	plan := &sitePlan{args: *args, instanceType: instanceType}
	var err error
	if plan.arch, err = architecture(ctx, instanceType, pulumi.Provider(prov)); err != nil {
		return nil, &InputError{Site: name, Input: "InstanceType", Value: instanceType, Err: err}
	}
	if plan.zone, err = siteZone(ctx, args.Region, args.AvailabilityZone, instanceType, pulumi.Provider(prov)); err != nil {
		if args.AvailabilityZone == "" {
			return nil, &InputError{Site: name, Input: "InstanceType", Value: instanceType, Err: err}
		}
		return nil, &InputError{Site: name, Input: "AvailabilityZone", Value: args.AvailabilityZone, Err: err}
	}
	if args.HighAvailability {
		if args.SecondaryVpnSubnetCidr == "" || args.SecondaryVpnPrivateIP == "" {
			return nil, fmt.Errorf("site %q: SecondaryVpnSubnetCidr and SecondaryVpnPrivateIP are required with HighAvailability", name)
		}
		if plan.zone2, err = secondaryZone(plan.zone, args.SecondaryAvailabilityZone); err != nil {
			return nil, &InputError{Site: name, Input: "SecondaryAvailabilityZone", Value: args.SecondaryAvailabilityZone, Err: err}
		}
	}
	if args.Ami == "" {
		plan.os = args.OS
		if plan.os == "" {
			plan.os = topology.DefaultOS
		}
		image, ok := ubuntuImages[plan.os]
		if !ok {
			return nil, &InputError{Site: name, Input: "OS", Value: plan.os, Err: fmt.Errorf("is not an image choice (%s)", strings.Join(topology.OSes, ", "))}
		}
		if plan.newest, err = ubuntuAMI(ctx, image, plan.arch, pulumi.Provider(prov)); err != nil {
			return nil, fmt.Errorf("site %q: %w", name, err)
		}
	}
	site.plan, site.instanceType = plan, instanceType
	return site, nil
}

// Build creates the site's AWS resources as PlanSite planned them; once.
func (site *Site) Build(ctx *pulumi.Context) error {
	plan := site.plan
	if plan == nil {
		return fmt.Errorf("site %q: Build needs a site from PlanSite, built once", site.Name)
	}
	site.plan = nil
	name, args, prov, instanceType := site.Name, &plan.args, site.Provider, plan.instanceType
	// Every AWS resource of the site: child of the component, on its provider.
	in := []pulumi.ResourceOption{pulumi.Parent(site), pulumi.Provider(prov)}
	with := func(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, in...), more...)
	}

	network, err := site.network(ctx, name, args, plan.zone, with)
	if err != nil {
		return err
	}
	groups, err := site.securityGroups(ctx, name, args, network.vpc, with)
	if err != nil {
		return err
	}

	keyPair, err := ec2.NewKeyPair(ctx, name+"-ssh", &ec2.KeyPairArgs{
		PublicKey: args.SSHPublicKey,
		Tags:      site.tagsFor(name + "-ssh"),
	}, with()...)
	if err != nil {
		return err
	}

	// The image: pinned, else the newest for the type's architecture,
	// looked up once: a newer image later must not replace a running
	// instance, so the image is ignored in diffs. A change of architecture
	// still replaces the instances (the provider decides it from the
	// instance type), and Pulumi creates a replacement from the new inputs,
	// with the image for the new architecture: ignoreChanges is applied by
	// the provider's diff, not to the inputs of a Create. A change of the
	// image choice (os) must take effect too, but the provider sees no
	// change in an ignored image: the choice is the instance's replacement
	// trigger, which the engine compares with the one it recorded (none
	// recorded, as on an instance made before os existed: no replacement).
	ami := args.Ami
	var amiOpts []pulumi.ResourceOption
	if ami == "" {
		ami = plan.newest
		amiOpts = append(amiOpts, pulumi.IgnoreChanges([]string{"ami"}), pulumi.ReplacementTrigger(pulumi.String(plan.os)))
	}

	site.with, site.haArgs = with, *args
	// Empty without high availability (buildSecondary and monitorIdentity
	// set them with it).
	for _, o := range []*pulumi.StringOutput{&site.SecondaryVpnInstanceID, &site.SecondaryVpnNetworkInterfaceID,
		&site.SecondaryVpnPrivateIP, &site.SecondaryVpnPublicIP, &site.SecondaryVpnHostKey, &site.SecondaryAvailabilityZone, &site.MonitorRoleArn} {
		*o = pulumi.String("").ToStringOutput()
	}
	vpnSpec := instanceSpec{
		ami: ami, instanceType: instanceType, zone: network.zone,
		subnet: network.vpnSubnet, privateIP: args.VpnPrivateIP,
		group: groups.vpn, keyName: keyPair.KeyName, forwards: true,
		imageOpts: amiOpts,
	}
	if site.HighAvailability {
		profile, deps, err := site.monitorIdentity(ctx, name, network.routeTable)
		if err != nil {
			return err
		}
		vpnSpec.profile, site.monitorDeps = profile.Name, deps
	}
	vpn, err := site.instance(ctx, name+"-vpn", vpnSpec, network.igw, with())
	if err != nil {
		return err
	}
	site.VpnHostKey = vpn.hostKey
	site.VpnInstanceID = vpn.instance.ID().ToStringOutput()
	site.VpnNetworkInterfaceID = vpn.instance.PrimaryNetworkInterfaceId
	site.VpnPrivateIP = vpn.instance.PrivateIp
	site.VpnPublicIP = vpn.eip.PublicIp
	site.vpnReachable = append([]pulumi.Resource{vpn.eip}, append(network.reachable, groups.vpnSSH...)...)
	site.vpnSSHHost = sshProbe(ctx, site, fmt.Sprintf("the VPN instance of site %s", name), vpn.eip.PublicIp, args.SSHAllowedCIDRs, site.vpnReachable)
	site.vpnInstance = vpn.instance
	if site.HighAvailability {
		if err := site.buildSecondary(ctx, network, groups, vpnSpec, plan.zone2, args.SSHAllowedCIDRs); err != nil {
			return err
		}
	}

	site.TerminalInstanceID = pulumi.String("").ToStringOutput()
	site.TerminalPrivateIP = pulumi.String("").ToStringOutput()
	site.TerminalPublicIP = pulumi.String("").ToStringOutput()
	site.TerminalHostKey = pulumi.String("").ToStringOutput()
	if site.HasTerminal {
		term, err := site.instance(ctx, name+"-terminal", instanceSpec{
			ami: ami, instanceType: instanceType, zone: network.zone,
			subnet: network.terminalSubnet, privateIP: args.TerminalPrivateIP,
			group: groups.terminal, keyName: keyPair.KeyName, forwards: false,
			imageOpts: amiOpts,
		}, network.igw, with())
		if err != nil {
			return err
		}
		site.TerminalInstanceID = term.instance.ID().ToStringOutput()
		site.TerminalPrivateIP = term.instance.PrivateIp
		site.TerminalPublicIP = term.eip.PublicIp
		site.TerminalHostKey = term.hostKey
		site.terminalReachable = append([]pulumi.Resource{term.eip}, append(network.reachable, groups.terminalSSH...)...)
		site.terminalSSHHost = sshProbe(ctx, site, fmt.Sprintf("the terminal of site %s", name), term.eip.PublicIp, args.SSHAllowedCIDRs, site.terminalReachable)
		site.terminalInstance = term.instance
	}

	site.routeTable, site.terminalGroup = network.routeTable.ID().ToStringOutput(), groups.terminal.ID().ToStringOutput()
	if site.SummaryCidr != "" {
		if _, err := site.routeAndRules(ctx, name+"-summary-route", name+"-terminal-sg-%s-from-summary", site.SummaryCidr, "the sites of "+site.SummaryCidr, nil, false); err != nil {
			return err
		}
	}

	site.VpcID = network.vpc.ID().ToStringOutput()
	site.AvailabilityZone = network.vpnSubnet.AvailabilityZone
	site.RouteTableID = network.routeTable.ID().ToStringOutput()
	site.VpnSecurityGroupID = groups.vpn.ID().ToStringOutput()
	site.TerminalSecurityGroupID = groups.terminal.ID().ToStringOutput()

	outs := pulumi.Map{
		"vpcId":                   site.VpcID,
		"vpcCidr":                 pulumi.String(site.VpcCidr),
		"availabilityZone":        site.AvailabilityZone,
		"routeTableId":            site.RouteTableID,
		"vpnInstanceId":           site.VpnInstanceID,
		"vpnNetworkInterfaceId":   site.VpnNetworkInterfaceID,
		"vpnPrivateIp":            site.VpnPrivateIP,
		"vpnPublicIp":             site.VpnPublicIP,
		"terminalInstanceId":      site.TerminalInstanceID,
		"terminalPrivateIp":       site.TerminalPrivateIP,
		"terminalPublicIp":        site.TerminalPublicIP,
		"vpnHostKey":              site.VpnHostKey,
		"terminalHostKey":         site.TerminalHostKey,
		"vpnSecurityGroupId":      site.VpnSecurityGroupID,
		"terminalSecurityGroupId": site.TerminalSecurityGroupID,
	}
	if site.HighAvailability {
		// Only with high availability: a site without it keeps exactly
		// the outputs it had.
		outs["highAvailability"] = pulumi.Bool(true)
		outs["secondaryVpnInstanceId"] = site.SecondaryVpnInstanceID
		outs["secondaryVpnNetworkInterfaceId"] = site.SecondaryVpnNetworkInterfaceID
		outs["secondaryVpnPrivateIp"] = site.SecondaryVpnPrivateIP
		outs["secondaryVpnPublicIp"] = site.SecondaryVpnPublicIP
		outs["secondaryVpnHostKey"] = site.SecondaryVpnHostKey
		outs["secondaryAvailabilityZone"] = site.SecondaryAvailabilityZone
		outs["monitorRoleArn"] = site.MonitorRoleArn
	}
	if err := ctx.RegisterResourceOutputs(site, outs); err != nil {
		return err
	}
	return nil
}

// routeAndRules sends cidr to the VPN instance (route routeName) and, on a
// terminal, admits ICMP and traceroute from it (rules named ruleName with
// the protocol, "icmp" or "udp", for %s), described as coming from from.
// aliases are the route's and the two rules' earlier names, in that order
// (missing ones: none).
func (site *Site) routeAndRules(ctx *pulumi.Context, routeName, ruleName, cidr, from string, aliases [][]pulumi.Alias, monitored bool) ([]pulumi.Resource, error) {
	alias := func(n int) pulumi.ResourceOption {
		if n < len(aliases) {
			return pulumi.Aliases(aliases[n])
		}
		return pulumi.Composite()
	}
	routeOpts := []pulumi.ResourceOption{alias(0)}
	if monitored {
		// The failover monitor owns the target from creation on: `pulumi
		// up` must not move the route back while the first tunnel is down.
		routeOpts = append(routeOpts, pulumi.IgnoreChanges([]string{"networkInterfaceId"}))
	}
	route, err := ec2.NewRoute(ctx, routeName, &ec2.RouteArgs{
		RouteTableId:         site.routeTable,
		DestinationCidrBlock: pulumi.String(cidr),
		NetworkInterfaceId:   site.VpnNetworkInterfaceID,
	}, site.with(routeOpts...)...)
	if err != nil {
		return nil, err
	}
	out := []pulumi.Resource{route}
	if !site.HasTerminal {
		return out, nil
	}
	for n, r := range []ingress{
		{"", "ICMP from " + from, "icmp", -1, -1},
		{"", "traceroute from " + from, "udp", tracerouteFirstPort, tracerouteLastPort},
	} {
		rule, err := site.ingressRule(ctx, fmt.Sprintf(ruleName, r.protocol), site.terminalGroup, r, pulumi.String(cidr), site.with, alias(1+n))
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	return out, nil
}

// Reach makes the site send dest's VPC to its VPN instance and, on its
// terminal, admit ICMP and traceroute from it: a route in the route table
// ("<site>-route-to-<dest>") and two ingress rules
// ("<site>-terminal-sg-{icmp,udp}-from-site-<dest>"), children of the site,
// named after the destination and not after the link that carries it, so
// that a destination moving between a direct link and a hub keeps them (AWS
// refuses a second route to one destination, RouteAlreadyExists, and a
// second identical rule, InvalidPermission.Duplicate). Nothing is
// registered for what SummaryCidr covers. Once per destination: later
// calls return the resources of the first. aliases are the earlier names
// of the route and of the two rules, in that order (missing ones: none),
// so that a stack made before these names keeps its resources. Between two
// sites with high availability the route's target belongs to the failover
// monitor (ignored in diffs after creation).
func (site *Site) Reach(ctx *pulumi.Context, dest *Site, aliases ...[]pulumi.Alias) ([]pulumi.Resource, error) {
	if dest == nil || dest == site {
		return nil, fmt.Errorf("site %q: Reach needs another site", site.Name)
	}
	if site.with == nil {
		return nil, fmt.Errorf("site %q: Reach needs a built site (Build, or NewSite)", site.Name)
	}
	if done, ok := site.reached[dest.Name]; ok {
		return done, nil
	}
	var out []pulumi.Resource
	if !site.covers(dest.VpcCidr) {
		var err error
		out, err = site.routeAndRules(ctx, fmt.Sprintf("%s-route-to-%s", site.Name, dest.Name), site.Name+"-terminal-sg-%s-from-site-"+dest.Name, dest.VpcCidr, dest.Name, aliases,
			site.secondary != nil && dest.secondary != nil)
		if err != nil {
			return nil, err
		}
	}
	if site.reached == nil {
		site.reached = map[string][]pulumi.Resource{}
	}
	site.reached[dest.Name] = out
	return out, nil
}

// covers reports whether the site's summary route covers network cidr.
func (site *Site) covers(cidr string) bool {
	if site.SummaryCidr == "" {
		return false
	}
	s, err1 := netip.ParsePrefix(site.SummaryCidr)
	n, err2 := netip.ParsePrefix(cidr)
	return err1 == nil && err2 == nil && s.Bits() <= n.Bits() && s.Contains(n.Addr())
}

// tagsFor returns the site's tags plus a Name tag.
func (s *Site) tagsFor(name string) pulumi.StringMap {
	m := pulumi.StringMap{"Name": pulumi.String(name)}
	for k, v := range s.tags {
		m[k] = pulumi.String(v)
	}
	return m
}

type siteNetwork struct {
	vpc                       *ec2.Vpc
	igw                       *ec2.InternetGateway
	routeTable                *ec2.RouteTable
	vpnSubnet, terminalSubnet *ec2.Subnet
	zone                      zoneChoice
	// reachable is what makes an instance reachable from the internet.
	reachable []pulumi.Resource
}

// network builds the VPC, its internet gateway and the ONE route table that
// both public subnets share, with the default route to the gateway.
func (s *Site) network(ctx *pulumi.Context, name string, args *SiteArgs, zone zoneChoice, with func(...pulumi.ResourceOption) []pulumi.ResourceOption) (*siteNetwork, error) {
	n := &siteNetwork{zone: zone}
	var err error
	if n.vpc, err = ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(args.VpcCidr),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               s.tagsFor(name + "-vpc"),
	}, with()...); err != nil {
		return nil, err
	}
	if n.igw, err = ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: n.vpc.ID(),
		Tags:  s.tagsFor(name + "-igw"),
	}, with()...); err != nil {
		return nil, err
	}
	// Routes are separate resources so that links can add theirs to the table.
	if n.routeTable, err = ec2.NewRouteTable(ctx, name+"-rt", &ec2.RouteTableArgs{
		VpcId: n.vpc.ID(),
		Tags:  s.tagsFor(name + "-rt"),
	}, with()...); err != nil {
		return nil, err
	}
	defaultRoute, err := ec2.NewRoute(ctx, name+"-default-route", &ec2.RouteArgs{
		RouteTableId:         n.routeTable.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            n.igw.ID(),
	}, with()...)
	if err != nil {
		return nil, err
	}
	n.reachable = append(n.reachable, defaultRoute)
	subnetOpts := []pulumi.ResourceOption{
		// AWS refuses a second subnet whose range overlaps the first
		// (InvalidSubnet.Conflict), which a replacement in the same or an
		// overlapping range is; the instances in a replaced subnet are
		// replaced too, so creating first would save no downtime.
		pulumi.DeleteBeforeReplace(true),
	}
	if !zone.pinned {
		// The zone chosen at creation stays: a later change in the
		// region's offerings must not move the subnets.
		subnetOpts = append(subnetOpts, pulumi.IgnoreChanges([]string{"availabilityZone"}))
	}
	for _, sub := range []struct {
		role, cidr string
		out        **ec2.Subnet
	}{{"vpn", args.VpnSubnetCidr, &n.vpnSubnet}, {"terminal", args.TerminalSubnetCidr, &n.terminalSubnet}} {
		subnetName := fmt.Sprintf("%s-%s-subnet", name, sub.role)
		subnet, err := ec2.NewSubnet(ctx, subnetName, &ec2.SubnetArgs{
			VpcId:            n.vpc.ID(),
			CidrBlock:        pulumi.String(sub.cidr),
			AvailabilityZone: zone.input(),
			Tags:             s.tagsFor(subnetName),
		}, with(subnetOpts...)...)
		if err != nil {
			return nil, err
		}
		*sub.out = subnet
		assoc, err := ec2.NewRouteTableAssociation(ctx, subnetName, &ec2.RouteTableAssociationArgs{
			SubnetId:     subnet.ID(),
			RouteTableId: n.routeTable.ID(),
		}, with()...)
		if err != nil {
			return nil, err
		}
		n.reachable = append(n.reachable, assoc)
	}
	return n, nil
}

type siteGroups struct {
	vpn, terminal       *ec2.SecurityGroup
	vpnSSH, terminalSSH []pulumi.Resource
}

// securityGroups builds one group per role. Rules are separate resources so
// that links can add the tunnel's rules; the VPN group admits everything from
// its own VPC because it forwards that traffic into the tunnels.
func (s *Site) securityGroups(ctx *pulumi.Context, name string, args *SiteArgs, v *ec2.Vpc, with func(...pulumi.ResourceOption) []pulumi.ResourceOption) (*siteGroups, error) {
	g := &siteGroups{}
	var err error
	for _, role := range []struct {
		name, description string
		out               **ec2.SecurityGroup
		ssh               *[]pulumi.Resource
		fromVpc           ingress
	}{
		{"vpn", "vpclink VPN instance: SSH, tunnel, traffic to forward", &g.vpn, &g.vpnSSH,
			ingress{"from-vpc", "all traffic from the VPC (forwarded into tunnels)", "-1", 0, 0}},
		{"terminal", "vpclink terminal: SSH, ICMP", &g.terminal, &g.terminalSSH,
			ingress{"icmp-from-vpc", "ICMP from the VPC", "icmp", -1, -1}},
	} {
		groupName := fmt.Sprintf("%s-%s-sg", name, role.name)
		sg, err := ec2.NewSecurityGroup(ctx, groupName, &ec2.SecurityGroupArgs{
			VpcId:       v.ID(),
			Description: pulumi.String(role.description),
			Tags:        s.tagsFor(groupName),
		}, with()...)
		if err != nil {
			return nil, err
		}
		*role.out = sg
		for i, cidr := range args.SSHAllowedCIDRs {
			rule, err := s.ingressRule(ctx, fmt.Sprintf("%s-ssh-%d", groupName, i), sg.ID(),
				ingress{"", "SSH for administration and setup", "tcp", 22, 22}, pulumi.String(cidr), with)
			if err != nil {
				return nil, err
			}
			*role.ssh = append(*role.ssh, rule)
		}
		if _, err := s.ingressRule(ctx, groupName+"-"+role.fromVpc.suffix, sg.ID(), role.fromVpc, pulumi.String(args.VpcCidr), with); err != nil {
			return nil, err
		}
		// The provider removes AWS's implicit egress rule; restore it.
		if _, err = vpc.NewSecurityGroupEgressRule(ctx, groupName+"-egress", &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: sg.ID(),
			IpProtocol:      pulumi.String("-1"),
			CidrIpv4:        pulumi.String("0.0.0.0/0"),
			Description:     pulumi.String("all outbound"),
			Tags:            s.tagsFor(groupName + "-egress"),
		}, with()...); err != nil {
			return nil, err
		}
	}
	return g, err
}

// ingress describes one security group ingress rule, without its source.
type ingress struct {
	suffix, description, protocol string
	from, to                      int
}

func (s *Site) ingressRule(ctx *pulumi.Context, name string, group pulumi.StringInput, r ingress, cidr pulumi.StringInput, with func(...pulumi.ResourceOption) []pulumi.ResourceOption, more ...pulumi.ResourceOption) (*vpc.SecurityGroupIngressRule, error) {
	args := &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: group,
		IpProtocol:      pulumi.String(r.protocol),
		CidrIpv4:        cidr,
		Description:     pulumi.String(r.description),
		Tags:            s.tagsFor(name),
	}
	// AWS rejects ports on "all protocols" rules.
	if r.protocol != "-1" {
		args.FromPort = pulumi.Int(r.from)
		args.ToPort = pulumi.Int(r.to)
	}
	return vpc.NewSecurityGroupIngressRule(ctx, name, args, with(more...)...)
}

type instanceSpec struct {
	ami, instanceType string
	// zone is where the type is offered; subnet must be in one of them.
	zone      zoneChoice
	subnet    *ec2.Subnet
	privateIP string
	group     *ec2.SecurityGroup
	keyName   pulumi.StringInput
	// forwards turns off the source/destination check: a VPN instance routes
	// packets that are neither from nor to itself.
	forwards bool
	// imageOpts apply to the instance only (not its Elastic IP): how its
	// image is kept and what replaces it.
	imageOpts []pulumi.ResourceOption
	// profile is the instance profile's name (nil: none).
	profile pulumi.StringInput
}

type siteInstance struct {
	instance *ec2.Instance
	eip      *ec2.Eip
	// hostKey is the public SSH host key the instance presents.
	hostKey pulumi.StringOutput
}

// hostKeyUserData is the cloud-init user data that installs the instance's
// SSH host key at first boot and removes every other host key. It holds the
// private host key: the program passes it as a secret.
func hostKeyUserData(k sshkey.HostKey) string {
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(k.PrivateKeyOpenSSH), "\n", "\n    ")
	return "#cloud-config\n" +
		"# vpclink: this instance's SSH host key, generated by the Pulumi program, which pins it.\n" +
		"ssh_deletekeys: true\n" +
		"ssh_genkeytypes: [ed25519] # present from ssh_keys: nothing is generated\n" +
		"ssh_keys:\n" +
		"  ed25519_private: |\n" + indented + "\n" +
		"  ed25519_public: " + k.PublicKey + "\n"
}

func (s *Site) instance(ctx *pulumi.Context, name string, spec instanceSpec, igw *ec2.InternetGateway, opts []pulumi.ResourceOption) (*siteInstance, error) {
	// The host key comes from a secret random seed kept in the state (never
	// its plain value): the same on every run, so the user data never
	// changes by itself.
	seed, err := hexsecret.New(ctx, name+"-host-key", sshkey.SeedBytes, pulumi.Parent(s))
	if err != nil {
		return nil, err
	}
	derive := func(pick func(sshkey.HostKey) string) pulumi.StringOutput {
		return seed.ApplyT(func(h string) (string, error) {
			if h == "" { // not reported (minimal test mocks)
				return "", nil
			}
			k, err := sshkey.HostKeyFromSeed(h)
			return pick(k), err
		}).(pulumi.StringOutput)
	}
	userData := pulumi.ToSecret(derive(hostKeyUserData)).(pulumi.StringOutput)
	public := pulumi.Unsecret(derive(func(k sshkey.HostKey) string { return k.PublicKey })).(pulumi.StringOutput)
	inst, err := ec2.NewInstance(ctx, name, &ec2.InstanceArgs{
		UserData: userData,
		// cloud-init installs host keys at first boot only: a changed key
		// needs a new instance (a stop/start would keep the old key and
		// break the pin). The seed never changes, so neither does this.
		UserDataReplaceOnChange: pulumi.Bool(true),
		Ami:                     pulumi.String(spec.ami),
		InstanceType:            pulumi.String(spec.instanceType),
		SubnetId:                spec.zone.offering(spec.subnet, spec.instanceType),
		PrivateIp:               pulumi.String(spec.privateIP),
		VpcSecurityGroupIds:     pulumi.StringArray{spec.group.ID()},
		KeyName:                 spec.keyName,
		SourceDestCheck:         pulumi.Bool(!spec.forwards),
		IamInstanceProfile:      spec.profile,
		MetadataOptions: &ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
		},
		RootBlockDevice: &ec2.InstanceRootBlockDeviceArgs{
			Encrypted:  pulumi.Bool(true),
			VolumeType: pulumi.String("gp3"),
		},
		Tags: s.tagsFor(name),
	}, append(append(opts[:len(opts):len(opts)], spec.imageOpts...),
		// The fixed private IP cannot be held by two instances at once.
		pulumi.DeleteBeforeReplace(true))...)
	if err != nil {
		return nil, err
	}
	eip, err := ec2.NewEip(ctx, name+"-eip", &ec2.EipArgs{
		Domain:   pulumi.String("vpc"),
		Instance: inst.ID(),
		Tags:     s.tagsFor(name + "-eip"),
	}, append(opts[:len(opts):len(opts)],
		// An EIP associates only once the VPC has an internet gateway.
		pulumi.DependsOn([]pulumi.Resource{igw}))...)
	if err != nil {
		return nil, err
	}
	return &siteInstance{instance: inst, eip: eip, hostKey: public}, nil
}

// architecture returns the AWS architecture ("x86_64" or "arm64") of
// instanceType, from DescribeInstanceTypes; arm64 where a type supports
// both. An error names the type.
func architecture(ctx *pulumi.Context, instanceType string, prov pulumi.InvokeOption) (string, error) {
	it, err := ec2.GetInstanceType(ctx, &ec2.GetInstanceTypeArgs{InstanceType: instanceType}, prov)
	if err != nil {
		return "", fmt.Errorf("instance type %q: %w", instanceType, err)
	}
	if len(it.SupportedArchitectures) == 0 {
		return "x86_64", nil // not reported (minimal test mocks): the common case
	}
	arch := ""
	for _, a := range it.SupportedArchitectures {
		switch {
		case a == "arm64":
			arch = a
		case a == "x86_64" && arch == "":
			arch = a
		}
	}
	if arch == "" {
		return "", fmt.Errorf("instance type %q supports none of x86_64, arm64 (%s)", instanceType, strings.Join(it.SupportedArchitectures, ", "))
	}
	return arch, nil
}

// zoneChoice is the availability zone of a site's two subnets.
type zoneChoice struct {
	region, name string
	// pinned: the user chose it; else the program did, once.
	pinned bool
	// offered lists the region's available zones that offer the instance
	// type, sorted.
	offered []string
}

// input is the subnets' availabilityZone input: none when the zone is
// not known (minimal test mocks), so AWS chooses.
func (z zoneChoice) input() pulumi.StringPtrInput {
	if z.name == "" {
		return nil
	}
	return pulumi.String(z.name)
}

// siteZone checks a pinned zone against the region's available zones and
// the zones that offer instanceType (DescribeAvailabilityZones,
// DescribeInstanceTypeOfferings), or, with none pinned, chooses the first
// of those zones in name order. AWS's own choice, when a subnet names no
// zone, may be a zone that does not offer the type; the launch then fails.
func siteZone(ctx *pulumi.Context, region, pinned, instanceType string, prov pulumi.InvokeOption) (zoneChoice, error) {
	z := zoneChoice{region: region, name: pinned, pinned: pinned != ""}
	azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, prov)
	if err != nil {
		return z, fmt.Errorf("listing the availability zones of %s: %w", region, err)
	}
	offerings, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
		Filters:      []ec2.GetInstanceTypeOfferingsFilter{{Name: "instance-type", Values: []string{instanceType}}},
		LocationType: pulumi.StringRef("availability-zone"),
	}, prov)
	if err != nil {
		return z, fmt.Errorf("listing the zones of %s that offer %s: %w", region, instanceType, err)
	}
	if len(azs.Names) == 0 { // not reported (minimal test mocks): AWS chooses
		return z, nil
	}
	available := map[string]bool{}
	for _, n := range azs.Names {
		available[n] = true
	}
	for _, n := range offerings.Locations {
		if available[n] {
			z.offered = append(z.offered, n)
		}
	}
	slices.Sort(z.offered)
	switch {
	case z.pinned && !available[pinned]:
		return z, fmt.Errorf("is not an available zone of %s (available: %s)", region, orNone(slices.Sorted(slices.Values(azs.Names))))
	case z.pinned && !slices.Contains(z.offered, pinned):
		return z, fmt.Errorf("does not offer instance type %s (zones of %s that do: %s)", instanceType, region, orNone(z.offered))
	case len(z.offered) == 0:
		return z, fmt.Errorf("no available zone of %s offers it", region)
	case !z.pinned:
		z.name = z.offered[0]
	}
	return z, nil
}

// offering is the subnet's id once its zone (the one it has, which for a
// program-chosen zone may predate this run) is known to offer instanceType:
// the instance waits for it, so a type the zone lacks fails the preview
// instead of the launch.
func (z zoneChoice) offering(subnet *ec2.Subnet, instanceType string) pulumi.StringOutput {
	return pulumi.All(subnet.ID(), subnet.AvailabilityZone).ApplyT(func(v []any) (string, error) {
		id, zone := string(v[0].(pulumi.ID)), v[1].(string)
		if zone == "" || len(z.offered) == 0 || slices.Contains(z.offered, zone) {
			return id, nil
		}
		return "", fmt.Errorf("instance type %s is not offered in %s, the zone of subnet %s (zones of %s that offer it: %s): choose another type, or pin availabilityZone to one of those zones (this replaces the subnets and instances)",
			instanceType, zone, id, z.region, orNone(z.offered))
	}).(pulumi.StringOutput)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ubuntuAMI looks up the newest image of an image choice for the AWS
// architecture arch ("x86_64" or "arm64") in the provider's region.
func ubuntuAMI(ctx *pulumi.Context, image ubuntuImage, arch string, prov pulumi.InvokeOption) (string, error) {
	name := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[arch]
	img, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Owners:     []string{UbuntuOwner},
		MostRecent: pulumi.BoolRef(true),
		Filters: []ec2.GetAmiFilter{
			{Name: "name", Values: []string{fmt.Sprintf(image.namePattern, name)}},
			{Name: "architecture", Values: []string{arch}},
			{Name: "virtualization-type", Values: []string{"hvm"}},
			{Name: "root-device-type", Values: []string{"ebs"}},
		},
	}, prov)
	if err != nil {
		return "", fmt.Errorf("looking up %s %s image: %w", image.release, name, err)
	}
	return img.Id, nil
}
