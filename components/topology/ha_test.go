package topology

import (
	"slices"
	"strings"
	"testing"
)

// haSites is twoSites with high availability and the second instances'
// subnets and addresses.
func haSites() Config {
	c := twoSites()
	c.HighAvailability = boolPtr(true)
	c.Sites[0].SecondaryVpnSubnetCidr, c.Sites[0].SecondaryVpnPrivateIP = "10.0.2.0/24", "10.0.2.10"
	c.Sites[1].SecondaryVpnSubnetCidr, c.Sites[1].SecondaryVpnPrivateIP = "10.1.2.0/24", "10.1.2.20"
	return c
}

func TestHADefaults(t *testing.T) {
	n := Normalize(haSites())
	if err := Validate(n); err != nil {
		t.Fatal(err)
	}
	l := n.Links[0]
	if !n.LinkHA(0) || !n.SiteHA(0) || !n.SiteHA(1) {
		t.Fatalf("HA not in effect: site %v %v, link %v", n.SiteHA(0), n.SiteHA(1), n.LinkHA(0))
	}
	if l.SecondaryPort != l.Port+SecondaryPortOffset || l.SecondaryPort != 1294 {
		t.Errorf("secondaryPort = %d, want %d", l.SecondaryPort, l.Port+SecondaryPortOffset)
	}
	if !slices.Equal(l.SecondaryTunnelAddresses, []string{"10.254.0.129", "10.254.0.130"}) {
		t.Errorf("secondaryTunnelAddresses = %v", l.SecondaryTunnelAddresses)
	}
	if n.FailbackHoldDownSeconds != DefaultFailbackHoldDownSeconds {
		t.Errorf("hold-down %d", n.FailbackHoldDownSeconds)
	}
	// A third site later: link 0's second tunnel keeps its port and
	// addresses (defaults that adding links never moves).
	c := haSites()
	c.Sites = append(c.Sites, Site{
		Name: "c", Region: "us-east-1", VpcCidr: "10.2.0.0/16", VpnSubnetCidr: "10.2.0.0/24",
		TerminalSubnetCidr: "10.2.1.0/24", VpnPrivateIP: "10.2.0.10", TerminalPrivateIP: "10.2.1.10",
		SecondaryVpnSubnetCidr: "10.2.2.0/24", SecondaryVpnPrivateIP: "10.2.2.10",
	})
	m := Normalize(c)
	if err := Validate(m); err != nil {
		t.Fatal(err)
	}
	if m.Links[0].SecondaryPort != 1294 || !slices.Equal(m.Links[0].SecondaryTunnelAddresses, l.SecondaryTunnelAddresses) {
		t.Errorf("link 0's second tunnel moved: %d %v", m.Links[0].SecondaryPort, m.Links[0].SecondaryTunnelAddresses)
	}
	if got := m.Links[2].SecondaryTunnelAddresses; !slices.Equal(got, []string{"10.254.2.129", "10.254.2.130"}) {
		t.Errorf("link 2's second tunnel: %v", got)
	}
	// HA off: nothing second anywhere, exactly as before.
	off := Normalize(twoSites())
	if off.AnyHA() || off.Links[0].SecondaryPort != 0 || off.Links[0].SecondaryTunnelAddresses != nil {
		t.Errorf("HA off has second tunnels: %+v", off.Links[0])
	}
	// One site opting out: its link has one tunnel.
	c = haSites()
	c.Sites[1].HighAvailability = boolPtr(false)
	c.Sites[1].SecondaryVpnSubnetCidr, c.Sites[1].SecondaryVpnPrivateIP = "", ""
	o := Normalize(c)
	if err := Validate(o); err != nil {
		t.Fatal(err)
	}
	if o.LinkHA(0) || !o.SiteHA(0) || o.SiteHA(1) || o.Links[0].SecondaryPort != 0 {
		t.Errorf("one HA site: link HA %v, sites %v %v, port %d", o.LinkHA(0), o.SiteHA(0), o.SiteHA(1), o.Links[0].SecondaryPort)
	}
}

func TestHARefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		key    string
		substr string
	}{
		{"no second subnet", func(c *Config) { c.Sites[0].SecondaryVpnSubnetCidr = "" }, "vpclink:sites[0].secondaryVpnSubnetCidr", "is required with high availability"},
		{"no second address", func(c *Config) { c.Sites[1].SecondaryVpnPrivateIP = "" }, "vpclink:sites[1].secondaryVpnPrivateIp", "is required"},
		{"subnet overlaps", func(c *Config) {
			c.Sites[0].SecondaryVpnSubnetCidr = "10.0.1.0/24"
			c.Sites[0].SecondaryVpnPrivateIP = "10.0.1.50"
		}, "vpclink:sites[0].secondaryVpnSubnetCidr", "overlaps terminalSubnetCidr"},
		{"subnet outside", func(c *Config) { c.Sites[0].SecondaryVpnSubnetCidr = "10.9.2.0/24" }, "vpclink:sites[0].secondaryVpnSubnetCidr", "outside the site's VPC"},
		{"address outside", func(c *Config) { c.Sites[0].SecondaryVpnPrivateIP = "10.0.3.10" }, "vpclink:sites[0].secondaryVpnPrivateIp", "outside its subnet"},
		{"address reserved", func(c *Config) { c.Sites[0].SecondaryVpnPrivateIP = "10.0.2.1" }, "vpclink:sites[0].secondaryVpnPrivateIp", "reserved by AWS"},
		{"zone of another region", func(c *Config) { c.Sites[0].SecondaryAvailabilityZone = "us-east-1a" }, "vpclink:sites[0].secondaryAvailabilityZone", "is a zone of region"},
		{"hold-down", func(c *Config) { c.FailbackHoldDownSeconds = 2 }, "vpclink:failbackHoldDownSeconds", "between 5 and 3600"},
		{"with a hub", func(c *Config) { c.Hub = "a" }, "vpclink:highAvailability", "not supported with vpclink:hub"},
		{"with a summary", func(c *Config) { c.SummaryCidr = "10.0.0.0/15" }, "vpclink:highAvailability", "not supported with vpclink:summaryCidr"},
		{"second fields without HA", func(c *Config) { c.HighAvailability = nil }, "vpclink:sites[0].secondaryVpnSubnetCidr", "has no effect without high availability"},
		{"second port taken", func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, SecondaryPort: 70000}}
		}, "vpclink:links[0].secondaryPort", "is not a port"},
		{"second addresses inside a VPC", func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, SecondaryTunnelAddresses: []string{"10.0.9.1", "10.254.9.2"}}}
		}, "vpclink:links[0].secondaryTunnelAddresses[0]", "inside sites[0].vpcCidr"},
		{"second addresses reuse the first tunnel's", func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, SecondaryTunnelAddresses: []string{"10.254.0.1", "10.254.9.2"}}}
		}, "vpclink:links[0].secondaryTunnelAddresses[0]", "already used by links[0].tunnelAddresses[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := haSites()
			tc.edit(&c)
			err := Validate(Normalize(c))
			for _, fe := range fieldErrors(err) {
				if fe.Key == tc.key && strings.Contains(fe.Error(), tc.substr) {
					return
				}
			}
			t.Errorf("want %s: ...%s...; got %v", tc.key, tc.substr, err)
		})
	}
}

func TestHADecode(t *testing.T) {
	c, err := Decode(map[string]string{
		"vpclink:highAvailability":        "true",
		"vpclink:failbackHoldDownSeconds": "20",
		"vpclink:sites": `[{"name":"a","region":"eu-west-1","vpcCidr":"10.0.0.0/16","vpnSubnetCidr":"10.0.0.0/24","terminalSubnetCidr":"10.0.1.0/24","vpnPrivateIp":"10.0.0.10","terminalPrivateIp":"10.0.1.30","secondaryVpnSubnetCidr":"10.0.2.0/24","secondaryVpnPrivateIp":"10.0.2.10"},
		{"name":"b","region":"sa-east-1","vpcCidr":"10.1.0.0/16","vpnSubnetCidr":"10.1.0.0/24","terminalSubnetCidr":"10.1.1.0/24","vpnPrivateIp":"10.1.0.20","terminalPrivateIp":"10.1.1.40","highAvailability":false}]`,
		"vpclink:links": `[{"sites":["a","b"],"secondaryPort":1400}]`,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HighAvailability == nil || !*c.HighAvailability || c.FailbackHoldDownSeconds != 20 || c.Sites[0].SecondaryVpnPrivateIP != "10.0.2.10" ||
		c.Sites[1].HighAvailability == nil || *c.Sites[1].HighAvailability || c.Links[0].SecondaryPort != 1400 {
		t.Fatalf("decoded %+v", c)
	}
	// b opted out: the link's second port has no effect and is refused.
	err = Validate(Normalize(c))
	if err == nil || !strings.Contains(err.Error(), "config vpclink:links[0].secondaryPort = 1400: has no effect") {
		t.Errorf("got %v", err)
	}
	if _, err := Decode(map[string]string{"vpclink:highAvailability": "yes"}, nil); err == nil || !strings.Contains(err.Error(), `vpclink:highAvailability = "yes": must be true or false`) {
		t.Errorf("got %v", err)
	}
}
