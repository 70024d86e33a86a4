// Command pulumi-resource-vpclink serves the vpclink Pulumi package: one
// component, vpclink:index:Network, which is components/vpclink's
// NewNetwork (the same code the vpclink program runs) behind a schema
// inferred by pulumi-go-provider's infer package. Its inputs are the
// program's stack configuration as plain data, its outputs what the
// program exports.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
)

// Version is the package's version (the schema's); -ldflags
// "-X main.Version=..." sets another.
var Version = "0.1.0"

// Name is the package's name: the first part of every type token.
const Name = "vpclink"

// Site is topology.Site as a schema type.
type Site struct {
	Name               string  `pulumi:"name"`
	Region             string  `pulumi:"region"`
	VpcCidr            string  `pulumi:"vpcCidr"`
	VpnSubnetCidr      string  `pulumi:"vpnSubnetCidr"`
	TerminalSubnetCidr string  `pulumi:"terminalSubnetCidr"`
	VpnPrivateIP       string  `pulumi:"vpnPrivateIp"`
	TerminalPrivateIP  string  `pulumi:"terminalPrivateIp"`
	Terminal           *bool   `pulumi:"terminal,optional"`
	AvailabilityZone   *string `pulumi:"availabilityZone,optional"`
	InstanceType       *string `pulumi:"instanceType,optional"`
	Ami                *string `pulumi:"ami,optional"`
	OS                 *string `pulumi:"os,optional"`
	// High availability (see topology.Site).
	HighAvailability          *bool   `pulumi:"highAvailability,optional"`
	SecondaryVpnSubnetCidr    *string `pulumi:"secondaryVpnSubnetCidr,optional"`
	SecondaryVpnPrivateIP     *string `pulumi:"secondaryVpnPrivateIp,optional"`
	SecondaryAvailabilityZone *string `pulumi:"secondaryAvailabilityZone,optional"`
}

// Annotate gives the schema Site's descriptions and defaults (from docs).
func (s *Site) Annotate(a infer.Annotator) {
	annotate(a, s, "Site", "sites[].", map[string]any{
		"name": &s.Name, "region": &s.Region, "vpcCidr": &s.VpcCidr,
		"vpnSubnetCidr": &s.VpnSubnetCidr, "terminalSubnetCidr": &s.TerminalSubnetCidr,
		"vpnPrivateIp": &s.VpnPrivateIP, "terminalPrivateIp": &s.TerminalPrivateIP,
		"terminal": &s.Terminal, "availabilityZone": &s.AvailabilityZone,
		"instanceType": &s.InstanceType, "ami": &s.Ami, "os": &s.OS,
		"highAvailability": &s.HighAvailability, "secondaryVpnSubnetCidr": &s.SecondaryVpnSubnetCidr,
		"secondaryVpnPrivateIp": &s.SecondaryVpnPrivateIP, "secondaryAvailabilityZone": &s.SecondaryAvailabilityZone,
	})
}

// Link is topology.Link as a schema type.
type Link struct {
	Name            *string  `pulumi:"name,optional"`
	Sites           []string `pulumi:"sites"`
	Port            *int     `pulumi:"port,optional"`
	TunnelAddresses []string `pulumi:"tunnelAddresses,optional"`
	Mode            *string  `pulumi:"mode,optional"`
	// The second tunnel's (high availability at both sites).
	SecondaryPort            *int     `pulumi:"secondaryPort,optional"`
	SecondaryTunnelAddresses []string `pulumi:"secondaryTunnelAddresses,optional"`
}

// Annotate gives the schema Link's descriptions and defaults (from docs).
func (l *Link) Annotate(a infer.Annotator) {
	annotate(a, l, "Link", "links[].", map[string]any{
		"name": &l.Name, "sites": &l.Sites, "port": &l.Port,
		"tunnelAddresses": &l.TunnelAddresses, "mode": &l.Mode,
		"secondaryPort": &l.SecondaryPort, "secondaryTunnelAddresses": &l.SecondaryTunnelAddresses,
	})
}

// NetworkArgs are the inputs of vpclink:index:Network: topology.Config,
// key for key. All are plain values (the component needs them to decide
// what to build).
type NetworkArgs struct {
	Sites           []Site   `pulumi:"sites"`
	Links           []Link   `pulumi:"links,optional"`
	Hub             *string  `pulumi:"hub,optional"`
	SummaryCidr     *string  `pulumi:"summaryCidr,optional"`
	TunnelMode      *string  `pulumi:"tunnelMode,optional"`
	TunnelMtu       *int     `pulumi:"tunnelMtu,optional"`
	TunnelPort      *int     `pulumi:"tunnelPort,optional"`
	InstanceType    *string  `pulumi:"instanceType,optional"`
	OS              *string  `pulumi:"os,optional"`
	SSHUser         *string  `pulumi:"sshUser,optional"`
	SSHAllowedCidrs []string `pulumi:"sshAllowedCidrs,optional"`
	SSHPublicKey    *string  `pulumi:"sshPublicKey,optional"`
	// An Input, not a plain string: SDKs and YAML send it as a secret,
	// which the Go SDK copies only into an Input or Output.
	SSHPrivateKey   pulumi.StringInput `pulumi:"sshPrivateKey,optional" provider:"secret"`
	PostDeployCheck *bool              `pulumi:"postDeployCheck,optional"`
	// High availability (see topology.Config).
	HighAvailability        *bool `pulumi:"highAvailability,optional"`
	FailbackHoldDownSeconds *int  `pulumi:"failbackHoldDownSeconds,optional"`
}

// Annotate gives the schema the inputs' descriptions and defaults (from docs).
func (n *NetworkArgs) Annotate(a infer.Annotator) {
	annotate(a, nil, "", "", map[string]any{
		"sites": &n.Sites, "links": &n.Links, "hub": &n.Hub, "summaryCidr": &n.SummaryCidr,
		"tunnelMode": &n.TunnelMode, "tunnelMtu": &n.TunnelMtu, "tunnelPort": &n.TunnelPort,
		"instanceType": &n.InstanceType, "os": &n.OS, "sshUser": &n.SSHUser,
		"sshAllowedCidrs": &n.SSHAllowedCidrs, "sshPublicKey": &n.SSHPublicKey,
		"sshPrivateKey": &n.SSHPrivateKey, "postDeployCheck": &n.PostDeployCheck,
		"highAvailability": &n.HighAvailability, "failbackHoldDownSeconds": &n.FailbackHoldDownSeconds,
	})
}

// Network is the component as the schema sees it: the Network that
// vpclink.NewNetwork registered (embedded as the interface, so infer's
// reflection sees only the output fields), with its outputs as fields.
// Every output is always set (empty where the network has none): the Go
// SDK's construct result and infer publish an output under its whole
// `pulumi` tag, so "x,optional" would arrive as a property of that name.
type Network struct {
	pulumi.ComponentResource

	Hub           pulumi.StringOutput `pulumi:"hub"`
	Sites         pulumi.MapOutput    `pulumi:"sites"`
	Links         pulumi.MapOutput    `pulumi:"links"`
	TunnelCheck   pulumi.MapOutput    `pulumi:"tunnelCheck"`
	TransitCheck  pulumi.MapOutput    `pulumi:"transitCheck"`
	SSHPublicKey  pulumi.StringOutput `pulumi:"sshPublicKey"`
	SSHPrivateKey pulumi.StringOutput `pulumi:"sshPrivateKey" provider:"secret"`
}

// Annotate gives the schema the component's and its outputs' descriptions.
func (n *Network) Annotate(a infer.Annotator) {
	annotate(a, n, "Network", "out:", map[string]any{
		"sites": &n.Sites, "links": &n.Links, "tunnelCheck": &n.TunnelCheck,
		"transitCheck": &n.TransitCheck, "sshPublicKey": &n.SSHPublicKey,
		"sshPrivateKey": &n.SSHPrivateKey, "hub": &n.Hub,
	})
}

// annotate describes the type (typeDoc, unless empty) and each field of
// fields (schema name -> pointer to the field) from docs[prefix+name],
// and sets the field's default where docs has one.
func annotate(a infer.Annotator, typ any, typeDoc, prefix string, fields map[string]any) {
	if typeDoc != "" {
		// The token is set, not derived from the Go package (main when
		// served, provider under go test).
		a.SetToken("index", tokens.TypeName(typeDoc))
		a.Describe(typ, docs[typeDoc].Description)
	}
	for name, field := range fields {
		d := docs[prefix+name]
		a.Describe(field, d.Description)
		if d.Default != nil {
			a.SetDefault(field, d.Default)
		}
	}
}

// Config is the topology configuration of args: every value left out stays
// zero, which NewNetwork's normalization turns into the program's default
// (YAML programs send no schema defaults; the provider applies them). The
// private key is awaited: it has to be known when the network is built.
func (args NetworkArgs) Config(ctx context.Context) (topology.Config, error) {
	key, err := privateKey(ctx, args.SSHPrivateKey)
	if err != nil {
		return topology.Config{}, err
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	i := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	c := topology.Config{
		Hub: s(args.Hub), SummaryCidr: s(args.SummaryCidr), TunnelMode: s(args.TunnelMode),
		TunnelMTU: i(args.TunnelMtu), TunnelPort: i(args.TunnelPort), InstanceType: s(args.InstanceType),
		OS: s(args.OS), SSHUser: s(args.SSHUser), SSHAllowedCIDRs: args.SSHAllowedCidrs,
		SSHPublicKey: s(args.SSHPublicKey), SSHPrivateKey: key,
		PostDeployCheck:  args.PostDeployCheck,
		HighAvailability: args.HighAvailability, FailbackHoldDownSeconds: i(args.FailbackHoldDownSeconds),
	}
	for _, x := range args.Sites {
		c.Sites = append(c.Sites, topology.Site{
			Name: x.Name, Region: x.Region, VpcCidr: x.VpcCidr, VpnSubnetCidr: x.VpnSubnetCidr,
			TerminalSubnetCidr: x.TerminalSubnetCidr, VpnPrivateIP: x.VpnPrivateIP,
			TerminalPrivateIP: x.TerminalPrivateIP, Terminal: x.Terminal,
			AvailabilityZone: s(x.AvailabilityZone), InstanceType: s(x.InstanceType), Ami: s(x.Ami), OS: s(x.OS),
			HighAvailability: x.HighAvailability, SecondaryVpnSubnetCidr: s(x.SecondaryVpnSubnetCidr),
			SecondaryVpnPrivateIP: s(x.SecondaryVpnPrivateIP), SecondaryAvailabilityZone: s(x.SecondaryAvailabilityZone),
		})
	}
	for _, x := range args.Links {
		c.Links = append(c.Links, topology.Link{
			Name: s(x.Name), Sites: x.Sites, Port: i(x.Port), TunnelAddresses: x.TunnelAddresses, Mode: s(x.Mode),
			SecondaryPort: i(x.SecondaryPort), SecondaryTunnelAddresses: x.SecondaryTunnelAddresses,
		})
	}
	return c, nil
}

// privateKey is the value of the sshPrivateKey input ("" without one).
// NewNetwork keeps it secret in every output and resource.
func privateKey(ctx context.Context, in pulumi.StringInput) (string, error) {
	if in == nil {
		return "", nil
	}
	r, err := internals.UnsafeAwaitOutput(ctx, in.ToStringOutput())
	if err != nil {
		return "", err
	}
	if !r.Known {
		return "", errors.New("input sshPrivateKey is not known yet (an output of a resource still to be created): give the key itself, e.g. from secret configuration")
	}
	v, _ := r.Value.(string)
	return v, nil
}

// NewNetwork constructs vpclink:index:Network with vpclink.NewNetwork.
// Invalid inputs fail before anything is registered, each named by its
// input path ("input sites[1].vpcCidr = ...").
func NewNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	cfg, err := args.Config(ctx.Context())
	if err != nil {
		return nil, err
	}
	n, err := vpclink.NewNetwork(ctx, name, &vpclink.NetworkArgs{Config: cfg}, opts...)
	if err != nil {
		return nil, err
	}
	out := &Network{ComponentResource: n}
	out.Sites = mapOutput(n.Outputs["sites"])
	out.Links = mapOutput(n.Outputs["links"])
	out.TunnelCheck = mapOutput(n.Outputs["tunnelCheck"])
	out.TransitCheck = mapOutput(n.Outputs["transitCheck"])
	out.SSHPublicKey = stringOutput(n.Outputs["sshPublicKey"])
	out.SSHPrivateKey = stringOutput(n.Outputs["sshPrivateKey"])
	out.Hub = stringOutput(n.Outputs["hub"])
	return out, nil
}

// mapOutput is an output of the Network's Outputs as a MapOutput (an
// empty map where the network has none).
func mapOutput(v pulumi.Input) pulumi.MapOutput {
	if v == nil {
		return pulumi.Map{}.ToMapOutput()
	}
	return pulumi.ToOutput(v).ApplyT(func(x any) map[string]any {
		m, _ := x.(map[string]any)
		return m
	}).(pulumi.MapOutput)
}

// stringOutput is an output of the Network's Outputs as a StringOutput
// ("" where the network has none).
func stringOutput(v pulumi.Input) pulumi.StringOutput {
	if v == nil {
		return pulumi.String("").ToStringOutput()
	}
	return v.(pulumi.StringOutput)
}

// provider is the vpclink package's provider.
func provider() (p.Provider, error) {
	return infer.NewProviderBuilder().
		WithDisplayName("vpclink").
		WithDescription("Join VPCs in different AWS regions with OpenVPN site-to-site tunnels: the vpclink program's Network as a component.").
		WithKeywords("aws", "vpc", "openvpn", "vpn", "category/network", "kind/component").
		WithRepository("https://github.com/vpclink/pulumi-vpc-openvpn").
		WithNamespace("vpclink").
		WithGoImportPath("github.com/vpclink/pulumi-vpc-openvpn/sdk/go/vpclink").
		WithComponents(infer.ComponentF(NewNetwork)).
		Build()
}

func main() {
	prov, err := provider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	if err := prov.Run(context.Background(), Name, Version); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
