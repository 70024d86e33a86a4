package topology

import (
	"reflect"
	"strings"
	"testing"
)

func TestHubLinksAndRoutes(t *testing.T) {
	c := threeSites()
	c.Sites = append(c.Sites, meshSites(4)[3])
	c.Sites[3].VpcCidr, c.Sites[3].VpnSubnetCidr, c.Sites[3].TerminalSubnetCidr, c.Sites[3].VpnPrivateIP = "10.3.0.0/16", "10.3.0.0/24", "10.3.1.0/24", "10.3.0.10"
	c.Hub = "b"
	n := Normalize(c)
	if err := Validate(n); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, l := range n.Links {
		got = append(got, l.Sites)
	}
	if want := [][]string{{"b", "a"}, {"b", "c"}, {"b", "s3"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hub links %v, want %v", got, want)
	}
	r := n.Routes()
	if want := []Route{{"b", "10.1.0.0/16", 0, true}, {"c", "10.2.0.0/16", 0, false}, {"s3", "10.3.0.0/16", 0, false}}; !reflect.DeepEqual(r["a"], want) {
		t.Errorf("a's routes %v, want %v", r["a"], want)
	}
	if want := []Route{{"a", "10.0.0.0/16", 0, true}, {"c", "10.2.0.0/16", 1, true}, {"s3", "10.3.0.0/16", 2, true}}; !reflect.DeepEqual(r["b"], want) {
		t.Errorf("the hub's routes %v, want %v", r["b"], want)
	}
	if got := n.Networks("c", 1); !reflect.DeepEqual(got, []string{"10.0.0.0/16", "10.1.0.0/16", "10.3.0.0/16"}) {
		t.Errorf("c sends %v into its link to the hub", got)
	}
	// A direct link wins over the hub.
	c.Links = append(hubLinks(c.Sites, "b"), Link{Sites: []string{"c", "a"}})
	n = Normalize(c)
	if err := Validate(n); err != nil {
		t.Fatal(err)
	}
	if got := n.Routes()["a"][1]; got != (Route{"c", "10.2.0.0/16", 3, true}) {
		t.Errorf("a -> c goes %v, want the direct link 3", got)
	}
	// Without a hub, a partial mesh reaches linked sites only.
	c.Hub = ""
	c.Links = []Link{{Sites: []string{"a", "b"}}, {Sites: []string{"b", "c"}}}
	if got := Normalize(c).Routes()["a"]; len(got) != 1 || got[0].Site != "b" {
		t.Errorf("partial mesh without a hub: a routes %v, want b only", got)
	}
}

func TestHubAndSummaryRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"hub not a site", func(c *Config) { c.Hub = "bb" }, `config vpclink:hub = "bb": is not the name of a site in vpclink:sites; did you mean b?`},
		{"spoke without a link to the hub", func(c *Config) {
			c.Hub = "a"
			c.Links = []Link{{Sites: []string{"a", "b"}}, {Sites: []string{"b", "c"}}}
		}, `config vpclink:hub = "a": site "c" (sites[2]) has no link to the hub in vpclink:links, so it does not reach "a"; add a link with sites ["a", "c"]`},
		{"summary misses a VPC", func(c *Config) { c.SummaryCidr = "10.0.0.0/15" }, `config vpclink:summaryCidr = "10.0.0.0/15": does not cover sites[2].vpcCidr 10.2.0.0/16 (site "c")`},
		{"summary holds a tunnel address", func(c *Config) { c.SummaryCidr = "10.0.0.0/8" }, `config vpclink:summaryCidr = "10.0.0.0/8": contains the default tunnel address of links[0] "a-b" (from 10.254.0.0/16) 10.254.0.1`},
		{"summary holds a given tunnel address", func(c *Config) {
			c.SummaryCidr = "10.0.0.0/8"
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"169.254.0.1", "169.254.0.2"}}, {Sites: []string{"a", "c"}, TunnelAddresses: []string{"10.200.0.1", "10.200.0.2"}}}
		}, `config vpclink:summaryCidr = "10.0.0.0/8": contains links[1].tunnelAddresses[0] 10.200.0.1`},
		{"summary is the default route", func(c *Config) { c.SummaryCidr = "0.0.0.0/0" }, `config vpclink:summaryCidr = "0.0.0.0/0": is the default route`},
		{"summary with host bits", func(c *Config) { c.SummaryCidr = "10.1.2.3/8" }, `config vpclink:summaryCidr = "10.1.2.3/8": has host bits set; did you mean 10.0.0.0/8?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := threeSites()
			tc.edit(&c)
			err := Validate(Normalize(c))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	// A summary that covers the VPCs and no tunnel address is accepted.
	c := threeSites()
	c.Hub, c.SummaryCidr = "c", "10.0.0.0/14"
	if err := Validate(Normalize(c)); err != nil {
		t.Errorf("hub c, summary 10.0.0.0/14: %v", err)
	}
}

// Pulumi.yaml declares "" as the default of hub and summaryCidr, and the
// CLI passes it: "" is no hub and no summary.
func TestHubAndSummaryEmptyAreUnset(t *testing.T) {
	c, err := Decode(map[string]string{
		"vpclink:sites":       `[{"name":"a","region":"eu-west-1","vpcCidr":"10.0.0.0/16","vpnSubnetCidr":"10.0.0.0/24","terminalSubnetCidr":"10.0.1.0/24","vpnPrivateIp":"10.0.0.10","terminalPrivateIp":"10.0.1.30"},{"name":"b","region":"sa-east-1","vpcCidr":"10.1.0.0/16","vpnSubnetCidr":"10.1.0.0/24","terminalSubnetCidr":"10.1.1.0/24","vpnPrivateIp":"10.1.0.20","terminalPrivateIp":"10.1.1.40"}]`,
		"vpclink:hub":         "",
		"vpclink:summaryCidr": "",
	}, nil)
	if err == nil {
		err = Validate(Normalize(c))
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err = Decode(map[string]string{"vpclink:hub": `["a"]`}, nil)
	if err == nil || !strings.Contains(err.Error(), `config vpclink:hub = ["a"]: must be a string, not a list`) {
		t.Errorf("a list for hub: %v", err)
	}
}

func TestSuggestSummary(t *testing.T) {
	c := threeSites()
	c.Hub = "a"
	n := Normalize(c)
	// 3 sites with terminals each reaching 2: 18 routes and rules; a
	// summary 9.
	if got, without, with := SuggestSummary(n); got != "10.0.0.0/14" || without != 18 || with != 9 {
		t.Errorf("SuggestSummary = %q, %d, %d; want 10.0.0.0/14, 18, 9", got, without, with)
	}
	n.SummaryCidr = got(SuggestSummary(n))
	if err := Validate(n); err != nil {
		t.Errorf("the suggestion is refused: %v", err)
	}
	// A cover holding a tunnel address is no suggestion.
	c.Sites[2].VpcCidr, c.Sites[2].VpnSubnetCidr, c.Sites[2].TerminalSubnetCidr = "10.200.0.0/16", "10.200.0.0/24", "10.200.1.0/24"
	c.Sites[2].VpnPrivateIP, c.Sites[2].TerminalPrivateIP = "10.200.0.10", "10.200.1.10"
	if got, _, _ := SuggestSummary(Normalize(c)); got != "" {
		t.Errorf("suggested %s, which holds the tunnel network 10.254.0.0/16", got)
	}
	// Two sites: nothing to save.
	if got, _, _ := SuggestSummary(Normalize(twoSites())); got != "" {
		t.Errorf("two sites: suggested %s", got)
	}
}

func got(s string, _, _ int) string { return s }
