package vpclink

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/sshkey"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// NetworkType is the Network component's type token.
const NetworkType = "vpclink:index:Network"

// NetworkArgs is the set of arguments of NewNetwork: the whole topology as
// plain data, exactly the shape of the program's stack configuration
// (topology.Config: sites, links, hub, summaryCidr, tunnelMode, tunnelMtu,
// SSH settings, ...). Values left zero take the defaults of the
// topology package.
type NetworkArgs struct {
	topology.Config
	// KeyPrefix is put before every input path in error messages: "" (the
	// default) names the component's inputs as written
	// ("sites[1].vpcCidr"), "vpclink:" the program's configuration keys.
	KeyPrefix string
}

// Network is a set of sites joined by OpenVPN links: what the vpclink
// program deploys, as one component. Outputs holds what the program
// exports (per site: ids, addresses, ssh commands, pinned known_hosts
// lines; per link: ports, addresses, check results; the generated SSH key
// as a secret).
type Network struct {
	pulumi.ResourceState

	// Config is the normalized configuration the network was built from.
	Config topology.Config
	// Sites and Links are the components, in configuration order.
	Sites []*Site
	Links []*Link
	// Outputs are the network's outputs (see outputs for their shape).
	Outputs pulumi.Map
}

// noParentAlias keeps the resources the program registered at the top of
// the stack before it built them inside a Network: the same resources,
// now children of the component.
var noParentAlias = pulumi.Aliases([]pulumi.Alias{{NoParent: pulumi.Bool(true)}})

// NewNetwork validates args (every problem at once, each naming the input
// path with KeyPrefix and the value as written) and warns about AWS default
// quotas it exceeds, before it registers anything; then it registers the
// component and builds every site (each planned against its region first),
// link and check. Errors: a *topology.FieldError per invalid input, joined.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil {
		args = &NetworkArgs{}
	}
	cfg := topology.Normalize(args.Config)
	if err := topology.Validate(cfg); err != nil {
		return nil, fmt.Errorf("invalid configuration; no resource was created, changed or deleted:\n%w", withPrefix(err, args.KeyPrefix))
	}
	for _, w := range topology.QuotaWarnings(cfg) {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, err
		}
	}
	if cidr, without, with := topology.SuggestSummary(cfg); cidr != "" {
		if err := ctx.Log.Info(fmt.Sprintf("%ssummaryCidr %s covers every VPC and no tunnel address: with it, the sites' routes and terminal rules for other VPCs would be %d instead of %d (if no other network of yours is inside it)", args.KeyPrefix, cidr, with, without), nil); err != nil {
			return nil, err
		}
	}
	n := &Network{Config: cfg}
	if err := ctx.RegisterComponentResource(NetworkType, name, n, opts...); err != nil {
		return nil, err
	}
	infra, err := createInfrastructure(ctx, cfg, args.KeyPrefix, pulumi.Parent(n))
	if err != nil {
		return nil, err
	}
	n.Sites, n.Links, n.Outputs = infra.sites, infra.links, outputs(infra)
	if err := ctx.RegisterResourceOutputs(n, n.Outputs); err != nil {
		return nil, err
	}
	return n, nil
}

// withPrefix rewrites the configuration keys of every *topology.FieldError
// in err ("vpclink:sites[1].vpcCidr", and the keys their messages name)
// for prefix: "" gives the component's input paths ("sites[1].vpcCidr").
func withPrefix(err error, prefix string) error {
	ns := topology.ConfigNamespace + ":"
	if prefix == ns {
		return err
	}
	var out []error
	for _, e := range flatten(err) {
		var fe *topology.FieldError
		if errors.As(e, &fe) {
			c := *fe
			c.Key = prefix + strings.TrimPrefix(c.Key, ns)
			c.Problem = strings.ReplaceAll(c.Problem, ns, prefix)
			e = &InputPathError{Field: &c}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// InputPathError is an invalid input of the Network component: a
// topology.FieldError whose Key is the input path ("sites[1].vpcCidr"),
// reported as "input <path> = <value>: <problem>" (the program's own
// errors say "config vpclink:...").
type InputPathError struct{ Field *topology.FieldError }

func (e *InputPathError) Error() string {
	return "input " + strings.TrimPrefix(e.Field.Error(), "config ")
}

// Unwrap gives the FieldError, for errors.As.
func (e *InputPathError) Unwrap() error { return e.Field }

// flatten lists the errors joined in err.
func flatten(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// siteInputError names the configuration key of a site input that the
// site's region refused (a InputError); other errors pass as they are.
func siteInputError(cfg topology.Config, prefix string, i int, err error) error {
	var ie *InputError
	if !errors.As(err, &ie) {
		return err
	}
	field := map[string]string{"AvailabilityZone": "availabilityZone", "InstanceType": "instanceType"}[ie.Input]
	if field == "" {
		return err
	}
	k := fmt.Sprintf("sites[%d].%s", i, field)
	fe := &topology.FieldError{Value: ie.Value, Problem: ie.Err.Error()}
	if field == "instanceType" && !cfg.Given(k) {
		// The stack-wide key, or its default.
		k = "instanceType"
		if !cfg.Given(k) {
			fe.Unset, fe.Value = true, ""
			fe.Problem = fmt.Sprintf("the default %s: %v", ie.Value, ie.Err)
		}
	}
	fe.Key = prefix + k
	return fe
}

// network is what NewNetwork builds.
type network struct {
	config topology.Config
	sites  []*Site
	links  []*Link
	// random and command are explicit providers: no resource of the stack
	// uses a default provider.
	random  *random.Provider
	command *command.Provider
	// sshPrivateKey is secret; generatedKey tells whether the program made it.
	sshPrivateKey pulumi.StringOutput
	sshPublicKey  pulumi.StringOutput
	generatedKey  bool
	// transit holds, by site, the output of the check of the sites it
	// reaches through the hub.
	transit map[string]pulumi.StringOutput
}

// createInfrastructure registers every resource of a validated configuration.
func createInfrastructure(ctx *pulumi.Context, cfg topology.Config, keyPrefix string, parent pulumi.ResourceOption) (*network, error) {
	infra := &network{config: cfg}
	var err error
	if infra.random, err = random.NewProvider(ctx, "random", &random.ProviderArgs{}, parent, noParentAlias); err != nil {
		return nil, err
	}
	if infra.command, err = command.NewProvider(ctx, "command", &command.ProviderArgs{}, parent, noParentAlias); err != nil {
		return nil, err
	}
	if err := infra.sshKey(ctx, parent); err != nil {
		return nil, err
	}

	// Every site is planned (the region's API answers what it needs and
	// refuses what it cannot have) before any AWS resource is registered.
	byName := map[string]*Site{}
	for i, s := range cfg.Sites {
		site, err := PlanSite(ctx, s.Name, &SiteArgs{
			Region:                    s.Region,
			VpcCidr:                   s.VpcCidr,
			VpnSubnetCidr:             s.VpnSubnetCidr,
			TerminalSubnetCidr:        s.TerminalSubnetCidr,
			VpnPrivateIP:              s.VpnPrivateIP,
			TerminalPrivateIP:         s.TerminalPrivateIP,
			NoTerminal:                !s.HasTerminal(),
			AvailabilityZone:          s.AvailabilityZone,
			InstanceType:              s.InstanceType,
			Ami:                       s.Ami,
			OS:                        s.OS,
			SSHPublicKey:              infra.sshPublicKey,
			SSHAllowedCIDRs:           cfg.SSHAllowedCIDRs,
			Tags:                      map[string]string{"pulumi:stack": ctx.Stack()},
			SummaryCidr:               cfg.SummaryCidr,
			HighAvailability:          cfg.SiteHA(i),
			SecondaryVpnSubnetCidr:    s.SecondaryVpnSubnetCidr,
			SecondaryVpnPrivateIP:     s.SecondaryVpnPrivateIP,
			SecondaryAvailabilityZone: s.SecondaryAvailabilityZone,
			FailbackHoldDownSeconds:   cfg.FailbackHoldDownSeconds,
		}, pulumi.Providers(infra.random), parent, noParentAlias)
		if err != nil {
			return nil, fmt.Errorf("configuration refused by region %s; no AWS resource was created, changed or deleted:\n%w", s.Region, siteInputError(cfg, keyPrefix, i, err))
		}
		byName[s.Name] = site
		infra.sites = append(infra.sites, site)
	}
	for _, site := range infra.sites {
		if err := site.Build(ctx); err != nil {
			return nil, err
		}
	}

	routes := cfg.Routes()
	for i, l := range cfg.Links {
		// With a hub, a spoke's link to it also carries the VPCs the spoke
		// reaches through the hub.
		var transit [2][]*Site
		for e, s := range l.Sites {
			for _, r := range routes[s] {
				if r.Link == i && !r.Direct {
					transit[e] = append(transit[e], byName[r.Site])
				}
			}
		}
		args := &LinkArgs{
			Transit:         transit,
			Mode:            openvpn.Mode(cfg.LinkMode(i)),
			Sites:           [2]*Site{byName[l.Sites[0]], byName[l.Sites[1]]},
			Port:            l.Port,
			TunnelAddresses: [2]string{l.TunnelAddresses[0], l.TunnelAddresses[1]},
			MTU:             cfg.TunnelMTU,
			SSH:             SSHArgs{User: cfg.SSHUser, PrivateKey: infra.sshPrivateKey},
			SkipCheck:       !cfg.CheckEnabled(),
		}
		if cfg.LinkHA(i) {
			args.SecondaryPort = l.SecondaryPort
			args.SecondaryTunnelAddresses = [2]string{l.SecondaryTunnelAddresses[0], l.SecondaryTunnelAddresses[1]}
		}
		link, err := NewLink(ctx, l.Name, args, pulumi.Providers(infra.random, infra.command), parent, noParentAlias)
		if err != nil {
			return nil, err
		}
		infra.links = append(infra.links, link)
	}
	for _, site := range infra.sites {
		if err := site.Monitors(ctx, SSHArgs{User: cfg.SSHUser, PrivateKey: infra.sshPrivateKey}, pulumi.Provider(infra.command)); err != nil {
			return nil, err
		}
	}
	return infra, infra.transitChecks(ctx, routes, byName)
}

// transitChecks registers, with a hub and the post-deploy check on, one
// check per site that reaches others through the hub: it pings each of
// them after every setup on the way (a link's own check covers its two
// ends only).
func (infra *network) transitChecks(ctx *pulumi.Context, routes map[string][]topology.Route, byName map[string]*Site) error {
	cfg := infra.config
	if !cfg.CheckEnabled() {
		return nil
	}
	infra.transit = map[string]pulumi.StringOutput{}
	for _, s := range cfg.Sites {
		var to []*Site
		var links []*Link
		seen := map[int]bool{}
		use := func(k int) {
			if !seen[k] {
				seen[k] = true
				links = append(links, infra.links[k])
			}
		}
		for _, r := range routes[s.Name] {
			if r.Direct {
				continue
			}
			to = append(to, byName[r.Site])
			use(r.Link)
			for _, h := range routes[cfg.Hub] {
				if h.Site == r.Site {
					use(h.Link)
				}
			}
		}
		if len(to) == 0 {
			continue
		}
		check, err := NewTransitCheck(ctx, &TransitCheckArgs{
			From: byName[s.Name], To: to, Links: links,
			SSH: SSHArgs{User: cfg.SSHUser, PrivateKey: infra.sshPrivateKey},
		}, pulumi.Provider(infra.command))
		if err != nil {
			return err
		}
		infra.transit[s.Name] = check.Stdout
	}
	return nil
}

// sshKey takes the operator's key pair or derives one from a random seed
// kept (secret) in the stack state, so it is the same on every run.
func (infra *network) sshKey(ctx *pulumi.Context, parent pulumi.ResourceOption) error {
	cfg := infra.config
	if cfg.SSHPublicKey != "" {
		infra.sshPublicKey = pulumi.String(cfg.SSHPublicKey).ToStringOutput()
		infra.sshPrivateKey = pulumi.ToSecret(pulumi.String(cfg.SSHPrivateKey)).(pulumi.StringOutput)
		return nil
	}
	seed, err := hexsecret.New(ctx, "ssh-key-seed", sshkey.SeedBytes, pulumi.Provider(infra.random), parent, noParentAlias)
	if err != nil {
		return err
	}
	half := func(pick func(sshkey.Pair) string) pulumi.StringOutput {
		return seed.ApplyT(func(h string) (string, error) {
			if h == "" { // not reported (minimal test mocks)
				return "", nil
			}
			p, err := sshkey.FromSeed(h)
			return pick(p), err
		}).(pulumi.StringOutput)
	}
	infra.generatedKey = true
	infra.sshPrivateKey = pulumi.ToSecret(half(func(p sshkey.Pair) string { return p.PrivateKeyOpenSSH })).(pulumi.StringOutput)
	// The public half is not a secret: show it, and let AWS store it plainly.
	infra.sshPublicKey = pulumi.Unsecret(half(func(p sshkey.Pair) string { return p.AuthorizedKey })).(pulumi.StringOutput)
	return nil
}

// KeyFile is where the README has users write the generated login key
// (`pulumi stack output --show-secrets sshPrivateKey > key`); the
// sshVpn/sshTerminal outputs name it.
const KeyFile = "vpclink.key"

// outputs are the stack outputs: how to reach and check everything. Secrets
// are exported only as secrets.
func outputs(infra *network) pulumi.Map {
	user := infra.config.SSHUser
	// The README writes the generated key to this file; a key of the
	// user's own is wherever they keep it.
	keyFlag := ""
	if infra.generatedKey {
		keyFlag = "-i " + KeyFile + " "
	}
	sites := pulumi.Map{}
	for _, s := range infra.sites {
		m := pulumi.Map{
			"region":                pulumi.String(s.Region),
			"vpcId":                 s.VpcID,
			"vpcCidr":               pulumi.String(s.VpcCidr),
			"availabilityZone":      s.AvailabilityZone,
			"routeTableId":          s.RouteTableID,
			"vpnInstanceId":         s.VpnInstanceID,
			"vpnNetworkInterfaceId": s.VpnNetworkInterfaceID,
			"vpnPrivateIp":          s.VpnPrivateIP,
			"vpnPublicIp":           s.VpnPublicIP,
			"sshVpn":                pulumi.Sprintf("ssh %s%s@%s", keyFlag, user, s.VpnPublicIP),
			// The pinned host key, as a known_hosts line.
			"vpnKnownHost": pulumi.Sprintf("%s %s", s.VpnPublicIP, s.VpnHostKey),
		}
		if s.HighAvailability {
			m["secondaryVpnInstanceId"] = s.SecondaryVpnInstanceID
			m["secondaryVpnNetworkInterfaceId"] = s.SecondaryVpnNetworkInterfaceID
			m["secondaryVpnPrivateIp"] = s.SecondaryVpnPrivateIP
			m["secondaryVpnPublicIp"] = s.SecondaryVpnPublicIP
			m["secondaryAvailabilityZone"] = s.SecondaryAvailabilityZone
			m["sshSecondaryVpn"] = pulumi.Sprintf("ssh %s%s@%s", keyFlag, user, s.SecondaryVpnPublicIP)
			m["secondaryVpnKnownHost"] = pulumi.Sprintf("%s %s", s.SecondaryVpnPublicIP, s.SecondaryVpnHostKey)
			m["monitorRoleArn"] = s.MonitorRoleArn
		}
		if s.HasTerminal {
			m["terminalPrivateIp"] = s.TerminalPrivateIP
			m["terminalPublicIp"] = s.TerminalPublicIP
			m["sshTerminal"] = pulumi.Sprintf("ssh %s%s@%s", keyFlag, user, s.TerminalPublicIP)
			m["terminalKnownHost"] = pulumi.Sprintf("%s %s", s.TerminalPublicIP, s.TerminalHostKey)
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
			// Per site: offloaded or not, and why (OpenVPN's log line).
			"dataChannelOffload": pulumi.StringMap{cl.Sites[0]: l.Offload[0], cl.Sites[1]: l.Offload[1]},
		}
		checks[l.Name] = l.CheckResults
		if l.Secondary != nil {
			lm := links[l.Name].(pulumi.Map)
			lm["secondaryPort"] = pulumi.Int(cl.SecondaryPort)
			lm["secondaryTunnelAddresses"] = pulumi.ToStringArray(cl.SecondaryTunnelAddresses)
			lm["secondaryDataChannelOffload"] = pulumi.StringMap{cl.Sites[0]: l.Secondary.Offload[0], cl.Sites[1]: l.Secondary.Offload[1]}
			checks[l.Name+"-secondary"] = l.Secondary.CheckResults
		}
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
	if infra.config.Hub != "" {
		// The site that forwards between the others.
		out["hub"] = pulumi.String(infra.config.Hub)
	}
	if len(infra.transit) > 0 {
		// Per site: one line per site it reaches through the hub.
		transit := pulumi.Map{}
		for site, o := range infra.transit {
			transit[site] = o
		}
		out["transitCheck"] = transit
	}
	return out
}
