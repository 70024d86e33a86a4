package vpclink

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
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
	// Mode is the tunnel mode: openvpn.ModeTLS ("tls", the default when
	// empty) or openvpn.ModeStatic ("static", the original pre-shared key
	// configuration). Switching an existing link converges in one update.
	Mode openvpn.Mode
	// RenegSeconds is the TLS key renegotiation interval. Default
	// openvpn.DefaultRenegSeconds (3600).
	RenegSeconds int
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
	// Mode is the tunnel mode in effect (tls or static).
	Mode openvpn.Mode
	// Identities are the remote commands that make each end's TLS key and
	// self-signed certificate on the VPN instance (TLS mode; nil in static
	// mode); Fingerprints are their certificates' SHA-256 fingerprints.
	Identities   [2]*remote.Command
	Fingerprints [2]pulumi.StringOutput
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
	mode, err := openvpn.ParseMode(string(a.Mode))
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", name, err)
	}
	a.Mode = mode
	tls := mode == openvpn.ModeTLS
	// Fail before registering anything when the ends cannot be rendered.
	for i, site := range a.Sites {
		if _, err := openvpn.SetupScript(a.tunnel(name, i, "192.0.2.1", placeholderFingerprint)); err != nil {
			return nil, fmt.Errorf("link %q: %w", name, err)
		}
		if _, err := openvpn.IdentityScript(name, commonName(name, site.Name)); tls && err != nil {
			return nil, fmt.Errorf("link %q: %w", name, err)
		}
	}

	link := &Link{Name: name, Mode: mode}
	if err := ctx.RegisterComponentResource(LinkType, name, link, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(link)

	// One 2048-bit key, identical on both ends; the key directions differ.
	keyHex, err := hexsecret.New(ctx, name+"-static-key", openvpn.StaticKeyBytes, parent)
	if err != nil {
		return nil, err
	}
	link.StaticKey = pulumi.ToSecret(keyHex.ApplyT(func(h string) (string, error) {
		if h == "" { // not reported (minimal test mocks): nothing to format
			return "", nil
		}
		return openvpn.FormatStaticKey(h)
	})).(pulumi.StringOutput)

	// TLS mode: each VPN instance makes its own key pair and self-signed
	// certificate and reports the certificate's fingerprint, which goes into
	// the PEER's configuration. Both identities run in parallel, as soon as
	// their instance answers SSH; each setup then waits for both (its own
	// certificate, the peer's fingerprint): one SSH round trip more per end.
	fingerprint := [2]pulumi.StringOutput{pulumi.String("").ToStringOutput(), pulumi.String("").ToStringOutput()}
	if tls {
		for i, site := range a.Sites {
			id, err := a.identity(ctx, name, site, parent)
			if err != nil {
				return nil, err
			}
			link.Identities[i] = id
			siteName := site.Name
			fingerprint[i] = id.Stdout.ApplyT(func(out string) (string, error) {
				if out == "" { // not reported (test mocks); the real script never prints nothing
					return "", nil
				}
				fp, err := openvpn.ParseFingerprint(out)
				if err != nil {
					return "", fmt.Errorf("link %q: the identity step on %s printed no valid fingerprint: %w", name, siteName, err)
				}
				return fp, nil
			}).(pulumi.StringOutput)
		}
	}
	link.Fingerprints = fingerprint

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
		// In TLS mode it also needs the peer's certificate fingerprint.
		i := i
		peerEnd := pulumi.All(peer.VpnPublicIP, fingerprint[1-i], fingerprint[i])
		render := func(script bool) pulumi.StringOutput {
			return peerEnd.ApplyT(func(v []any) (string, error) {
				ip, fp, own := v[0].(string), v[1].(string), v[2].(string)
				if ip == "" || tls && fp == "" { // not reported (test mocks); AWS always does
					return "", nil
				}
				tu := a.tunnel(name, i, ip, fp)
				tu.LocalFingerprint = own
				if !script {
					return openvpn.RenderConfig(tu)
				}
				s, err := openvpn.SetupScript(tu)
				return openvpn.Command("setup", s), err
			}).(pulumi.StringOutput)
		}
		link.Configs[i] = render(false)
		create := render(true)
		deps := site.vpnReachable
		if tls {
			// Its own certificate must exist before OpenVPN starts.
			deps = append(append([]pulumi.Resource{}, deps...), link.Identities[i])
		}
		teardown, err := openvpn.TeardownScript(a.tunnel(name, i, "192.0.2.1", placeholderFingerprint))
		if err != nil {
			return nil, err
		}
		link.Setups[i], err = remote.NewCommand(ctx, prefix+"-setup", &remote.CommandArgs{
			Connection:             a.connection(site.vpnSSHHost, site.VpnHostKey),
			AddPreviousOutputInEnv: noPreviousOutput,
			Create:                 create,
			Delete:                 pulumi.String(openvpn.Command("teardown", teardown)),
			// The key travels on standard input: never on a command line,
			// so never in an error message or a process listing.
			Stdin: link.StaticKey,
			// A replaced instance needs its own setup.
			Triggers: pulumi.Array{site.VpnInstanceID},
		}, parent,
			pulumi.DependsOn(deps),
			pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}),
			// The EIP moves to a replacement: tear down before setting up again.
			pulumi.DeleteBeforeReplace(true),
			deletedWith(site.vpnInstance))
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
		"mode":            pulumi.String(string(mode)),
		"fingerprints":    pulumi.StringArray{fingerprint[0], fingerprint[1]},
		"tunnelAddresses": pulumi.StringArray{pulumi.String(a.TunnelAddresses[0]), pulumi.String(a.TunnelAddresses[1])},
		"checkResults":    link.CheckResults,
	}); err != nil {
		return nil, err
	}
	return link, nil
}

// noPreviousOutput turns off passing the previous stdout/stderr as
// PULUMI_COMMAND_STDOUT/STDERR on update and delete: no script reads them,
// and the instances' sshd (Ubuntu's: AcceptEnv LANG LC_*) refuses them, so
// each update and delete printed two warnings per command.
var noPreviousOutput = pulumi.Bool(false)

// placeholderFingerprint stands for a peer's certificate fingerprint where
// only the shape of a TLS configuration matters (early validation, teardown).
var placeholderFingerprint = strings.TrimSuffix(strings.Repeat("00:", 32), ":")

// tunnel describes end i of the link, given the peer's public address and,
// in TLS mode, its certificate fingerprint. The first site is the TLS server.
func (a LinkArgs) tunnel(name string, i int, remoteAddress, peerFingerprint string) openvpn.Tunnel {
	t := openvpn.Tunnel{
		Name:           name,
		Port:           a.Port,
		RemoteAddress:  remoteAddress,
		LocalTunnelIP:  a.TunnelAddresses[i],
		RemoteTunnelIP: a.TunnelAddresses[1-i],
		RemoteNetworks: []string{a.Sites[1-i].VpcCidr},
		KeyDirection:   i,
		MTU:            a.MTU,
		Mode:           a.Mode,
	}
	if a.Mode != openvpn.ModeStatic {
		t.TLSServer = i == 0
		t.PeerFingerprint = peerFingerprint
		t.RenegSeconds = a.RenegSeconds
	}
	return t
}

// commonName is the CN of a site's certificate for link name: both names,
// reduced to what a CN and the identity script accept.
func commonName(name, site string) string {
	cn := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, name+"-"+site)
	if len(cn) > 64 {
		cn = cn[:64]
	}
	return cn
}

// identity registers the TLS identity step on a site's VPN instance: its
// standard output is the certificate's fingerprint (public, so not secret;
// stderr is). The private key is made there and never leaves the instance,
// so it is never in the Pulumi state.
func (a LinkArgs) identity(ctx *pulumi.Context, name string, site *Site, parent pulumi.ResourceOption) (*remote.Command, error) {
	script, err := openvpn.IdentityScript(name, commonName(name, site.Name))
	if err != nil {
		return nil, err
	}
	del, err := openvpn.IdentityDeleteScript(name)
	if err != nil {
		return nil, err
	}
	return remote.NewCommand(ctx, fmt.Sprintf("%s-%s-identity", name, site.Name), &remote.CommandArgs{
		Connection:             a.connection(site.vpnSSHHost, site.VpnHostKey),
		AddPreviousOutputInEnv: noPreviousOutput,
		Create:                 pulumi.String(openvpn.Command("identity", script)),
		Delete:                 pulumi.String(openvpn.Command("identity-delete", del)),
		// A replaced instance makes a new identity (and the peer's setup
		// is updated with its fingerprint).
		Triggers: pulumi.Array{site.VpnInstanceID},
	}, parent,
		pulumi.DependsOn(site.vpnReachable),
		pulumi.AdditionalSecretOutputs([]string{"stderr"}),
		pulumi.DeleteBeforeReplace(true),
		deletedWith(site.vpnInstance))
}

// connection is how the program logs in to an instance: the login user
// with the program's key, and the instance's host key pinned, so that
// nothing (least of all the key on stdin) is sent to another machine.
func (a LinkArgs) connection(host, hostKey pulumi.StringInput) remote.ConnectionArgs {
	return remote.ConnectionArgs{
		Host:           host,
		HostKey:        hostKey,
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
	host, hostKey, src, deps, on := site.vpnSSHHost, site.VpnHostKey, site.VpnPrivateIPAddress, site.vpnReachable, site.vpnInstance
	if site.HasTerminal {
		host, hostKey, src, deps, on = site.terminalSSHHost, site.TerminalHostKey, site.TerminalPrivateIPAddress, site.terminalReachable, site.terminalInstance
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
		Connection:             a.connection(host, hostKey),
		AddPreviousOutputInEnv: noPreviousOutput,
		// Re-check (an update: create runs again) whenever either end is
		// reconfigured: the command names a digest of both configurations.
		Create: pulumi.All(link.Configs[0], link.Configs[1]).ApplyT(func(c []any) string {
			sum := sha256.Sum256([]byte(fmt.Sprint(c...)))
			return openvpn.Command("check", fmt.Sprintf("# configurations %x\n%s", sum[:8], script))
		}).(pulumi.StringOutput),
		// Check anew when either end is set up anew (a replaced setup).
		Triggers: pulumi.Array{link.Setups[0].ID(), link.Setups[1].ID()},
	}, pulumi.Parent(link), pulumi.DependsOn(deps), deletedWith(on))
}

// deletedWith skips a remote command's delete step when its instance is
// deleted in the same operation (`pulumi destroy`, a replaced instance):
// there is nothing left to tear down, and no SSH is needed, so destroy
// finishes even where SSH is no longer possible (sshAllowedCidrs narrowed
// to an address the operator has left). Removing a link while its
// instances stay still runs the teardown. A Site built without instances
// (unit tests of Link alone) gives nil: no option.
func deletedWith(instance pulumi.Resource) pulumi.ResourceOption {
	if instance == nil {
		return pulumi.Composite()
	}
	return pulumi.DeletedWith(instance)
}
