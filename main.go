// Command vpclink is a Pulumi program that joins the private networks of
// Amazon VPCs in different regions with OpenVPN site-to-site tunnels.
//
// The story: read and validate the configuration, build each site (VPC,
// subnets, route table, instances) in its own region, link the sites
// (static key, cross routes, OpenVPN over SSH, ping check), export what an
// operator needs to reach and verify everything.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/vpclink/pulumi-vpc-openvpn/components/sshkey"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/components/vpclink"
)

func main() {
	pulumi.Run(program)
}

// program is the whole deployment; the unit tests and the local lab run it
// exactly as `pulumi up` does.
func program(ctx *pulumi.Context) error {
	cfg, err := configure(ctx)
	if err != nil {
		return err
	}
	infra, err := createInfrastructure(ctx, cfg)
	if err != nil {
		return err
	}
	for name, value := range outputs(infra) {
		ctx.Export(name, value)
	}
	return nil
}

// configure reads the stack configuration, applies defaults and validates it.
// Nothing else reads configuration, and nothing is registered before it
// returns without error.
func configure(ctx *pulumi.Context) (topology.Config, error) {
	conf := config.New(ctx, topology.ConfigNamespace)
	var c topology.Config
	var errs []error
	decode := func(k string, dst any) {
		raw := conf.Get(k)
		if raw == "" {
			return
		}
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			errs = append(errs, fmt.Errorf("config %s:%s = %s: %v", topology.ConfigNamespace, k, abbreviate(raw), err))
		}
	}
	integer := func(k string, dst *int) {
		v, err := conf.TryInt(k)
		switch {
		case errors.Is(err, config.ErrMissingVar):
		case err != nil:
			errs = append(errs, fmt.Errorf("config %s:%s = %q: not an integer", topology.ConfigNamespace, k, conf.Get(k)))
		default:
			*dst = v
		}
	}

	if conf.Get("sites") == "" {
		errs = append(errs, fmt.Errorf("config %s:sites is required: a list of sites (see Pulumi.dev.yaml)", topology.ConfigNamespace))
	}
	decode("sites", &c.Sites)
	decode("links", &c.Links)
	decode("sshAllowedCidrs", &c.SSHAllowedCIDRs)
	c.InstanceType = conf.Get("instanceType")
	c.SSHUser = conf.Get("sshUser")
	c.SSHPublicKey = strings.TrimSpace(conf.Get("sshPublicKey"))
	c.SSHPrivateKey = conf.Get("sshPrivateKey")
	if k := topology.ConfigNamespace + ":sshPrivateKey"; c.SSHPrivateKey != "" && !ctx.IsConfigSecret(k) {
		errs = append(errs, fmt.Errorf("config %s is stored in plain text (value not shown); set it with `pulumi config set --secret sshPrivateKey < key`", k))
	}
	integer("tunnelPort", &c.TunnelPort)
	integer("tunnelMtu", &c.TunnelMTU)
	if check, err := conf.TryBool("postDeployCheck"); err == nil {
		c.PostDeployCheck = &check
	} else if !errors.Is(err, config.ErrMissingVar) {
		errs = append(errs, fmt.Errorf("config %s:postDeployCheck = %q: not a boolean", topology.ConfigNamespace, conf.Get("postDeployCheck")))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid configuration, nothing was created:\n%w", errors.Join(errs...))
	}

	c = topology.Normalize(c)
	if err := topology.Validate(c); err != nil {
		return c, fmt.Errorf("invalid configuration, nothing was created:\n%w", err)
	}
	return c, nil
}

func abbreviate(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// infrastructure is what createInfrastructure built.
type infrastructure struct {
	config topology.Config
	sites  []*vpclink.Site
	links  []*vpclink.Link
	// random and command are explicit providers: no resource of the stack
	// uses a default provider.
	random  *random.Provider
	command *command.Provider
	// sshPrivateKey is secret; generatedKey tells whether the program made it.
	sshPrivateKey pulumi.StringOutput
	sshPublicKey  pulumi.StringOutput
	generatedKey  bool
}

// createInfrastructure registers every resource of a validated configuration.
func createInfrastructure(ctx *pulumi.Context, cfg topology.Config) (*infrastructure, error) {
	infra := &infrastructure{config: cfg}
	var err error
	if infra.random, err = random.NewProvider(ctx, "random", &random.ProviderArgs{}); err != nil {
		return nil, err
	}
	if infra.command, err = command.NewProvider(ctx, "command", &command.ProviderArgs{}); err != nil {
		return nil, err
	}
	if err := infra.sshKey(ctx); err != nil {
		return nil, err
	}

	byName := map[string]*vpclink.Site{}
	for _, s := range cfg.Sites {
		site, err := vpclink.NewSite(ctx, s.Name, &vpclink.SiteArgs{
			Region:             s.Region,
			VpcCidr:            s.VpcCidr,
			VpnSubnetCidr:      s.VpnSubnetCidr,
			TerminalSubnetCidr: s.TerminalSubnetCidr,
			VpnPrivateIP:       s.VpnPrivateIP,
			TerminalPrivateIP:  s.TerminalPrivateIP,
			NoTerminal:         !s.HasTerminal(),
			AvailabilityZone:   s.AvailabilityZone,
			InstanceType:       s.InstanceType,
			Ami:                s.Ami,
			SSHPublicKey:       infra.sshPublicKey,
			SSHAllowedCIDRs:    cfg.SSHAllowedCIDRs,
			Tags:               map[string]string{"pulumi:stack": ctx.Stack()},
		})
		if err != nil {
			return nil, err
		}
		byName[s.Name] = site
		infra.sites = append(infra.sites, site)
	}

	for _, l := range cfg.Links {
		link, err := vpclink.NewLink(ctx, l.Name, &vpclink.LinkArgs{
			Sites:           [2]*vpclink.Site{byName[l.Sites[0]], byName[l.Sites[1]]},
			Port:            l.Port,
			TunnelAddresses: [2]string{l.TunnelAddresses[0], l.TunnelAddresses[1]},
			MTU:             cfg.TunnelMTU,
			SSH:             vpclink.SSHArgs{User: cfg.SSHUser, PrivateKey: infra.sshPrivateKey},
			SkipCheck:       !cfg.CheckEnabled(),
		}, pulumi.Providers(infra.random, infra.command))
		if err != nil {
			return nil, err
		}
		infra.links = append(infra.links, link)
	}
	return infra, nil
}

// sshKey takes the operator's key pair or derives one from a random seed
// kept (secret) in the stack state, so it is the same on every run.
func (infra *infrastructure) sshKey(ctx *pulumi.Context) error {
	cfg := infra.config
	if cfg.SSHPublicKey != "" {
		infra.sshPublicKey = pulumi.String(cfg.SSHPublicKey).ToStringOutput()
		infra.sshPrivateKey = pulumi.ToSecret(pulumi.String(cfg.SSHPrivateKey)).(pulumi.StringOutput)
		return nil
	}
	seed, err := random.NewRandomBytes(ctx, "ssh-key-seed", &random.RandomBytesArgs{
		Length: pulumi.Int(sshkey.SeedBytes),
	}, pulumi.Provider(infra.random))
	if err != nil {
		return err
	}
	half := func(pick func(sshkey.Pair) string) pulumi.StringOutput {
		return seed.Hex.ApplyT(func(h string) (string, error) {
			if h == "" { // not reported (minimal test mocks)
				return "", nil
			}
			p, err := sshkey.FromSeed(h)
			return pick(p), err
		}).(pulumi.StringOutput)
	}
	infra.generatedKey = true
	infra.sshPrivateKey = pulumi.ToSecret(half(func(p sshkey.Pair) string { return p.PrivateKeyPEM })).(pulumi.StringOutput)
	// The public half is not a secret: show it, and let AWS store it plainly.
	infra.sshPublicKey = pulumi.Unsecret(half(func(p sshkey.Pair) string { return p.AuthorizedKey })).(pulumi.StringOutput)
	return nil
}

// outputs are the stack outputs: how to reach and check everything. Secrets
// are exported only as secrets.
func outputs(infra *infrastructure) pulumi.Map {
	user := infra.config.SSHUser
	sites := pulumi.Map{}
	for _, s := range infra.sites {
		m := pulumi.Map{
			"region":                pulumi.String(s.Region),
			"vpcId":                 s.VpcID,
			"vpcCidr":               pulumi.String(s.VpcCidr),
			"routeTableId":          s.RouteTableID,
			"vpnInstanceId":         s.VpnInstanceID,
			"vpnNetworkInterfaceId": s.VpnNetworkInterfaceID,
			"vpnPrivateIp":          s.VpnPrivateIP,
			"vpnPublicIp":           s.VpnPublicIP,
			"sshVpn":                pulumi.Sprintf("ssh %s@%s", user, s.VpnPublicIP),
		}
		if s.HasTerminal {
			m["terminalPrivateIp"] = s.TerminalPrivateIP
			m["terminalPublicIp"] = s.TerminalPublicIP
			m["sshTerminal"] = pulumi.Sprintf("ssh %s@%s", user, s.TerminalPublicIP)
		}
		sites[s.Name] = m
	}

	links := pulumi.Map{}
	checks := pulumi.Map{}
	for i, l := range infra.links {
		cl := infra.config.Links[i]
		links[l.Name] = pulumi.Map{
			"sites":           pulumi.ToStringArray(cl.Sites),
			"port":            pulumi.Int(cl.Port),
			"tunnelAddresses": pulumi.ToStringArray(cl.TunnelAddresses),
		}
		checks[l.Name] = l.CheckResults
	}
	out := pulumi.Map{
		"sites":        sites,
		"links":        links,
		"tunnelCheck":  checks,
		"sshPublicKey": infra.sshPublicKey,
	}
	if infra.generatedKey {
		out["sshPrivateKey"] = infra.sshPrivateKey
	}
	return out
}
