package vpclink

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

// Traceroute's default UDP probe ports: terminals answer them from peer
// networks so that `traceroute` shows its last hop.
const (
	tracerouteFirstPort = 33434
	tracerouteLastPort  = 33534
)

// SSH dial limits for the remote setup: a new instance takes a minute or two
// before sshd answers.
const (
	sshDialErrorLimit = 40
	sshPerDialTimeout = 15
)

// SSHArgs is how the program logs in to the instances.
type SSHArgs struct {
	// User is the image's login user (ubuntu on Ubuntu). Default "ubuntu".
	User string
	// PrivateKey matches the sites' SSHPublicKey. Keep it secret.
	PrivateKey pulumi.StringInput
}

// LinkArgs is the set of arguments for creating a Link component resource.
type LinkArgs struct {
	// Sites are the two ends. The first uses key direction 0.
	Sites [2]*Site
	// Port is the UDP port of the tunnel on both VPN instances. Default 1194.
	Port int
	// TunnelAddresses are the point-to-point addresses of the two ends, in
	// the order of Sites. Default 10.254.0.1 and 10.254.0.2.
	TunnelAddresses [2]string
	// MTU of the tunnel interface. Default 1400.
	MTU int
	// SSH is how the setup logs in to the VPN instances (and the check to the
	// terminals). Required.
	SSH SSHArgs
	// SkipCheck turns off the post-deploy ping between the two sites.
	SkipCheck bool
}

// Link is an OpenVPN point-to-point tunnel between the VPN instances of two
// sites, with the routes and security group rules that make it carry the
// sites' private traffic.
type Link struct {
	pulumi.ResourceState

	// Name is the link's resource name; it also names files on the hosts.
	Name string
	// StaticKey is the shared OpenVPN static key (V1 format). Secret.
	StaticKey pulumi.StringOutput
	// Configs are the rendered OpenVPN configurations of the two ends.
	Configs [2]pulumi.StringOutput
	// Setups are the remote commands that configure the two ends.
	Setups [2]*remote.Command
	// Checks are the post-deploy pings from each end to the other (nil when
	// skipped); CheckResults holds their summary lines.
	Checks       [2]*remote.Command
	CheckResults pulumi.StringArrayOutput `pulumi:"checkResults"`
}

// NewLink creates a Link.
func NewLink(ctx *pulumi.Context, name string, args *LinkArgs, opts ...pulumi.ResourceOption) (*Link, error) {
	if args == nil {
		args = &LinkArgs{}
	}
	a := *args
	if a.Sites[0] == nil || a.Sites[1] == nil || a.Sites[0] == a.Sites[1] {
		return nil, fmt.Errorf("link %q: needs two different sites", name)
	}
	if a.SSH.PrivateKey == nil {
		return nil, fmt.Errorf("link %q: SSH.PrivateKey is required", name)
	}
	if a.SSH.User == "" {
		a.SSH.User = "ubuntu"
	}
	if a.Port == 0 {
		a.Port = 1194
	}
	if a.TunnelAddresses == [2]string{} {
		a.TunnelAddresses = [2]string{"10.254.0.1", "10.254.0.2"}
	}
	if a.MTU == 0 {
		a.MTU = 1400
	}
	// Fail before registering anything when the ends cannot be rendered.
	for i := range a.Sites {
		if _, err := openvpn.SetupScript(a.tunnel(name, i, "192.0.2.1")); err != nil {
			return nil, fmt.Errorf("link %q: %w", name, err)
		}
	}

	link := &Link{Name: name}
	if err := ctx.RegisterComponentResource(LinkType, name, link, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(link)

	// One 2048-bit key, identical on both ends; the key directions differ.
	raw, err := random.NewRandomBytes(ctx, name+"-static-key", &random.RandomBytesArgs{
		Length: pulumi.Int(openvpn.StaticKeyBytes),
	}, parent)
	if err != nil {
		return nil, err
	}
	link.StaticKey = pulumi.ToSecret(raw.Hex.ApplyT(func(h string) (string, error) {
		if h == "" { // not reported (minimal test mocks): nothing to format
			return "", nil
		}
		return openvpn.FormatStaticKey(h)
	})).(pulumi.StringOutput)

	var ready [2][]pulumi.Resource
	for i, site := range a.Sites {
		peer := a.Sites[1-i]
		siteOpts := []pulumi.ResourceOption{parent, pulumi.Provider(site.Provider)}
		prefix := fmt.Sprintf("%s-%s", name, site.Name)

		// Traffic for the peer VPC goes to this site's VPN instance.
		route, err := ec2.NewRoute(ctx, prefix+"-route", &ec2.RouteArgs{
			RouteTableId:         site.RouteTableID,
			DestinationCidrBlock: pulumi.String(peer.VpcCidr),
			NetworkInterfaceId:   site.VpnNetworkInterfaceID,
		}, siteOpts...)
		if err != nil {
			return nil, err
		}
		ready[i] = append(ready[i], route)

		with := func(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
			return append(append([]pulumi.ResourceOption{}, siteOpts...), more...)
		}
		// The tunnel port admits the peer VPN instance only.
		tunnelRule, err := site.ingressRule(ctx, prefix+"-tunnel", site.VpnSecurityGroupID,
			ingress{"", fmt.Sprintf("OpenVPN link %s from the peer VPN instance", name), "udp", a.Port, a.Port},
			peer.VpnPublicIP.ApplyT(func(ip string) string { return ip + "/32" }).(pulumi.StringOutput), with)
		if err != nil {
			return nil, err
		}
		ready[i] = append(ready[i], tunnelRule)
		if site.HasTerminal {
			for _, r := range []ingress{
				{"", fmt.Sprintf("ICMP from %s over link %s", peer.Name, name), "icmp", -1, -1},
				{"", fmt.Sprintf("traceroute from %s over link %s", peer.Name, name), "udp", tracerouteFirstPort, tracerouteLastPort},
			} {
				rule, err := site.ingressRule(ctx, fmt.Sprintf("%s-%s-from-peer", prefix, r.protocol), site.TerminalSecurityGroupID, r, pulumi.String(peer.VpcCidr), with)
				if err != nil {
					return nil, err
				}
				ready[i] = append(ready[i], rule)
			}
		}

		// The configuration needs only the peer's EIP, never the peer's setup:
		// the two regions are configured in parallel.
		i := i
		link.Configs[i] = peer.VpnPublicIP.ApplyT(func(ip string) (string, error) {
			if ip == "" { // not reported (minimal test mocks); AWS always does
				return "", nil
			}
			return openvpn.RenderConfig(a.tunnel(name, i, ip))
		}).(pulumi.StringOutput)
		create := peer.VpnPublicIP.ApplyT(func(ip string) (string, error) {
			if ip == "" {
				return "", nil
			}
			script, err := openvpn.SetupScript(a.tunnel(name, i, ip))
			return openvpn.Command("setup", script), err
		}).(pulumi.StringOutput)
		teardown, err := openvpn.TeardownScript(a.tunnel(name, i, "192.0.2.1"))
		if err != nil {
			return nil, err
		}
		link.Setups[i], err = remote.NewCommand(ctx, prefix+"-setup", &remote.CommandArgs{
			Connection: a.connection(site.VpnPublicIP),
			Create:     create,
			Delete:     pulumi.String(openvpn.Command("teardown", teardown)),
			// The key travels on standard input: never on a command line,
			// so never in an error message or a process listing.
			Stdin: link.StaticKey,
			// A replaced instance needs its own setup.
			Triggers: pulumi.Array{site.VpnInstanceID},
		}, parent,
			pulumi.DependsOn(site.vpnReachable),
			pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}),
			// The EIP moves to a replacement: tear down before setting up again.
			pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, err
		}
	}

	link.CheckResults = pulumi.StringArray{}.ToStringArrayOutput()
	if !a.SkipCheck {
		var results pulumi.StringArray
		for i, site := range a.Sites {
			check, err := a.check(ctx, name, link, i, append(ready[0], ready[1]...))
			if err != nil {
				return nil, fmt.Errorf("link %q: check from %s: %w", name, site.Name, err)
			}
			link.Checks[i] = check
			results = append(results, check.Stdout)
		}
		link.CheckResults = results.ToStringArrayOutput()
	}

	if err := ctx.RegisterResourceOutputs(link, pulumi.Map{
		"sites":           pulumi.StringArray{pulumi.String(a.Sites[0].Name), pulumi.String(a.Sites[1].Name)},
		"port":            pulumi.Int(a.Port),
		"tunnelAddresses": pulumi.StringArray{pulumi.String(a.TunnelAddresses[0]), pulumi.String(a.TunnelAddresses[1])},
		"checkResults":    link.CheckResults,
	}); err != nil {
		return nil, err
	}
	return link, nil
}

// tunnel describes end i of the link, given the peer's public address.
func (a LinkArgs) tunnel(name string, i int, remoteAddress string) openvpn.Tunnel {
	return openvpn.Tunnel{
		Name:           name,
		Port:           a.Port,
		RemoteAddress:  remoteAddress,
		LocalTunnelIP:  a.TunnelAddresses[i],
		RemoteTunnelIP: a.TunnelAddresses[1-i],
		RemoteNetworks: []string{a.Sites[1-i].VpcCidr},
		KeyDirection:   i,
		MTU:            a.MTU,
	}
}

func (a LinkArgs) connection(host pulumi.StringInput) remote.ConnectionArgs {
	return remote.ConnectionArgs{
		Host:           host,
		User:           pulumi.String(a.SSH.User),
		PrivateKey:     a.SSH.PrivateKey,
		DialErrorLimit: pulumi.Int(sshDialErrorLimit),
		PerDialTimeout: pulumi.Int(sshPerDialTimeout),
	}
}

// check pings from end i's terminal (its VPN instance when it has none) to
// the peer's terminal (or VPN instance), once both ends are configured.
func (a LinkArgs) check(ctx *pulumi.Context, name string, link *Link, i int, ready []pulumi.Resource) (*remote.Command, error) {
	site, peer := a.Sites[i], a.Sites[1-i]
	host, src, deps := site.VpnPublicIP, site.VpnPrivateIPAddress, site.vpnReachable
	if site.HasTerminal {
		host, src, deps = site.TerminalPublicIP, site.TerminalPrivateIPAddress, site.terminalReachable
	}
	dst := peer.VpnPrivateIPAddress
	if peer.HasTerminal {
		dst = peer.TerminalPrivateIPAddress
	}
	script, err := openvpn.PingScript(src, dst)
	if err != nil {
		return nil, err
	}
	deps = append(append(append([]pulumi.Resource{}, deps...), ready...), link.Setups[0], link.Setups[1])
	return remote.NewCommand(ctx, fmt.Sprintf("%s-%s-check", name, site.Name), &remote.CommandArgs{
		Connection: a.connection(host),
		Create:     pulumi.String(openvpn.Command("check", script)),
		// Re-check whenever either end is set up anew or reconfigured.
		Triggers: pulumi.Array{link.Setups[0].ID(), link.Setups[1].ID(), link.Configs[0], link.Configs[1]},
	}, pulumi.Parent(link), pulumi.DependsOn(deps))
}
