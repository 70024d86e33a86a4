package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Quota is an AWS service quota that a configuration uses up, with its
// default value (SPEC: AWS facts for day-2 changes and scale). Accounts may
// have raised it, so exceeding the default is a warning, never a refusal.
type Quota struct {
	// Name is the quota's name in the Service Quotas console.
	Name string
	// ServiceCode and Code identify it for Service Quotas
	// (aws service-quotas ... --service-code ServiceCode --quota-code Code).
	ServiceCode, Code string
	// Service is the service's name in the Service Quotas console.
	Service string
	// Default is AWS's default value; Per says what it applies to.
	Default int
	Per     string
}

// The quotas a configuration of this program uses up.
var (
	QuotaElasticIPs = Quota{Name: "EC2-VPC Elastic IPs", ServiceCode: "ec2", Code: "L-0263D0A3",
		Service: "Amazon Elastic Compute Cloud (Amazon EC2)", Default: 5, Per: "region"}
	QuotaVPCs = Quota{Name: "VPCs per Region", ServiceCode: "vpc", Code: "L-F678F1CE",
		Service: "Amazon Virtual Private Cloud (Amazon VPC)", Default: 5, Per: "region"}
	QuotaRoutes = Quota{Name: "Routes per route table", ServiceCode: "vpc", Code: "L-93826ACB",
		Service: "Amazon Virtual Private Cloud (Amazon VPC)", Default: 500, Per: "route table"}
	QuotaSecurityGroupRules = Quota{Name: "Inbound or outbound rules per security group", ServiceCode: "vpc", Code: "L-0EA8095F",
		Service: "Amazon Virtual Private Cloud (Amazon VPC)", Default: 60, Per: "security group"}
)

// Security groups of a site, as QuotaUse.Group names them.
const (
	VpnGroup      = "vpn"
	TerminalGroup = "terminal"
)

// QuotaUse is how much of one quota the configuration needs in one place: a
// region (Elastic IPs, VPCs), a site's route table, or one of a site's
// security groups (inbound rules).
type QuotaUse struct {
	Quota  Quota
	Region string
	// Site is the site of a route table or security group; "" for a
	// region-wide quota.
	Site string
	// Group is VpnGroup or TerminalGroup for security group rules.
	Group string
	// Count is how many the configuration needs; Sites are the sites that
	// need them (region-wide quotas).
	Count int
	Sites []string
}

// QuotaUsage counts what a valid, normalized configuration needs of each
// quota, exactly as the components create it (components/vpclink, site.go
// and link.go; a root package test compares the counts with the program):
//
//   - Elastic IPs per region: one per VPN instance (two with high
//     availability) and one per terminal;
//   - VPCs per region: one per site;
//   - routes in a site's one route table: the default route to the internet
//     gateway and one route per VPC the site reaches (Routes: its peers',
//     and with a hub the VPCs beyond it), or with SummaryCidr one for the
//     summary; with high availability also one per link with a second
//     tunnel (the peer's first tunnel address, for the monitor's probe);
//   - inbound rules of a site's VPN group: SSH per sshAllowedCidrs entry,
//     all traffic from the VPC, and per link the tunnel port from the peer
//     (two per link with a second tunnel: one per tunnel);
//   - inbound rules of a site's terminal group (created also when the site
//     has no terminal): SSH per sshAllowedCidrs entry, ICMP from the VPC,
//     and, when the site has a terminal, ICMP and traceroute from each VPC
//     it reaches, or with SummaryCidr from the summary.
//
// Each group has one outbound rule, far below the quota, not listed. Uses
// come in site order, region-wide ones in order of the regions' first sites.
func QuotaUsage(c Config) []QuotaUse {
	links, haLinks := map[string]int{}, map[string]int{}
	for k, l := range c.Links {
		for _, s := range l.Sites {
			links[s]++
			if c.LinkHA(k) {
				haLinks[s]++
			}
		}
	}
	routes := c.Routes()
	reached := func(site string) int {
		if c.SummaryCidr != "" {
			return 1
		}
		return len(routes[site])
	}
	var regions []string
	perRegion := map[string]*[2]QuotaUse{}
	var local []QuotaUse
	ssh := len(c.SSHAllowedCIDRs)
	for i, s := range c.Sites {
		r := perRegion[s.Region]
		if r == nil {
			r = &[2]QuotaUse{{Quota: QuotaElasticIPs, Region: s.Region}, {Quota: QuotaVPCs, Region: s.Region}}
			perRegion[s.Region] = r
			regions = append(regions, s.Region)
		}
		eips := 1
		if c.SiteHA(i) {
			eips++
		}
		terminalLinkRules := 0
		if s.HasTerminal() {
			eips++
			terminalLinkRules = 2 * reached(s.Name)
		}
		r[0].Count += eips
		r[1].Count++
		r[0].Sites = append(r[0].Sites, s.Name)
		r[1].Sites = append(r[1].Sites, s.Name)
		local = append(local,
			QuotaUse{Quota: QuotaRoutes, Region: s.Region, Site: s.Name, Count: 1 + reached(s.Name) + haLinks[s.Name]},
			QuotaUse{Quota: QuotaSecurityGroupRules, Region: s.Region, Site: s.Name, Group: VpnGroup, Count: ssh + 1 + links[s.Name] + haLinks[s.Name]},
			QuotaUse{Quota: QuotaSecurityGroupRules, Region: s.Region, Site: s.Name, Group: TerminalGroup, Count: ssh + 1 + terminalLinkRules},
		)
	}
	var out []QuotaUse
	for _, r := range regions {
		out = append(out, perRegion[r][0], perRegion[r][1])
	}
	return append(out, local...)
}

// Over reports whether the use exceeds the quota's default value.
func (u QuotaUse) Over() bool { return u.Count > u.Quota.Default }

// where names the place of a use in messages.
func (u QuotaUse) where() string {
	switch {
	case u.Site == "":
		return fmt.Sprintf("%s (sites %s)", u.Region, strings.Join(u.Sites, ", "))
	case u.Group != "":
		return fmt.Sprintf("site %q's %s security group (%s)", u.Site, u.Group, u.Region)
	}
	return fmt.Sprintf("site %q's route table (%s)", u.Site, u.Region)
}

// why says what makes up the count of a quota, for messages.
var why = map[string]string{
	QuotaElasticIPs.Code:         "one per VPN instance (two per site with high availability) and one per terminal; Elastic IPs the account already holds in the region count too",
	QuotaVPCs.Code:               "one per site; VPCs the account already has in the region, default VPC included, count too",
	QuotaRoutes.Code:             "the default route and one per VPC the site reaches (vpclink:summaryCidr makes that one)",
	QuotaSecurityGroupRules.Code: "inbound: SSH per vpclink:sshAllowedCidrs entry, one from the site's VPC, per link one (VPN group), and two per VPC the site reaches (terminal group; vpclink:summaryCidr makes that two)",
}

// QuotaWarnings returns one message per quota whose default value the
// configuration exceeds somewhere: the quota and its code, the default, what
// the configuration needs and where, and how to raise it. The program logs
// them as warnings before it creates anything; nothing is refused, since the
// account's quotas may have been raised.
func QuotaWarnings(c Config) []string {
	over := map[string][]QuotaUse{}
	var order []Quota
	for _, u := range QuotaUsage(c) {
		if !u.Over() {
			continue
		}
		if over[u.Quota.Code] == nil {
			order = append(order, u.Quota)
		}
		over[u.Quota.Code] = append(over[u.Quota.Code], u)
	}
	var out []string
	for _, q := range order {
		uses := over[q.Code]
		// The largest first: it is the value to ask for.
		sort.SliceStable(uses, func(i, j int) bool { return uses[i].Count > uses[j].Count })
		var places []string
		for n, u := range uses {
			if n == 3 {
				places = append(places, fmt.Sprintf("and %d more", len(uses)-n))
				break
			}
			places = append(places, fmt.Sprintf("%d in %s", u.Count, u.where()))
		}
		regions := map[string]bool{}
		var list []string
		for _, u := range uses {
			if !regions[u.Region] {
				regions[u.Region] = true
				list = append(list, u.Region)
			}
		}
		region := list[0]
		if len(list) > 1 {
			region = "REGION (each of " + strings.Join(list, ", ") + ")"
		}
		out = append(out, fmt.Sprintf("AWS quota %q (quota code %s) is %d per %s by default; this configuration needs %s, counting %s. "+
			"Unless the account's quota is higher, `pulumi up` will fail when it creates them. "+
			"Check and raise it in the Service Quotas console (AWS services > %s > %s > Request increase at account level, in %s), "+
			"or: aws service-quotas request-service-quota-increase --service-code %s --quota-code %s --desired-value %d --region %s",
			q.Name, q.Code, q.Default, q.Per, strings.Join(places, ", "), why[q.Code],
			q.Service, q.Name, strings.Join(list, ", "), q.ServiceCode, q.Code, uses[0].Count, region))
	}
	return out
}
