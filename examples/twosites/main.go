// Command twosites is an example Pulumi program built on the vpclink
// components: it joins a VPC in us-east-1 and a VPC in eu-central-1 through
// one OpenVPN site-to-site tunnel.
//
//	pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"
//	pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519
//	pulumi up
//
// After `pulumi up`, checkResults holds one ping summary per direction, and
// `ssh ubuntu@<eastTerminalPublicIp>` followed by `ping 10.20.1.30` crosses
// the tunnel by hand.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
)

func main() {
	pulumi.Run(program)
}

// sites is the plain description of both ends; it is validated before any
// resource is registered.
var sites = []topology.Site{
	{
		Name: "east", Region: "us-east-1", VpcCidr: "10.10.0.0/16",
		VpnSubnetCidr: "10.10.0.0/24", VpnPrivateIP: "10.10.0.10",
		TerminalSubnetCidr: "10.10.1.0/24", TerminalPrivateIP: "10.10.1.30",
	},
	{
		Name: "central", Region: "eu-central-1", VpcCidr: "10.20.0.0/16",
		VpnSubnetCidr: "10.20.0.0/24", VpnPrivateIP: "10.20.0.10",
		TerminalSubnetCidr: "10.20.1.0/24", TerminalPrivateIP: "10.20.1.30",
	},
}

// program builds both sites and the link between them.
func program(ctx *pulumi.Context) error {
	publicKey := config.Require(ctx, "sshPublicKey")
	privateKey := config.RequireSecret(ctx, "sshPrivateKey")
	sshAllowed := config.Get(ctx, "sshAllowedCidr")
	if sshAllowed == "" {
		sshAllowed = "0.0.0.0/0"
	}

	// Catch overlapping networks, addresses outside their subnet or reserved
	// by AWS, and the like, before anything is created. The key pair is not
	// part of this check: the private key stays a secret output.
	plan := topology.Normalize(topology.Config{Sites: sites, SSHAllowedCIDRs: []string{sshAllowed}})
	if err := topology.Validate(plan); err != nil {
		return fmt.Errorf("invalid example topology:\n%w", err)
	}
	link := plan.Links[0] // two sites: one link, port 1194, 10.254.0.1 <-> 10.254.0.2

	built := map[string]*vpclink.Site{}
	for _, s := range plan.Sites {
		site, err := vpclink.NewSite(ctx, s.Name, &vpclink.SiteArgs{
			Region:             s.Region,
			VpcCidr:            s.VpcCidr,
			VpnSubnetCidr:      s.VpnSubnetCidr,
			TerminalSubnetCidr: s.TerminalSubnetCidr,
			VpnPrivateIP:       s.VpnPrivateIP,
			TerminalPrivateIP:  s.TerminalPrivateIP,
			InstanceType:       s.InstanceType,
			SSHPublicKey:       pulumi.String(publicKey),
			SSHAllowedCIDRs:    plan.SSHAllowedCIDRs,
			Tags:               map[string]string{"example": ctx.Project()},
		})
		if err != nil {
			return err
		}
		built[s.Name] = site
		ctx.Export(s.Name+"VpnPublicIp", site.VpnPublicIP)
		ctx.Export(s.Name+"TerminalPublicIp", site.TerminalPublicIP)
	}

	tunnel, err := vpclink.NewLink(ctx, link.Name, &vpclink.LinkArgs{
		Sites:           [2]*vpclink.Site{built[link.Sites[0]], built[link.Sites[1]]},
		Port:            link.Port,
		TunnelAddresses: [2]string{link.TunnelAddresses[0], link.TunnelAddresses[1]},
		MTU:             plan.TunnelMTU,
		SSH:             vpclink.SSHArgs{User: plan.SSHUser, PrivateKey: privateKey},
	})
	if err != nil {
		return err
	}
	ctx.Export("vpnPublicIps", pulumi.StringArray{built["east"].VpnPublicIP, built["central"].VpnPublicIP})
	ctx.Export("checkResults", tunnel.CheckResults)
	return nil
}
