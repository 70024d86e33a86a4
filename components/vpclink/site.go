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
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens of the components.
const (
	SiteType = "vpclink:index:Site"
	LinkType = "vpclink:index:Link"
)

// Ubuntu 24.04 images are published by Canonical under this owner.
const (
	UbuntuOwner       = "099720109477"
	ubuntuNamePattern = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-%s-server-*"
)

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
	// AvailabilityZone optionally pins both subnets to one zone.
	AvailabilityZone string
	// InstanceType of both instances; default t3.micro. The image is chosen
	// for its architecture (x86_64 or arm64).
	InstanceType string
	// Ami pins the image; default the newest Ubuntu 24.04 of the region,
	// looked up once and then kept (later images do not replace instances).
	Ami string
	// SSHPublicKey is installed for the login user of both instances.
	SSHPublicKey pulumi.StringInput
	// SSHAllowedCIDRs may reach port 22; the program's own SSH setup must
	// come from one of them.
	SSHAllowedCIDRs []string
	// Tags are added to every resource that takes tags.
	Tags map[string]string
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

	// VpcID is the VPC's id.
	VpcID pulumi.StringOutput `pulumi:"vpcId"`
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
	// VpnSecurityGroupID and TerminalSecurityGroupID are the instances'
	// security groups; links add their rules to them.
	VpnSecurityGroupID      pulumi.StringOutput `pulumi:"vpnSecurityGroupId"`
	TerminalSecurityGroupID pulumi.StringOutput `pulumi:"terminalSecurityGroupId"`

	tags map[string]string
	// vpnReachable and terminalReachable are what SSH to each instance needs.
	vpnReachable, terminalReachable []pulumi.Resource
}

// NewSite creates a Site.
func NewSite(ctx *pulumi.Context, name string, args *SiteArgs, opts ...pulumi.ResourceOption) (*Site, error) {
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
	instanceType := args.InstanceType
	if instanceType == "" {
		instanceType = "t3.micro"
	}

	site := &Site{
		Name: name, Region: args.Region, VpcCidr: args.VpcCidr,
		VpnPrivateIPAddress: args.VpnPrivateIP, HasTerminal: !args.NoTerminal,
		tags: map[string]string{"vpclink:site": name, "ManagedBy": "pulumi-vpclink"},
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
	// Every AWS resource of the site: child of the component, on its provider.
	in := []pulumi.ResourceOption{pulumi.Parent(site), pulumi.Provider(prov)}
	with := func(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, in...), more...)
	}

	network, err := site.network(ctx, name, args, with)
	if err != nil {
		return nil, err
	}
	groups, err := site.securityGroups(ctx, name, args, network.vpc, with)
	if err != nil {
		return nil, err
	}

	keyPair, err := ec2.NewKeyPair(ctx, name+"-ssh", &ec2.KeyPairArgs{
		PublicKey: args.SSHPublicKey,
		Tags:      site.tagsFor(name + "-ssh"),
	}, with()...)
	if err != nil {
		return nil, err
	}

	ami := args.Ami
	var amiOpts []pulumi.ResourceOption
	if ami == "" {
		if ami, err = ubuntuAMI(ctx, instanceType, pulumi.Provider(prov)); err != nil {
			return nil, fmt.Errorf("site %q: %w", name, err)
		}
		// A newer image later must not replace a running VPN instance.
		amiOpts = append(amiOpts, pulumi.IgnoreChanges([]string{"ami"}))
	}

	vpn, err := site.instance(ctx, name+"-vpn", instanceSpec{
		ami: ami, instanceType: instanceType, subnet: network.vpnSubnet, privateIP: args.VpnPrivateIP,
		group: groups.vpn, keyName: keyPair.KeyName, forwards: true,
	}, network.igw, with(amiOpts...))
	if err != nil {
		return nil, err
	}
	site.VpnInstanceID = vpn.instance.ID().ToStringOutput()
	site.VpnNetworkInterfaceID = vpn.instance.PrimaryNetworkInterfaceId
	site.VpnPrivateIP = vpn.instance.PrivateIp
	site.VpnPublicIP = vpn.eip.PublicIp
	site.vpnReachable = append([]pulumi.Resource{vpn.eip}, append(network.reachable, groups.vpnSSH...)...)

	site.TerminalInstanceID = pulumi.String("").ToStringOutput()
	site.TerminalPrivateIP = pulumi.String("").ToStringOutput()
	site.TerminalPublicIP = pulumi.String("").ToStringOutput()
	if site.HasTerminal {
		term, err := site.instance(ctx, name+"-terminal", instanceSpec{
			ami: ami, instanceType: instanceType, subnet: network.terminalSubnet, privateIP: args.TerminalPrivateIP,
			group: groups.terminal, keyName: keyPair.KeyName, forwards: false,
		}, network.igw, with(amiOpts...))
		if err != nil {
			return nil, err
		}
		site.TerminalInstanceID = term.instance.ID().ToStringOutput()
		site.TerminalPrivateIP = term.instance.PrivateIp
		site.TerminalPublicIP = term.eip.PublicIp
		site.terminalReachable = append([]pulumi.Resource{term.eip}, append(network.reachable, groups.terminalSSH...)...)
	}

	site.VpcID = network.vpc.ID().ToStringOutput()
	site.RouteTableID = network.routeTable.ID().ToStringOutput()
	site.VpnSecurityGroupID = groups.vpn.ID().ToStringOutput()
	site.TerminalSecurityGroupID = groups.terminal.ID().ToStringOutput()

	if err := ctx.RegisterResourceOutputs(site, pulumi.Map{
		"vpcId":                   site.VpcID,
		"vpcCidr":                 pulumi.String(site.VpcCidr),
		"routeTableId":            site.RouteTableID,
		"vpnInstanceId":           site.VpnInstanceID,
		"vpnNetworkInterfaceId":   site.VpnNetworkInterfaceID,
		"vpnPrivateIp":            site.VpnPrivateIP,
		"vpnPublicIp":             site.VpnPublicIP,
		"terminalInstanceId":      site.TerminalInstanceID,
		"terminalPrivateIp":       site.TerminalPrivateIP,
		"terminalPublicIp":        site.TerminalPublicIP,
		"vpnSecurityGroupId":      site.VpnSecurityGroupID,
		"terminalSecurityGroupId": site.TerminalSecurityGroupID,
	}); err != nil {
		return nil, err
	}
	return site, nil
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
	// reachable is what makes an instance reachable from the internet.
	reachable []pulumi.Resource
}

// network builds the VPC, its internet gateway and the ONE route table that
// both public subnets share, with the default route to the gateway.
func (s *Site) network(ctx *pulumi.Context, name string, args *SiteArgs, with func(...pulumi.ResourceOption) []pulumi.ResourceOption) (*siteNetwork, error) {
	n := &siteNetwork{}
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
	var az pulumi.StringPtrInput
	if args.AvailabilityZone != "" {
		az = pulumi.String(args.AvailabilityZone)
	}
	for _, sub := range []struct {
		role, cidr string
		out        **ec2.Subnet
	}{{"vpn", args.VpnSubnetCidr, &n.vpnSubnet}, {"terminal", args.TerminalSubnetCidr, &n.terminalSubnet}} {
		subnetName := fmt.Sprintf("%s-%s-subnet", name, sub.role)
		subnet, err := ec2.NewSubnet(ctx, subnetName, &ec2.SubnetArgs{
			VpcId:            n.vpc.ID(),
			CidrBlock:        pulumi.String(sub.cidr),
			AvailabilityZone: az,
			Tags:             s.tagsFor(subnetName),
		}, with()...)
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
	subnet            *ec2.Subnet
	privateIP         string
	group             *ec2.SecurityGroup
	keyName           pulumi.StringInput
	// forwards turns off the source/destination check: a VPN instance routes
	// packets that are neither from nor to itself.
	forwards bool
}

type siteInstance struct {
	instance *ec2.Instance
	eip      *ec2.Eip
}

func (s *Site) instance(ctx *pulumi.Context, name string, spec instanceSpec, igw *ec2.InternetGateway, opts []pulumi.ResourceOption) (*siteInstance, error) {
	inst, err := ec2.NewInstance(ctx, name, &ec2.InstanceArgs{
		Ami:                 pulumi.String(spec.ami),
		InstanceType:        pulumi.String(spec.instanceType),
		SubnetId:            spec.subnet.ID(),
		PrivateIp:           pulumi.String(spec.privateIP),
		VpcSecurityGroupIds: pulumi.StringArray{spec.group.ID()},
		KeyName:             spec.keyName,
		SourceDestCheck:     pulumi.Bool(!spec.forwards),
		MetadataOptions: &ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
		},
		RootBlockDevice: &ec2.InstanceRootBlockDeviceArgs{
			Encrypted:  pulumi.Bool(true),
			VolumeType: pulumi.String("gp3"),
		},
		Tags: s.tagsFor(name),
	}, append(opts,
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
	return &siteInstance{instance: inst, eip: eip}, nil
}

// ubuntuAMI looks up the newest Ubuntu 24.04 image for the architecture of
// instanceType in the provider's region.
func ubuntuAMI(ctx *pulumi.Context, instanceType string, prov pulumi.InvokeOption) (string, error) {
	it, err := ec2.GetInstanceType(ctx, &ec2.GetInstanceTypeArgs{InstanceType: instanceType}, prov)
	if err != nil {
		return "", fmt.Errorf("instance type %q: %w", instanceType, err)
	}
	arch := ""
	if len(it.SupportedArchitectures) == 0 {
		arch = "amd64" // not reported (minimal test mocks): the common case
	}
	for _, a := range it.SupportedArchitectures {
		switch a {
		case "arm64":
			arch = "arm64"
		case "x86_64":
			if arch == "" {
				arch = "amd64"
			}
		}
	}
	if arch == "" {
		return "", fmt.Errorf("instance type %q supports none of x86_64, arm64 (%s)", instanceType, strings.Join(it.SupportedArchitectures, ", "))
	}
	awsArch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[arch]
	img, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Owners:     []string{UbuntuOwner},
		MostRecent: pulumi.BoolRef(true),
		Filters: []ec2.GetAmiFilter{
			{Name: "name", Values: []string{fmt.Sprintf(ubuntuNamePattern, arch)}},
			{Name: "architecture", Values: []string{awsArch}},
			{Name: "virtualization-type", Values: []string{"hvm"}},
			{Name: "root-device-type", Values: []string{"ebs"}},
		},
	}, prov)
	if err != nil {
		return "", fmt.Errorf("looking up Ubuntu 24.04 %s image: %w", arch, err)
	}
	return img.Id, nil
}
