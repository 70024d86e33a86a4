package vpclink

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
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
	// User is the image's login user. Default topology.DefaultSSHUser (the
	// user of Ubuntu's images).
	User string
	// PrivateKey matches the sites' SSHPublicKey. Keep it secret.
	PrivateKey pulumi.StringInput
}

// LinkArgs is the set of arguments for creating a Link component resource.
type LinkArgs struct {
	// Sites are the two ends. The first uses key direction 0.
	Sites [2]*Site
	// Port is the UDP port of the tunnel on both VPN instances. Default
	// topology.DefaultTunnelPort.
	Port int
	// TunnelAddresses are the point-to-point addresses of the two ends, in
	// the order of Sites. Default topology.DefaultTunnelAddresses(0), the
	// first /30 of topology.DefaultTunnelNetwork.
	TunnelAddresses [2]string
	// MTU of the tunnel interface, openvpn.MinMTU to openvpn.MaxMTU. Default
	// topology.DefaultTunnelMTU.
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
	// Transit are, per end, further sites that end reaches through the
	// peer, which forwards their traffic (the peer is a hub and has links
	// of its own to them). Their VPCs are routed into the tunnel like the
	// peer's: on the end's VPN instance, in its route table and, for ICMP
	// and traceroute, in its terminal's rules (the last two unless the
	// end's site has a SummaryCidr covering them). Default none. Not with
	// a second tunnel (high availability at both sites).
	Transit [2][]*Site
	// SecondaryPort and SecondaryTunnelAddresses are the second tunnel's,
	// used when both sites have high availability. Defaults: Port +
	// topology.SecondaryPortOffset, and 10.254.0.129/.130.
	SecondaryPort            int
	SecondaryTunnelAddresses [2]string
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
	// Offload says per end whether OpenVPN offloads the data channel and,
	// if not, why, in OpenVPN's words (from the setup's output; not secret).
	Offload [2]pulumi.StringOutput
	// Checks are the post-deploy pings from each end to the other (nil when
	// skipped); CheckResults holds their summary lines.
	Checks       [2]*remote.Command
	CheckResults pulumi.StringArrayOutput `pulumi:"checkResults"`

	// Secondary is the second tunnel, between the sites' second VPN
	// instances (nil unless both sites have high availability); its Name is
	// this link's with "-secondary".
	Secondary *Link

	// ready are the routes and rules of both ends, which checks wait for.
	ready []pulumi.Resource
	// owner is, for a second tunnel, the Link whose children its
	// resources are (nil: the link itself).
	owner *Link
}

// NewLink creates a Link.
func NewLink(ctx *pulumi.Context, name string, args *LinkArgs, opts ...pulumi.ResourceOption) (*Link, error) {
	if args == nil {
		args = &LinkArgs{}
	}
	a, err := args.withDefaults(name)
	if err != nil {
		return nil, err
	}

	link := &Link{Name: name, Mode: a.Mode}
	if err := ctx.RegisterComponentResource(LinkType, name, link, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(link)

	if err := link.staticKey(ctx, parent); err != nil {
		return nil, err
	}
	if err := link.identities(ctx, a, parent); err != nil {
		return nil, err
	}

	var ready [2][]pulumi.Resource
	for i, site := range a.Sites {
		siteOpts := []pulumi.ResourceOption{parent, pulumi.Provider(site.Provider)}
		routes, err := a.routes(ctx, link, i)
		if err != nil {
			return nil, err
		}
		rule, err := a.tunnelRule(ctx, name, i, siteOpts)
		if err != nil {
			return nil, err
		}
		ready[i] = append(routes, rule)
		if err := link.setup(ctx, a, i, parent); err != nil {
			return nil, err
		}
	}

	link.ready = append(append([]pulumi.Resource{}, ready[0]...), ready[1]...)
	if err := link.checks(ctx, a, link.ready); err != nil {
		return nil, err
	}
	outs := pulumi.Map{
		"sites":           pulumi.StringArray{pulumi.String(a.Sites[0].Name), pulumi.String(a.Sites[1].Name)},
		"port":            pulumi.Int(a.Port),
		"mode":            pulumi.String(string(a.Mode)),
		"fingerprints":    pulumi.StringArray{link.Fingerprints[0], link.Fingerprints[1]},
		"tunnelAddresses": pulumi.StringArray{pulumi.String(a.TunnelAddresses[0]), pulumi.String(a.TunnelAddresses[1])},
		"checkResults":    link.CheckResults,
	}
	if a.linkHA() {
		if err := link.secondaryLink(ctx, a, parent); err != nil {
			return nil, err
		}
		sec := link.Secondary
		outs["secondary"] = pulumi.Map{
			"port":            pulumi.Int(a.SecondaryPort),
			"fingerprints":    pulumi.StringArray{sec.Fingerprints[0], sec.Fingerprints[1]},
			"tunnelAddresses": pulumi.StringArray{pulumi.String(a.SecondaryTunnelAddresses[0]), pulumi.String(a.SecondaryTunnelAddresses[1])},
			"checkResults":    sec.CheckResults,
		}
	}
	if err := ctx.RegisterResourceOutputs(link, outs); err != nil {
		return nil, err
	}
	return link, nil
}

// withDefaults returns a copy of the arguments with the defaults filled in.
// It checks them and renders both ends once, so that NewLink fails before registering anything when the ends
// cannot be rendered.
func (a LinkArgs) withDefaults(name string) (LinkArgs, error) {
	if a.Sites[0] == nil || a.Sites[1] == nil || a.Sites[0] == a.Sites[1] {
		return a, fmt.Errorf("link %q: needs two different sites", name)
	}
	for i := range a.Transit {
		for n, t := range a.Transit[i] {
			if t == nil || t == a.Sites[0] || t == a.Sites[1] {
				return a, fmt.Errorf("link %q: Transit[%d][%d]: must be a third site, not nil or an end of the link", name, i, n)
			}
		}
	}
	if a.SSH.PrivateKey == nil {
		return a, fmt.Errorf("link %q: SSH.PrivateKey is required", name)
	}
	if a.SSH.User == "" {
		a.SSH.User = topology.DefaultSSHUser
	}
	if a.Port == 0 {
		a.Port = topology.DefaultTunnelPort
	}
	if a.TunnelAddresses == [2]string{} {
		a.TunnelAddresses = [2]string(topology.DefaultTunnelAddresses(0))
	}
	if a.MTU == 0 {
		a.MTU = topology.DefaultTunnelMTU
	}
	if a.linkHA() {
		if len(a.Transit[0])+len(a.Transit[1]) > 0 {
			return a, fmt.Errorf("link %q: Transit is not supported with a second tunnel (high availability at both sites): the monitor moves routes in the route tables only", name)
		}
		if a.SecondaryPort == 0 {
			a.SecondaryPort = a.Port + topology.SecondaryPortOffset
		}
		if a.SecondaryTunnelAddresses == [2]string{} {
			a.SecondaryTunnelAddresses = [2]string(topology.DefaultTunnelAddresses(topology.MaxDefaultTunnels / 2))
		}
	}
	mode, err := openvpn.ParseMode(string(a.Mode))
	if err != nil {
		return a, fmt.Errorf("link %q: %w", name, err)
	}
	a.Mode = mode
	for i, site := range a.Sites {
		if _, err := openvpn.SetupScript(a.tunnel(name, i, "192.0.2.1", placeholderFingerprint)); err != nil {
			return a, fmt.Errorf("link %q: %w", name, err)
		}
		if _, err := openvpn.IdentityScript(name, commonName(name, site.Name)); a.tls() && err != nil {
			return a, fmt.Errorf("link %q: %w", name, err)
		}
	}
	return a, nil
}

// tls reports whether the link runs in TLS mode (a.Mode is parsed).
func (a LinkArgs) tls() bool { return a.Mode == openvpn.ModeTLS }

// prefix names the resources of the link's end at site i.
func (a LinkArgs) prefix(name string, i int) string {
	return fmt.Sprintf("%s-%s", name, a.Sites[i].Name)
}

// staticKey makes one 2048-bit key, identical on both ends; the key
// directions differ.
func (link *Link) staticKey(ctx *pulumi.Context, parent pulumi.ResourceOption) error {
	keyHex, err := hexsecret.New(ctx, link.Name+"-static-key", openvpn.StaticKeyBytes, parent)
	if err != nil {
		return err
	}
	link.StaticKey = pulumi.ToSecret(keyHex.ApplyT(func(h string) (string, error) {
		if h == "" { // not reported (minimal test mocks): nothing to format
			return "", nil
		}
		return openvpn.FormatStaticKey(h)
	})).(pulumi.StringOutput)
	return nil
}

// identities registers, in TLS mode, the step where each VPN instance makes
// its own key pair and self-signed certificate and reports the certificate's
// fingerprint, which goes into the PEER's configuration. Both identities run
// in parallel, as soon as their instance answers SSH; each setup then waits
// for both (its own certificate, the peer's fingerprint): one SSH round trip
// more per end. In static mode the fingerprints are empty.
func (link *Link) identities(ctx *pulumi.Context, a LinkArgs, parent pulumi.ResourceOption) error {
	name := link.Name
	link.Fingerprints = [2]pulumi.StringOutput{pulumi.String("").ToStringOutput(), pulumi.String("").ToStringOutput()}
	if !a.tls() {
		return nil
	}
	for i, site := range a.Sites {
		id, err := a.identity(ctx, name, site, parent)
		if err != nil {
			return err
		}
		link.Identities[i] = id
		siteName := site.Name
		link.Fingerprints[i] = id.Stdout.ApplyT(func(out string) (string, error) {
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
	return nil
}

// reached are the sites end i sends into the tunnel: the peer first, then
// the transit sites.
func (a LinkArgs) reached(i int) []*Site {
	return append([]*Site{a.Sites[1-i]}, a.Transit[i]...)
}

// routes makes site i reach the peer VPC and the transit VPCs (Site.Reach:
// a route and terminal rules each, unless the site's summary covers them).
// The peer's route and rules were the link's own children before they
// became the site's; they keep their resources under their earlier names.
func (a LinkArgs) routes(ctx *pulumi.Context, link *Link, i int) ([]pulumi.Resource, error) {
	site := a.Sites[i]
	var out []pulumi.Resource
	for n, dest := range a.reached(i) {
		var aliases [][]pulumi.Alias
		if n == 0 {
			prefix := a.prefix(link.Name, i)
			for _, old := range []string{prefix + "-route", prefix + "-icmp-from-peer", prefix + "-udp-from-peer"} {
				aliases = append(aliases, []pulumi.Alias{{Name: pulumi.String(old), Parent: link}})
			}
		}
		rs, err := site.Reach(ctx, dest, aliases...)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// tunnelRule admits the link's UDP port at site i from the peer VPN
// instance only.
func (a LinkArgs) tunnelRule(ctx *pulumi.Context, name string, i int, siteOpts []pulumi.ResourceOption) (pulumi.Resource, error) {
	site, peer := a.Sites[i], a.Sites[1-i]
	with := func(more ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, siteOpts...), more...)
	}
	return site.ingressRule(ctx, a.prefix(name, i)+"-tunnel", site.VpnSecurityGroupID,
		ingress{"", fmt.Sprintf("OpenVPN link %s from the peer VPN instance", name), "udp", a.Port, a.Port},
		peer.VpnPublicIP.ApplyT(func(ip string) string { return ip + "/32" }).(pulumi.StringOutput), with)
}

// setup registers the remote command that configures OpenVPN on site i's
// VPN instance. The configuration needs only the peer's EIP, never the
// peer's setup: the two regions are configured in parallel. In TLS mode it
// also needs the peer's certificate fingerprint.
func (link *Link) setup(ctx *pulumi.Context, a LinkArgs, i int, parent pulumi.ResourceOption) error {
	name := link.Name
	site, peer := a.Sites[i], a.Sites[1-i]
	peerEnd := pulumi.All(peer.VpnPublicIP, link.Fingerprints[1-i], link.Fingerprints[i])
	render := func(script bool) pulumi.StringOutput {
		return peerEnd.ApplyT(func(v []any) (string, error) {
			ip, fp, own := v[0].(string), v[1].(string), v[2].(string)
			if ip == "" || a.tls() && fp == "" { // not reported (test mocks); AWS always does
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
	if a.tls() {
		// Its own certificate must exist before OpenVPN starts.
		deps = append(append([]pulumi.Resource{}, deps...), link.Identities[i])
	}
	teardown, err := openvpn.TeardownScript(a.tunnel(name, i, "192.0.2.1", placeholderFingerprint))
	if err != nil {
		return err
	}
	link.Setups[i], err = remote.NewCommand(ctx, a.prefix(name, i)+"-setup", &remote.CommandArgs{
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
		return err
	}
	// Only the offload line leaves the secret output.
	link.Offload[i] = pulumi.Unsecret(link.Setups[i].Stdout.ApplyT(openvpn.OffloadReport)).(pulumi.StringOutput)
	return nil
}

// checks registers the post-deploy pings from each end (unless skipped),
// after the routes and rules in ready and both setups.
func (link *Link) checks(ctx *pulumi.Context, a LinkArgs, ready []pulumi.Resource) error {
	link.CheckResults = pulumi.StringArray{}.ToStringArrayOutput()
	if a.SkipCheck {
		return nil
	}
	var results pulumi.StringArray
	for i, site := range a.Sites {
		check, err := a.check(ctx, link.Name, link, i, ready)
		if err != nil {
			return fmt.Errorf("link %q: check from %s: %w", link.Name, site.Name, err)
		}
		link.Checks[i] = check
		results = append(results, check.Stdout)
	}
	link.CheckResults = results.ToStringArrayOutput()
	return nil
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
		Name:            name,
		Port:            a.Port,
		RemoteAddress:   remoteAddress,
		LocalTunnelIP:   a.TunnelAddresses[i],
		RemoteTunnelIP:  a.TunnelAddresses[1-i],
		RemoteNetworks:  []string{a.Sites[1-i].VpcCidr},
		TransitNetworks: a.transitNetworks(i),
		KeyDirection:    i,
		MTU:             a.MTU,
		Mode:            a.Mode,
	}
	if a.Mode != openvpn.ModeStatic {
		t.TLSServer = i == 0
		t.PeerFingerprint = peerFingerprint
		t.RenegSeconds = a.RenegSeconds
	}
	return t
}

// transitNetworks are the VPC networks end i routes into the tunnel for the
// peer to forward.
func (a LinkArgs) transitNetworks(i int) []string {
	var out []string
	for _, s := range a.Transit[i] {
		out = append(out, s.VpcCidr)
	}
	return out
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
	return sshConnection(a.SSH, host, hostKey)
}

// sshConnection is how the program logs in to an instance with ssh.
func sshConnection(ssh SSHArgs, host, hostKey pulumi.StringInput) remote.ConnectionArgs {
	return remote.ConnectionArgs{
		Host:           host,
		HostKey:        hostKey,
		User:           pulumi.String(ssh.User),
		PrivateKey:     ssh.PrivateKey,
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
		// reconfigured or restarted by a change of instance type (AWS
		// stops and starts the instances): the command names a digest of
		// both configurations and both sites' instance types.
		Create: pulumi.All(link.Configs[0], link.Configs[1]).ApplyT(func(c []any) string {
			sum := sha256.Sum256([]byte(fmt.Sprint(append(c, a.Sites[0].instanceType, a.Sites[1].instanceType)...)))
			return openvpn.Command("check", fmt.Sprintf("# configurations %x\n%s", sum[:8], script))
		}).(pulumi.StringOutput),
		// Check anew when either end is set up anew (a replaced setup).
		Triggers: pulumi.Array{link.Setups[0].ID(), link.Setups[1].ID()},
	}, pulumi.Parent(link.parent()), pulumi.DependsOn(deps), deletedWith(on))
}

// parent is the component the link's resources belong to.
func (link *Link) parent() *Link {
	if link.owner != nil {
		return link.owner
	}
	return link
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
