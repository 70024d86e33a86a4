// Command vpclink is a Pulumi program that joins the private networks of
// Amazon VPCs in different regions with OpenVPN site-to-site tunnels.
//
// The story: read and validate the configuration, warn about AWS default
// quotas it exceeds, build each site (VPC, subnets, route table, instances)
// in its own region, link the sites (static key, cross routes, OpenVPN over
// SSH, ping check), export what an operator needs to reach and verify
// everything.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/hexsecret"
	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
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
	if err := warnQuotas(ctx, cfg); err != nil {
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
	values := map[string]string{}
	secret := map[string]bool{}
	for _, k := range configKeys(ctx) {
		if v, ok := ctx.GetConfig(k); ok {
			values[k] = v
			secret[k] = ctx.IsConfigSecret(k)
		}
	}
	c, err := topology.Decode(values, secret)
	if err != nil {
		return c, fmt.Errorf("invalid configuration; no resource was created, changed or deleted:\n%w", err)
	}
	c = topology.Normalize(c)
	if err := topology.Validate(c); err != nil {
		return c, fmt.Errorf("invalid configuration; no resource was created, changed or deleted:\n%w", err)
	}
	return c, nil
}

// warnQuotas warns, before anything is created, about every AWS default
// quota the configuration exceeds (Elastic IPs and VPCs per region, routes
// per route table, rules per security group). It never refuses: the
// account's quotas may have been raised. Where a summary route would save
// routes and rules, it says which (topology.SuggestSummary).
func warnQuotas(ctx *pulumi.Context, cfg topology.Config) error {
	for _, w := range topology.QuotaWarnings(cfg) {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	if cidr, without, with := topology.SuggestSummary(cfg); cidr != "" {
		return ctx.Log.Info(fmt.Sprintf("vpclink:summaryCidr %s covers every VPC and no tunnel address: with it, the sites' routes and terminal rules for other VPCs would be %d instead of %d (`pulumi config set vpclink:summaryCidr %s`, if no other network of yours is inside it)", cidr, with, without, cidr), nil)
	}
	return nil
}

// configKeys returns every configuration key of the program's namespace, so
// that a misspelt one (vpclink:tunnelMTU) is refused rather than ignored.
//
// pulumi.Context answers only for keys it is asked about. The whole map is
// what the language host hands the program in PULUMI_CONFIG (pulumi.EnvConfig,
// the variable pulumi.Run reads it from); it is used only when it agrees with
// the context on every key, i.e. when it is this run's configuration (a run
// given its configuration through RunOptions, as under mocks, may not have
// it). Otherwise only the known keys are read.
func configKeys(ctx *pulumi.Context) []string {
	var keys []string
	for _, k := range topology.Keys {
		keys = append(keys, topology.ConfigNamespace+":"+k)
	}
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return keys
	}
	for _, k := range keys {
		v, ok := ctx.GetConfig(k)
		if w, inEnv := all[k]; ok != inEnv || v != w {
			return keys
		}
	}
	var extra []string
	for k, w := range all {
		if v, ok := ctx.GetConfig(k); !ok || v != w {
			return keys
		}
		if strings.HasPrefix(k, topology.ConfigNamespace+":") && !slices.Contains(keys, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	return append(keys, extra...)
}

// siteInputError names the configuration key of a site input that the
// site's region refused (a vpclink.InputError); other errors pass as they are.
func siteInputError(cfg topology.Config, i int, err error) error {
	var ie *vpclink.InputError
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
	fe.Key = topology.ConfigNamespace + ":" + k
	return fe
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
	// transit holds, by site, the output of the check of the sites it
	// reaches through the hub.
	transit map[string]pulumi.StringOutput
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

	// Every site is planned (the region's API answers what it needs and
	// refuses what it cannot have) before any AWS resource is registered.
	byName := map[string]*vpclink.Site{}
	for i, s := range cfg.Sites {
		site, err := vpclink.PlanSite(ctx, s.Name, &vpclink.SiteArgs{
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
			OS:                 s.OS,
			SSHPublicKey:       infra.sshPublicKey,
			SSHAllowedCIDRs:    cfg.SSHAllowedCIDRs,
			Tags:               map[string]string{"pulumi:stack": ctx.Stack()},
			SummaryCidr:        cfg.SummaryCidr,
		}, pulumi.Providers(infra.random))
		if err != nil {
			return nil, fmt.Errorf("configuration refused by region %s; no AWS resource was created, changed or deleted:\n%w", s.Region, siteInputError(cfg, i, err))
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
		var transit [2][]*vpclink.Site
		for e, s := range l.Sites {
			for _, r := range routes[s] {
				if r.Link == i && !r.Direct {
					transit[e] = append(transit[e], byName[r.Site])
				}
			}
		}
		link, err := vpclink.NewLink(ctx, l.Name, &vpclink.LinkArgs{
			Transit:         transit,
			Mode:            openvpn.Mode(cfg.LinkMode(i)),
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
	return infra, infra.transitChecks(ctx, routes, byName)
}

// transitChecks registers, with a hub and the post-deploy check on, one
// check per site that reaches others through the hub: it pings each of
// them after every setup on the way (a link's own check covers its two
// ends only).
func (infra *infrastructure) transitChecks(ctx *pulumi.Context, routes map[string][]topology.Route, byName map[string]*vpclink.Site) error {
	cfg := infra.config
	if !cfg.CheckEnabled() {
		return nil
	}
	infra.transit = map[string]pulumi.StringOutput{}
	for _, s := range cfg.Sites {
		var to []*vpclink.Site
		var links []*vpclink.Link
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
		check, err := vpclink.NewTransitCheck(ctx, &vpclink.TransitCheckArgs{
			From: byName[s.Name], To: to, Links: links,
			SSH: vpclink.SSHArgs{User: cfg.SSHUser, PrivateKey: infra.sshPrivateKey},
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
func (infra *infrastructure) sshKey(ctx *pulumi.Context) error {
	cfg := infra.config
	if cfg.SSHPublicKey != "" {
		infra.sshPublicKey = pulumi.String(cfg.SSHPublicKey).ToStringOutput()
		infra.sshPrivateKey = pulumi.ToSecret(pulumi.String(cfg.SSHPrivateKey)).(pulumi.StringOutput)
		return nil
	}
	seed, err := hexsecret.New(ctx, "ssh-key-seed", sshkey.SeedBytes, pulumi.Provider(infra.random))
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
// (`pulumi stack output --show-secrets sshPrivateKey > vpclink.key`); the
// sshVpn/sshTerminal outputs name it.
const KeyFile = "vpclink.key"

// outputs are the stack outputs: how to reach and check everything. Secrets
// are exported only as secrets.
func outputs(infra *infrastructure) pulumi.Map {
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
