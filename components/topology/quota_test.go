package topology

import (
	"fmt"
	"strings"
	"testing"
)

// manySites returns n valid sites, site i in region(i) with a terminal
// unless noTerminal(i).
func manySites(n int, region func(int) string, noTerminal func(int) bool) []Site {
	var out []Site
	for i := 0; i < n; i++ {
		base := fmt.Sprintf("10.%d.%d", i/16, i%16*16)
		s := Site{
			Name: fmt.Sprintf("s%d", i), Region: region(i), VpcCidr: base + ".0/20",
			VpnSubnetCidr: base + ".0/24", TerminalSubnetCidr: fmt.Sprintf("10.%d.%d.0/24", i/16, i%16*16+1),
			VpnPrivateIP: base + ".10", TerminalPrivateIP: fmt.Sprintf("10.%d.%d.30", i/16, i%16*16+1),
		}
		if noTerminal != nil && noTerminal(i) {
			s.Terminal = boolPtr(false)
		}
		out = append(out, s)
	}
	return out
}

func oneRegion(int) string { return "eu-west-1" }

// star links site 0 with every other site.
func star(sites []Site) []Link {
	var out []Link
	for _, s := range sites[1:] {
		out = append(out, Link{Sites: []string{sites[0].Name, s.Name}})
	}
	return out
}

// uses renders what QuotaUsage found, one line per use, for comparison.
func uses(c Config) map[string]int {
	out := map[string]int{}
	for _, u := range QuotaUsage(c) {
		k := u.Quota.Code + " " + u.Region
		if u.Site != "" {
			k += " " + u.Site
		}
		if u.Group != "" {
			k += " " + u.Group
		}
		out[k] = u.Count
	}
	return out
}

func TestQuotaUsage(t *testing.T) {
	const eip, vpcs, routes, rules = "L-0263D0A3", "L-F678F1CE", "L-93826ACB", "L-0EA8095F"
	for _, tc := range []struct {
		name string
		c    Config
		// want holds some uses (key as uses() renders it) and their counts.
		want map[string]int
		// warn holds the quota codes that are warned about, in order.
		warn []string
	}{
		{name: "reference: two regions, one link", c: twoSites(), want: map[string]int{
			eip + " eu-west-1": 2, vpcs + " eu-west-1": 1, eip + " sa-east-1": 2,
			routes + " eu-west-1 a": 2, rules + " eu-west-1 a vpn": 3, rules + " eu-west-1 a terminal": 4,
		}},
		{name: "three sites in one region: 6 Elastic IPs", c: Config{Sites: manySites(3, oneRegion, nil)},
			want: map[string]int{eip + " eu-west-1": 6, vpcs + " eu-west-1": 3}, warn: []string{eip}},
		{name: "a site without terminal uses one Elastic IP", c: Config{Sites: manySites(3, oneRegion, func(i int) bool { return i == 2 })},
			want: map[string]int{eip + " eu-west-1": 5, rules + " eu-west-1 s2 terminal": 2, rules + " eu-west-1 s2 vpn": 4}},
		{name: "six VPCs in one region", c: Config{Sites: manySites(6, oneRegion, func(int) bool { return true })},
			want: map[string]int{eip + " eu-west-1": 6, vpcs + " eu-west-1": 6}, warn: []string{eip, vpcs}},
		{name: "six sites in two regions", c: Config{Sites: manySites(6, func(i int) string { return []string{"eu-west-1", "us-east-1"}[i%2] }, nil)},
			want: map[string]int{eip + " eu-west-1": 6, vpcs + " eu-west-1": 3, eip + " us-east-1": 6}, warn: []string{eip}},
		{name: "58 SSH networks: the terminal group needs 61", c: func() Config {
			c := twoSites()
			for i := 0; i < 58; i++ {
				c.SSHAllowedCIDRs = append(c.SSHAllowedCIDRs, fmt.Sprintf("198.51.100.%d/32", i))
			}
			return c
		}(), want: map[string]int{rules + " eu-west-1 a vpn": 60, rules + " eu-west-1 a terminal": 61, routes + " sa-east-1 b": 2}, warn: []string{rules}},
		{name: "mesh of 31 sites in 31 regions", c: Config{Sites: manySites(31, func(i int) string { return fmt.Sprintf("eu-test-%d", i+1) }, nil)},
			want: map[string]int{routes + " eu-test-1 s0": 31, rules + " eu-test-1 s0 vpn": 32, rules + " eu-test-1 s0 terminal": 62}, warn: []string{rules}},
		{name: "a hub with 500 links needs 501 routes", c: func() Config {
			s := manySites(501, func(i int) string { return fmt.Sprintf("eu-test-%d", i/4+1) }, func(i int) bool { return i > 0 })
			return Config{Sites: s, Links: star(s)}
		}(), want: map[string]int{routes + " eu-test-1 s0": 501, routes + " eu-test-1 s1": 2, rules + " eu-test-1 s0 vpn": 502, rules + " eu-test-1 s0 terminal": 1002,
			rules + " eu-test-1 s1 terminal": 2, eip + " eu-test-1": 5, vpcs + " eu-test-1": 4},
			warn: []string{routes, rules}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Normalize(tc.c)
			if err := Validate(c); err != nil {
				t.Fatalf("invalid test configuration: %v", err)
			}
			got := uses(c)
			if len(got) != 2*len(regionsOf(c))+3*len(c.Sites) {
				t.Errorf("%d uses for %d sites in %d regions", len(got), len(c.Sites), len(regionsOf(c)))
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Errorf("%s: %d, want %d", k, got[k], n)
				}
			}
			warnings := QuotaWarnings(c)
			if len(warnings) != len(tc.warn) {
				t.Fatalf("%d warnings, want %d:\n%s", len(warnings), len(tc.warn), strings.Join(warnings, "\n"))
			}
			for i, code := range tc.warn {
				if !strings.Contains(warnings[i], "(quota code "+code+")") || !strings.Contains(warnings[i], "--quota-code "+code) {
					t.Errorf("warning %d is not about %s: %s", i, code, warnings[i])
				}
			}
		})
	}
}

func regionsOf(c Config) map[string]bool {
	out := map[string]bool{}
	for _, s := range c.Sites {
		out[s.Region] = true
	}
	return out
}

// A warning names the quota, its default, what is needed where, and how to
// raise it (console and CLI, with the value to ask for).
func TestQuotaWarningText(t *testing.T) {
	c := Normalize(Config{Sites: manySites(3, oneRegion, nil)})
	w := QuotaWarnings(c)
	if len(w) != 1 {
		t.Fatalf("warnings: %q", w)
	}
	for _, want := range []string{
		`AWS quota "EC2-VPC Elastic IPs" (quota code L-0263D0A3) is 5 per region by default`,
		`needs 6 in eu-west-1 (sites s0, s1, s2), counting one per VPN instance (two per site with high availability) and one per terminal`,
		`Elastic IPs the account already holds`,
		`Service Quotas console`,
		`aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-0263D0A3 --desired-value 6 --region eu-west-1`,
	} {
		if !strings.Contains(w[0], want) {
			t.Errorf("warning lacks %q:\n%s", want, w[0])
		}
	}
	// Many places: the largest first (the value to ask for), then at most
	// three, then how many more.
	c = Normalize(Config{Sites: manySites(31, func(i int) string { return fmt.Sprintf("eu-test-%d", i+1) }, nil)})
	w = QuotaWarnings(c)
	if len(w) != 1 || !strings.Contains(w[0], `needs 62 in site "s0"'s terminal security group (eu-test-1), 62 in site "s1"'s`) ||
		!strings.Contains(w[0], ", and 28 more, counting") || !strings.Contains(w[0], "--desired-value 62 ") {
		t.Errorf("warning: %q", w)
	}
}
