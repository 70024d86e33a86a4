package vpclink

import (
	"crypto/sha256"
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// TransitCheckArgs is the set of arguments of NewTransitCheck.
type TransitCheckArgs struct {
	// From is the site the check pings from (its terminal, else its VPN
	// instance); To are the sites it reaches through a hub (each one's
	// terminal, else its VPN instance is pinged). Both required.
	From *Site
	To   []*Site
	// Links are the links the traffic crosses (From's link to the hub, the
	// hub's links to each of To): the check runs after their setups, and
	// again when any of their configurations changes or one is set up anew.
	Links []*Link
	// SSH is how the check logs in. Required.
	SSH SSHArgs
}

// NewTransitCheck registers the post-deploy check of the sites a site
// reaches through a hub: one remote command ("<from>-transit-check") that
// pings each of them from the site, after every setup on the way, and
// fails `pulumi up` when one gives no reply. A Link's own check covers its
// two ends only.
func NewTransitCheck(ctx *pulumi.Context, args *TransitCheckArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	if args == nil || args.From == nil || len(args.To) == 0 || len(args.Links) == 0 {
		return nil, fmt.Errorf("transit check: From, To and Links are required")
	}
	if args.SSH.PrivateKey == nil {
		return nil, fmt.Errorf("transit check from %s: SSH.PrivateKey is required", args.From.Name)
	}
	user := args.SSH.User
	if user == "" {
		user = topology.DefaultSSHUser
	}
	from := args.From
	host, hostKey, src, deps, on := from.vpnSSHHost, from.VpnHostKey, from.VpnPrivateIPAddress, from.vpnReachable, from.vpnInstance
	if from.HasTerminal {
		host, hostKey, src, deps, on = from.terminalSSHHost, from.TerminalHostKey, from.TerminalPrivateIPAddress, from.terminalReachable, from.terminalInstance
	}
	var dsts []string
	types := []any{from.instanceType}
	for _, to := range args.To {
		if to == nil || to == from {
			return nil, fmt.Errorf("transit check from %s: To must be other sites", from.Name)
		}
		dst := to.VpnPrivateIPAddress
		if to.HasTerminal {
			dst = to.TerminalPrivateIPAddress
		}
		dsts = append(dsts, dst)
		types = append(types, to.instanceType)
	}
	script, err := openvpn.PingAllScript(src, dsts)
	if err != nil {
		return nil, fmt.Errorf("transit check from %s: %w", from.Name, err)
	}
	deps = append([]pulumi.Resource{}, deps...)
	var configs []any
	var triggers pulumi.Array
	for _, l := range args.Links {
		for i := range l.Setups {
			deps = append(deps, l.Setups[i])
			configs = append(configs, l.Configs[i])
			triggers = append(triggers, l.Setups[i].ID())
		}
		deps = append(deps, l.ready...)
	}
	la := LinkArgs{SSH: SSHArgs{User: user, PrivateKey: args.SSH.PrivateKey}}
	return remote.NewCommand(ctx, from.Name+"-transit-check", &remote.CommandArgs{
		Connection:             la.connection(host, hostKey),
		AddPreviousOutputInEnv: noPreviousOutput,
		// As a link's check: the command names a digest of every
		// configuration on the way and the instance types, so that it
		// runs again when one changes.
		Create: pulumi.All(configs...).ApplyT(func(c []any) string {
			sum := sha256.Sum256([]byte(fmt.Sprint(append(c, types...)...)))
			return openvpn.Command("transit-check", fmt.Sprintf("# configurations %x\n%s", sum[:8], script))
		}).(pulumi.StringOutput),
		Triggers: triggers,
	}, append([]pulumi.ResourceOption{pulumi.Parent(from), pulumi.DependsOn(deps), deletedWith(on)}, opts...)...)
}
