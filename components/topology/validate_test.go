package topology

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
)

// twoSites is a valid configuration of the reference topology, not yet
// normalized.
func twoSites() Config {
	return Config{Sites: []Site{
		{
			Name: "a", Region: "eu-west-1", VpcCidr: "10.0.0.0/16",
			VpnSubnetCidr: "10.0.0.0/24", TerminalSubnetCidr: "10.0.1.0/24",
			VpnPrivateIP: "10.0.0.10", TerminalPrivateIP: "10.0.1.30",
		},
		{
			Name: "b", Region: "sa-east-1", VpcCidr: "10.1.0.0/16",
			VpnSubnetCidr: "10.1.0.0/24", TerminalSubnetCidr: "10.1.1.0/24",
			VpnPrivateIP: "10.1.0.20", TerminalPrivateIP: "10.1.1.40",
		},
	}}
}

// threeSites adds a third site to twoSites.
func threeSites() Config {
	c := twoSites()
	c.Sites = append(c.Sites, Site{
		Name: "c", Region: "us-east-1", VpcCidr: "10.2.0.0/16",
		VpnSubnetCidr: "10.2.0.0/24", TerminalSubnetCidr: "10.2.1.0/24",
		VpnPrivateIP: "10.2.0.10", TerminalPrivateIP: "10.2.1.10",
	})
	return c
}

func boolPtr(b bool) *bool { return &b }

// fieldErrors flattens an error tree (errors.Join, %w) into its FieldErrors.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func keysOf(fes []*FieldError) []string {
	var ks []string
	for _, fe := range fes {
		ks = append(ks, fe.Key+"="+fe.Value)
	}
	return ks
}

func TestNormalizeTwoSitesDefaults(t *testing.T) {
	in := twoSites()
	c := Normalize(in)
	want := []Link{{Name: "a-b", Sites: []string{"a", "b"}, Port: 1194, TunnelAddresses: []string{"10.254.0.1", "10.254.0.2"}}}
	if !reflect.DeepEqual(c.Links, want) {
		t.Errorf("links = %+v, want %+v", c.Links, want)
	}
	if c.InstanceType != "t3.micro" {
		t.Errorf("instanceType = %q, want t3.micro", c.InstanceType)
	}
	for i, s := range c.Sites {
		if s.InstanceType != "t3.micro" {
			t.Errorf("sites[%d].instanceType = %q, want t3.micro", i, s.InstanceType)
		}
	}
	if !reflect.DeepEqual(c.SSHAllowedCIDRs, []string{"0.0.0.0/0"}) {
		t.Errorf("sshAllowedCidrs = %v, want [0.0.0.0/0]", c.SSHAllowedCIDRs)
	}
	if c.SSHUser != "ubuntu" || c.TunnelPort != 1194 || c.TunnelMTU != 1400 {
		t.Errorf("sshUser, tunnelPort, tunnelMtu = %q, %d, %d; want ubuntu, 1194, 1400", c.SSHUser, c.TunnelPort, c.TunnelMTU)
	}
	if !c.CheckEnabled() {
		t.Error("post-deploy check is off by default")
	}
	if err := Validate(c); err != nil {
		t.Errorf("reference topology rejected: %v", err)
	}
	// Normalize works on a copy.
	if in.Links != nil || in.InstanceType != "" || in.Sites[0].InstanceType != "" || in.SSHAllowedCIDRs != nil {
		t.Errorf("Normalize modified its input: %+v", in)
	}
}

func TestNormalizeThreeSitesFullMesh(t *testing.T) {
	c := Normalize(threeSites())
	want := []Link{
		{Name: "a-b", Sites: []string{"a", "b"}, Port: 1194, TunnelAddresses: []string{"10.254.0.1", "10.254.0.2"}},
		{Name: "a-c", Sites: []string{"a", "c"}, Port: 1195, TunnelAddresses: []string{"10.254.1.1", "10.254.1.2"}},
		{Name: "b-c", Sites: []string{"b", "c"}, Port: 1196, TunnelAddresses: []string{"10.254.2.1", "10.254.2.2"}},
	}
	if !reflect.DeepEqual(c.Links, want) {
		t.Errorf("links = %+v\nwant %+v", c.Links, want)
	}
	if err := Validate(c); err != nil {
		t.Errorf("three-site mesh rejected: %v", err)
	}
}

func TestNormalizeDefaultPortsSkipExplicitOnes(t *testing.T) {
	in := threeSites()
	in.Links = []Link{
		{Sites: []string{"a", "b"}, Port: 1194},
		{Sites: []string{"b", "c"}},
		{Sites: []string{"a", "c"}, Port: 1195},
	}
	c := Normalize(in)
	if got := []int{c.Links[0].Port, c.Links[1].Port, c.Links[2].Port}; !reflect.DeepEqual(got, []int{1194, 1196, 1195}) {
		t.Errorf("ports = %v, want [1194 1196 1195]", got)
	}
	if err := Validate(c); err != nil {
		t.Errorf("rejected: %v", err)
	}
}

func TestNormalizeKeepsExplicitValues(t *testing.T) {
	in := twoSites()
	in.InstanceType = "t3.small"
	in.Sites[1].InstanceType = "t4g.micro"
	in.SSHUser = "ec2-user"
	in.SSHAllowedCIDRs = []string{"203.0.113.7/32"}
	in.TunnelPort = 2000
	in.TunnelMTU = 1300
	in.Links = []Link{{Name: "tun", Sites: []string{"b", "a"}, Port: 3000, TunnelAddresses: []string{"192.168.77.1", "192.168.77.2"}}}
	c := Normalize(in)
	if c.InstanceType != "t3.small" || c.Sites[0].InstanceType != "t3.small" || c.Sites[1].InstanceType != "t4g.micro" {
		t.Errorf("instance types = %q, %q, %q", c.InstanceType, c.Sites[0].InstanceType, c.Sites[1].InstanceType)
	}
	if c.SSHUser != "ec2-user" || !reflect.DeepEqual(c.SSHAllowedCIDRs, []string{"203.0.113.7/32"}) || c.TunnelPort != 2000 || c.TunnelMTU != 1300 {
		t.Errorf("explicit values lost: %+v", c)
	}
	want := []Link{{Name: "tun", Sites: []string{"b", "a"}, Port: 3000, TunnelAddresses: []string{"192.168.77.1", "192.168.77.2"}}}
	if !reflect.DeepEqual(c.Links, want) {
		t.Errorf("links = %+v, want %+v", c.Links, want)
	}
	if err := Validate(c); err != nil {
		t.Errorf("valid explicit configuration rejected: %v", err)
	}
	// The copy is deep: editing it leaves the input alone.
	c.Links[0].Sites[0] = "x"
	c.Links[0].TunnelAddresses[0] = "x"
	c.Sites[0].Name = "x"
	if in.Links[0].Sites[0] != "b" || in.Links[0].TunnelAddresses[0] != "192.168.77.1" || in.Sites[0].Name != "a" {
		t.Error("Normalize shares slices with its input")
	}

	// A link without a port takes tunnelPort + its index; one without a
	// name takes "<a>-<b>".
	in = threeSites()
	in.TunnelPort = 5000
	in.Links = []Link{{Sites: []string{"a", "b"}}, {Sites: []string{"c", "a"}, Port: 6000}}
	c = Normalize(in)
	if c.Links[0].Port != 5000 || c.Links[1].Port != 6000 || c.Links[0].Name != "a-b" || c.Links[1].Name != "c-a" {
		t.Errorf("links = %+v", c.Links)
	}
	if !reflect.DeepEqual(c.Links[1].TunnelAddresses, []string{"10.254.1.1", "10.254.1.2"}) {
		t.Errorf("links[1].tunnelAddresses = %v", c.Links[1].TunnelAddresses)
	}
	if err := Validate(c); err != nil {
		t.Errorf("valid configuration rejected: %v", err)
	}
}

// TestValidateAccepts lists configurations that must pass.
func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
	}{
		{"reference", func(*Config) {}},
		{"fifth address of subnet", func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.4" }},
		{"broadcast minus one", func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.254" }},
		{"fifth address of /28 subnet", func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.1.1.16/28"
			c.Sites[1].TerminalPrivateIP = "10.1.1.20"
		}},
		{"broadcast minus one of /28 subnet", func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.1.1.16/28"
			c.Sites[1].TerminalPrivateIP = "10.1.1.30"
		}},
		{"terminal false without terminal ip", func(c *Config) {
			c.Sites[0].Terminal = boolPtr(false)
			c.Sites[0].TerminalPrivateIP = ""
		}},
		{"terminal true explicitly", func(c *Config) { c.Sites[0].Terminal = boolPtr(true) }},
		{"vpc /28", func(c *Config) {
			c.Sites[1].VpcCidr = "10.1.0.0/27"
			c.Sites[1].VpnSubnetCidr = "10.1.0.0/28"
			c.Sites[1].VpnPrivateIP = "10.1.0.4"
			c.Sites[1].TerminalSubnetCidr = "10.1.0.16/28"
			c.Sites[1].TerminalPrivateIP = "10.1.0.20"
		}},
		{"ssh key pair given", func(c *Config) {
			c.SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB operator"
			c.SSHPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
		}},
		{"ami, zone and instance type", func(c *Config) {
			c.Sites[0].Ami = "ami-0123456789abcdef0"
			c.Sites[0].AvailabilityZone = "eu-west-1b"
			c.Sites[0].InstanceType = "t4g.small"
		}},
		{"tunnel outside vpcs", func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"172.31.255.1", "172.31.255.2"}}}
		}},
		{"mtu bounds", func(c *Config) { c.TunnelMTU = openvpn.MinMTU }},
		{"gov region", func(c *Config) { c.Sites[0].Region = "us-gov-west-1" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := twoSites()
			tc.mutate(&c)
			if err := Validate(Normalize(c)); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

const privateKeyMarker = "Q2FuYXJ5UHJpdmF0ZUtleU1hdGVyaWFs" // a canary, not a key

// TestValidateRejects checks every rule: the error names the full key and
// the bad value, and is a *FieldError.
func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name string
		// base defaults to twoSites.
		base   func() Config
		mutate func(*Config)
		// after runs on the normalized configuration, for values Normalize
		// would otherwise fill in.
		after func(*Config)
		key   string
		value string
		// also must appear in the message (e.g. a suggestion).
		also string
	}{
		// CIDR parsing.
		{name: "vpc cidr unparsable", mutate: func(c *Config) { c.Sites[0].VpcCidr = "10.0.0.0/33" },
			key: "vpclink:sites[0].vpcCidr", value: "10.0.0.0/33", also: "is not a CIDR"},
		{name: "vpc cidr garbage", mutate: func(c *Config) { c.Sites[1].VpcCidr = "banana" },
			key: "vpclink:sites[1].vpcCidr", value: "banana"},
		{name: "vpc cidr missing", mutate: func(c *Config) { c.Sites[1].VpcCidr = "" },
			key: "vpclink:sites[1].vpcCidr", value: "", also: "is required"},
		{name: "vpc cidr host bits", mutate: func(c *Config) { c.Sites[0].VpcCidr = "10.0.0.1/16" },
			key: "vpclink:sites[0].vpcCidr", value: "10.0.0.1/16", also: "did you mean 10.0.0.0/16"},
		{name: "subnet host bits", mutate: func(c *Config) { c.Sites[1].VpnSubnetCidr = "10.1.0.7/24" },
			key: "vpclink:sites[1].vpnSubnetCidr", value: "10.1.0.7/24", also: "did you mean 10.1.0.0/24"},
		{name: "vpc cidr ipv6", mutate: func(c *Config) { c.Sites[0].VpcCidr = "fd00:10::/56" },
			key: "vpclink:sites[0].vpcCidr", value: "fd00:10::/56", also: "not IPv4"},
		{name: "subnet ipv4-mapped ipv6", mutate: func(c *Config) { c.Sites[0].TerminalSubnetCidr = "::ffff:10.0.1.0/120" },
			key: "vpclink:sites[0].terminalSubnetCidr", value: "::ffff:10.0.1.0/120", also: "not IPv4"},
		{name: "vpc prefix /15", mutate: func(c *Config) { c.Sites[0].VpcCidr = "10.0.0.0/15" },
			key: "vpclink:sites[0].vpcCidr", value: "10.0.0.0/15", also: "/16 to /28"},
		{name: "vpc prefix /8", mutate: func(c *Config) { c.Sites[0].VpcCidr = "10.0.0.0/8"; c.Sites[1].VpcCidr = "172.16.0.0/16" },
			key: "vpclink:sites[0].vpcCidr", value: "10.0.0.0/8", also: "/16 to /28"},
		{name: "vpc prefix /29", mutate: func(c *Config) { c.Sites[1].VpcCidr = "10.1.0.0/29" },
			key: "vpclink:sites[1].vpcCidr", value: "10.1.0.0/29", also: "/16 to /28"},
		{name: "subnet smaller than /28", mutate: func(c *Config) {
			c.Sites[0].VpnSubnetCidr = "10.0.0.0/29"
			c.Sites[0].VpnPrivateIP = "10.0.0.5"
		}, key: "vpclink:sites[0].vpnSubnetCidr", value: "10.0.0.0/29", also: "/28"},
		{name: "ssh allowed cidr unparsable", mutate: func(c *Config) { c.SSHAllowedCIDRs = []string{"0.0.0.0/0", "203.0.113.7"} },
			key: "vpclink:sshAllowedCidrs[1]", value: "203.0.113.7"},
		{name: "ssh allowed cidr host bits", mutate: func(c *Config) { c.SSHAllowedCIDRs = []string{"203.0.113.7/24"} },
			key: "vpclink:sshAllowedCidrs[0]", value: "203.0.113.7/24", also: "did you mean 203.0.113.0/24"},

		// Networks.
		{name: "vpcs equal", mutate: func(c *Config) {
			c.Sites[1] = c.Sites[0]
			c.Sites[1].Name = "b"
		}, key: "vpclink:sites[1].vpcCidr", value: "10.0.0.0/16", also: "overlaps sites[0].vpcCidr"},
		{name: "vpcs overlap partly", mutate: func(c *Config) {
			c.Sites[1].VpcCidr = "10.0.128.0/17"
			c.Sites[1].VpnSubnetCidr = "10.0.128.0/24"
			c.Sites[1].VpnPrivateIP = "10.0.128.10"
			c.Sites[1].TerminalSubnetCidr = "10.0.129.0/24"
			c.Sites[1].TerminalPrivateIP = "10.0.129.10"
		}, key: "vpclink:sites[1].vpcCidr", value: "10.0.128.0/17", also: "overlaps"},
		{name: "vpc overlap third site", base: threeSites, mutate: func(c *Config) {
			c.Sites[2].VpcCidr = "10.1.0.0/20"
			c.Sites[2].VpnSubnetCidr = "10.1.8.0/24"
			c.Sites[2].VpnPrivateIP = "10.1.8.10"
			c.Sites[2].TerminalSubnetCidr = "10.1.9.0/24"
			c.Sites[2].TerminalPrivateIP = "10.1.9.10"
		}, key: "vpclink:sites[2].vpcCidr", value: "10.1.0.0/20", also: "overlaps sites[1].vpcCidr"},
		{name: "subnet outside vpc", mutate: func(c *Config) {
			c.Sites[0].VpnSubnetCidr = "10.5.0.0/24"
			c.Sites[0].VpnPrivateIP = "10.5.0.10"
		}, key: "vpclink:sites[0].vpnSubnetCidr", value: "10.5.0.0/24", also: "outside the site's VPC"},
		{name: "subnet larger than vpc", mutate: func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.0.0.0/15"
			c.Sites[1].VpcCidr = "10.1.0.0/16"
		}, key: "vpclink:sites[1].terminalSubnetCidr", value: "10.0.0.0/15", also: "outside"},
		{name: "subnets overlap", mutate: func(c *Config) {
			c.Sites[0].TerminalSubnetCidr = "10.0.0.128/25"
			c.Sites[0].TerminalPrivateIP = "10.0.0.200"
		}, key: "vpclink:sites[0].terminalSubnetCidr", value: "10.0.0.128/25", also: "overlaps vpnSubnetCidr"},
		{name: "subnets equal", mutate: func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.1.0.0/24"
			c.Sites[1].TerminalPrivateIP = "10.1.0.40"
		}, key: "vpclink:sites[1].terminalSubnetCidr", value: "10.1.0.0/24", also: "disjoint"},

		// Instance addresses.
		{name: "vpn ip outside subnet", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.1.10" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.1.10", also: "outside its subnet"},
		{name: "terminal ip outside subnet", mutate: func(c *Config) { c.Sites[1].TerminalPrivateIP = "10.9.9.9" },
			key: "vpclink:sites[1].terminalPrivateIp", value: "10.9.9.9", also: "outside its subnet"},
		{name: "vpn ip not ipv4", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "fd00::10" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "fd00::10", also: "not an IPv4 address"},
		{name: "vpn ip garbage", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.300" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.300"},
		{name: "vpn ip missing", mutate: func(c *Config) { c.Sites[1].VpnPrivateIP = "" },
			key: "vpclink:sites[1].vpnPrivateIp", value: "", also: "is required"},
		{name: "terminal ip missing with terminal on", mutate: func(c *Config) { c.Sites[1].TerminalPrivateIP = "" },
			key: "vpclink:sites[1].terminalPrivateIp", value: "", also: "is required"},
		{name: "terminal false still checks a given ip", mutate: func(c *Config) {
			c.Sites[1].Terminal = boolPtr(false)
			c.Sites[1].TerminalPrivateIP = "10.1.1.0"
		}, key: "vpclink:sites[1].terminalPrivateIp", value: "10.1.1.0", also: "reserved"},
		{name: "reserved network address", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.0" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.0", also: "reserved by AWS"},
		{name: "reserved router address", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.1" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.1", also: "reserved by AWS"},
		{name: "reserved dns address", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.2" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.2", also: "reserved by AWS"},
		{name: "reserved future address", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.3" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.3", also: "reserved by AWS"},
		{name: "reserved broadcast address", mutate: func(c *Config) { c.Sites[0].VpnPrivateIP = "10.0.0.255" },
			key: "vpclink:sites[0].vpnPrivateIp", value: "10.0.0.255", also: "reserved by AWS"},
		{name: "reserved broadcast of /28", mutate: func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.1.1.16/28"
			c.Sites[1].TerminalPrivateIP = "10.1.1.31"
		}, key: "vpclink:sites[1].terminalPrivateIp", value: "10.1.1.31", also: "reserved by AWS"},
		{name: "reserved third of /28", mutate: func(c *Config) {
			c.Sites[1].TerminalSubnetCidr = "10.1.1.16/28"
			c.Sites[1].TerminalPrivateIP = "10.1.1.19"
		}, key: "vpclink:sites[1].terminalPrivateIp", value: "10.1.1.19", also: "reserved by AWS"},

		// Tunnels.
		{name: "tunnel address inside a vpc", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"10.254.0.1", "10.1.200.2"}}}
		}, key: "vpclink:links[0].tunnelAddresses[1]", value: "10.1.200.2", also: "sites[1].vpcCidr"},
		{name: "tunnel network is a vpc", mutate: func(c *Config) {
			c.Sites[1].VpcCidr = "10.254.0.0/16"
			c.Sites[1].VpnSubnetCidr = "10.254.100.0/24"
			c.Sites[1].VpnPrivateIP = "10.254.100.10"
			c.Sites[1].TerminalSubnetCidr = "10.254.101.0/24"
			c.Sites[1].TerminalPrivateIP = "10.254.101.10"
		}, key: "vpclink:sites[1].vpcCidr", value: "10.254.0.0/16", also: `10.254.0.1 of links[0] "a-b"`},
		{name: "tunnel addresses equal", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"192.168.9.1", "192.168.9.1"}}}
		}, key: "vpclink:links[0].tunnelAddresses[1]", value: "192.168.9.1", also: "equals tunnelAddresses[0]"},
		{name: "tunnel address reused by another link", base: threeSites, mutate: func(c *Config) {
			c.Links = []Link{
				{Sites: []string{"a", "b"}, TunnelAddresses: []string{"10.254.0.1", "10.254.0.2"}},
				{Sites: []string{"b", "c"}, TunnelAddresses: []string{"10.254.9.1", "10.254.0.2"}},
			}
		}, key: "vpclink:links[1].tunnelAddresses[1]", value: "10.254.0.2", also: "links[0].tunnelAddresses[1]"},
		{name: "tunnel address not ipv4", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"fe80::1", "10.254.0.2"}}}
		}, key: "vpclink:links[0].tunnelAddresses[0]", value: "fe80::1", also: "not an IPv4 address"},
		{name: "tunnel end at the metadata service", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"169.254.169.254", "169.254.169.253"}}}
		}, key: "vpclink:links[0].tunnelAddresses[0]", value: "169.254.169.254", also: "metadata service"},
		{name: "tunnel end on loopback", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"127.0.0.1", "10.254.0.2"}}}
		}, key: "vpclink:links[0].tunnelAddresses[0]", value: "127.0.0.1", also: "not a unicast address"},
		{name: "three tunnel addresses", mutate: func(c *Config) {
			c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"10.254.0.1", "10.254.0.2", "10.254.0.3"}}}
		}, key: "vpclink:links[0].tunnelAddresses", value: `["10.254.0.1","10.254.0.2","10.254.0.3"]`, also: "exactly two"},

		// Ports.
		{name: "link port too high", mutate: func(c *Config) { c.Links = []Link{{Sites: []string{"a", "b"}, Port: 65536}} },
			key: "vpclink:links[0].port", value: "65536", also: "1-65535"},
		{name: "link port negative", mutate: func(c *Config) { c.Links = []Link{{Sites: []string{"a", "b"}, Port: -1}} },
			key: "vpclink:links[0].port", value: "-1", also: "1-65535"},
		{name: "tunnel port too high", mutate: func(c *Config) { c.TunnelPort = 70000 },
			key: "vpclink:tunnelPort", value: "70000", also: "1-65535"},
		{name: "default ports run past 65535", base: threeSites, mutate: func(c *Config) { c.TunnelPort = 65535 },
			key: "vpclink:tunnelPort", value: "65535", also: `links[1] "a-c"`},
		{name: "duplicate port on one site", base: threeSites, mutate: func(c *Config) {
			c.Links = []Link{
				{Sites: []string{"a", "b"}, Port: 1194},
				{Sites: []string{"c", "a"}, Port: 1194},
			}
		}, key: "vpclink:links[1].port", value: "1194", also: `site "a" already uses this port for links[0]`},

		// Links.
		{name: "duplicate link pair", base: threeSites, mutate: func(c *Config) {
			c.Links = []Link{
				{Name: "one", Sites: []string{"a", "b"}},
				{Name: "two", Sites: []string{"a", "b"}},
			}
		}, key: "vpclink:links[1].sites", value: `["a","b"]`, also: "duplicates links[0]"},
		{name: "duplicate link pair reversed", base: threeSites, mutate: func(c *Config) {
			c.Links = []Link{
				{Sites: []string{"a", "b"}},
				{Sites: []string{"a", "c"}},
				{Sites: []string{"b", "a"}},
			}
		}, key: "vpclink:links[2].sites", value: `["b","a"]`, also: "duplicates links[0]"},
		{name: "duplicate link name", base: threeSites, mutate: func(c *Config) {
			c.Links = []Link{
				{Name: "tun", Sites: []string{"a", "b"}},
				{Name: "tun", Sites: []string{"a", "c"}},
			}
		}, key: "vpclink:links[1].name", value: "tun", also: "duplicates links[0].name"},
		{name: "bad link name", mutate: func(c *Config) { c.Links = []Link{{Name: "Tun_1", Sites: []string{"a", "b"}}} },
			key: "vpclink:links[0].name", value: "Tun_1"},
		{name: "unknown site in link", mutate: func(c *Config) { c.Links = []Link{{Sites: []string{"a", "zz"}}} },
			key: "vpclink:links[0].sites[1]", value: "zz", also: "not the name of a configured site"},
		{name: "link to itself", mutate: func(c *Config) { c.Links = []Link{{Sites: []string{"a", "a"}}} },
			key: "vpclink:links[0].sites", value: `["a","a"]`, also: "two different sites"},
		{name: "link with one site", mutate: func(c *Config) { c.Links = []Link{{Name: "solo", Sites: []string{"a"}}} },
			key: "vpclink:links[0].sites", value: `["a"]`, also: "exactly two sites"},
		{name: "no links", mutate: func(*Config) {}, after: func(c *Config) { c.Links = nil },
			key: "vpclink:links", value: "[]"},

		// Sites.
		{name: "duplicate site names", mutate: func(c *Config) { c.Sites[1].Name = "a" },
			key: "vpclink:sites[1].name", value: "a", also: "duplicates sites[0].name"},
		{name: "site name uppercase", mutate: func(c *Config) { c.Sites[0].Name = "Ireland" },
			key: "vpclink:sites[0].name", value: "Ireland"},
		{name: "site name leading dash", mutate: func(c *Config) { c.Sites[0].Name = "-a" },
			key: "vpclink:sites[0].name", value: "-a"},
		{name: "site name trailing dash", mutate: func(c *Config) { c.Sites[1].Name = "b-" },
			key: "vpclink:sites[1].name", value: "b-"},
		{name: "site name underscore", mutate: func(c *Config) { c.Sites[1].Name = "sao_paulo" },
			key: "vpclink:sites[1].name", value: "sao_paulo"},
		{name: "site name too long", mutate: func(c *Config) { c.Sites[1].Name = "abcdefghijklmnopqrstu" },
			key: "vpclink:sites[1].name", value: "abcdefghijklmnopqrstu"},
		{name: "site name empty", mutate: func(c *Config) { c.Sites[1].Name = "" },
			key: "vpclink:sites[1].name", value: ""},
		{name: "region uppercase", mutate: func(c *Config) { c.Sites[0].Region = "EU-WEST-1" },
			key: "vpclink:sites[0].region", value: "EU-WEST-1", also: "AWS region"},
		{name: "region without number", mutate: func(c *Config) { c.Sites[0].Region = "eu-west" },
			key: "vpclink:sites[0].region", value: "eu-west"},
		{name: "region is a zone", mutate: func(c *Config) { c.Sites[1].Region = "sa-east-1a" },
			key: "vpclink:sites[1].region", value: "sa-east-1a"},
		{name: "region missing", mutate: func(c *Config) { c.Sites[1].Region = "" },
			key: "vpclink:sites[1].region", value: ""},
		{name: "zone of another region", mutate: func(c *Config) { c.Sites[0].AvailabilityZone = "us-east-1a" },
			key: "vpclink:sites[0].availabilityZone", value: "us-east-1a", also: `"eu-west-1"`},
		{name: "instance type without dot", mutate: func(c *Config) { c.InstanceType = "t3micro" },
			key: "vpclink:instanceType", value: "t3micro", also: "EC2 instance type"},
		{name: "instance type uppercase", mutate: func(c *Config) { c.InstanceType = "T3.micro" },
			key: "vpclink:instanceType", value: "T3.micro"},
		{name: "site instance type", mutate: func(c *Config) { c.Sites[1].InstanceType = "t3.micro " },
			key: "vpclink:sites[1].instanceType", value: "t3.micro "},
		{name: "ami too short", mutate: func(c *Config) { c.Sites[0].Ami = "ami-1234567" },
			key: "vpclink:sites[0].ami", value: "ami-1234567", also: "AMI id"},
		{name: "ami uppercase", mutate: func(c *Config) { c.Sites[0].Ami = "ami-0123456789ABCDEF0" },
			key: "vpclink:sites[0].ami", value: "ami-0123456789ABCDEF0"},
		{name: "ami wrong prefix", mutate: func(c *Config) { c.Sites[1].Ami = "img-0123456789abcdef0" },
			key: "vpclink:sites[1].ami", value: "img-0123456789abcdef0"},
		{name: "one site", mutate: func(c *Config) { c.Sites = c.Sites[:1] },
			key: "vpclink:sites", value: "[1 site]", also: "at least two"},
		{name: "no sites", mutate: func(c *Config) { c.Sites = nil },
			key: "vpclink:sites", value: "[0 sites]"},

		// Stack-wide settings.
		{name: "ssh user", mutate: func(c *Config) { c.SSHUser = "Ubuntu Admin" },
			key: "vpclink:sshUser", value: "Ubuntu Admin"},
		{name: "ssh public key not openssh", mutate: func(c *Config) {
			c.SSHPublicKey = "AAAAC3NzaC1lZDI1NTE5"
			c.SSHPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + privateKeyMarker + "\n-----END OPENSSH PRIVATE KEY-----\n"
		}, key: "vpclink:sshPublicKey", value: "AAAAC3NzaC1lZDI1NTE5", also: "OpenSSH public key"},
		{name: "ssh public key without private key", mutate: func(c *Config) { c.SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me" },
			key: "vpclink:sshPrivateKey", value: "", also: "give both or neither"},
		{name: "ssh private key without public key", mutate: func(c *Config) {
			c.SSHPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + privateKeyMarker + "\n-----END OPENSSH PRIVATE KEY-----\n"
		}, key: "vpclink:sshPublicKey", value: "", also: "give both or neither"},
		{name: "ssh private key not a key", mutate: func(c *Config) {
			c.SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me"
			c.SSHPrivateKey = privateKeyMarker
		}, key: "vpclink:sshPrivateKey", value: "[secret]", also: "not a PEM or OpenSSH private key"},
		{name: "mtu too small", mutate: func(c *Config) { c.TunnelMTU = 1000 },
			key: "vpclink:tunnelMtu", value: "1000", also: "between 1280 and 1500"},
		{name: "mtu too large", mutate: func(c *Config) { c.TunnelMTU = 9001 },
			key: "vpclink:tunnelMtu", value: "9001"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			base := twoSites
			if tc.base != nil {
				base = tc.base
			}
			c := base()
			tc.mutate(&c)
			c = Normalize(c)
			if tc.after != nil {
				tc.after(&c)
			}
			err := Validate(c)
			if err == nil {
				t.Fatalf("accepted; want an error for %s = %q", tc.key, tc.value)
			}
			msg := err.Error()
			if strings.Contains(msg, privateKeyMarker) {
				// Do not print msg: it holds the private key.
				t.Fatal("error message repeats the private key")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("errors.As finds no *FieldError in %v", err)
			}
			var match *FieldError
			all := fieldErrors(err)
			for _, f := range all {
				// Several errors may share key and value; prefer the one
				// that says what the case is about.
				if f.Key == tc.key && f.Value == tc.value && (match == nil || strings.Contains(f.Problem, tc.also)) {
					match = f
				}
			}
			if match == nil {
				t.Fatalf("no FieldError %s = %q among %q", tc.key, tc.value, keysOf(all))
			}
			if !strings.Contains(msg, tc.key) {
				t.Errorf("message lacks key %s: %v", tc.key, err)
			}
			if !strings.Contains(msg, match.Error()) || !strings.HasPrefix(match.Error(), "config "+tc.key+" = ") {
				t.Errorf("message lacks %s = %s: %v", tc.key, tc.value, err)
			}
			if tc.value != "" && !strings.Contains(match.Error(), tc.value) {
				t.Errorf("message lacks value %q: %v", tc.value, match)
			}
			if tc.also != "" && !strings.Contains(match.Error(), tc.also) {
				t.Errorf("message %q lacks %q", match.Error(), tc.also)
			}
			if len(all) != len(strings.Split(msg, "\n")) {
				t.Errorf("%d FieldErrors but %d message lines: %v", len(all), len(strings.Split(msg, "\n")), err)
			}
		})
	}
}

// TestValidateReportsEveryProblem checks that one run reports all problems,
// not just the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	c := twoSites()
	c.Sites[0].VpcCidr = "10.0.0.1/16"
	c.Sites[1].Region = "nowhere"
	c.Sites[1].VpnPrivateIP = "10.1.0.1"
	c.TunnelMTU = 1
	err := Validate(Normalize(c))
	got := map[string]bool{}
	for _, fe := range fieldErrors(err) {
		got[fe.Key] = true
	}
	for _, k := range []string{"vpclink:sites[0].vpcCidr", "vpclink:sites[1].region", "vpclink:sites[1].vpnPrivateIp", "vpclink:tunnelMtu"} {
		if !got[k] {
			t.Errorf("no error for %s in %v", k, err)
		}
	}
}

// TestValidateNeverRepeatsPrivateKey sets a private key alongside other
// mistakes and checks no message carries any part of it.
func TestValidateNeverRepeatsPrivateKey(t *testing.T) {
	keys := []string{
		"-----BEGIN OPENSSH PRIVATE KEY-----\n" + privateKeyMarker + "\n-----END OPENSSH PRIVATE KEY-----\n",
		privateKeyMarker, // not a key at all
		"-----BEGIN PRIVATE KEY-----\n" + privateKeyMarker + "\n-----END PRIVATE KEY-----", // PKCS#8
	}
	for i, k := range keys {
		for _, pub := range []string{"", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me", "not-a-key"} {
			c := twoSites()
			c.SSHPublicKey = pub
			c.SSHPrivateKey = k
			c.Sites[0].VpnPrivateIP = "10.0.0.1" // one more problem
			err := Validate(Normalize(c))
			if err == nil {
				t.Errorf("key %d, public %q: accepted", i, pub)
				continue
			}
			if strings.Contains(err.Error(), privateKeyMarker) || strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Errorf("key %d, public %q: an error message repeats the private key (message not shown)", i, pub)
			}
			for _, fe := range fieldErrors(err) {
				if strings.Contains(fe.Value, privateKeyMarker) || strings.Contains(fe.Problem, privateKeyMarker) {
					t.Errorf("key %d, public %q: FieldError %s carries the private key (value not shown)", i, pub, fe.Key)
				}
			}
		}
	}
}

func TestFieldErrorFormat(t *testing.T) {
	fe := &FieldError{Key: "vpclink:sites[0].vpcCidr", Value: "10.0.0.1/16", Problem: "has host bits set"}
	want := `config vpclink:sites[0].vpcCidr = "10.0.0.1/16": has host bits set`
	if fe.Error() != want {
		t.Errorf("Error() = %q, want %q", fe.Error(), want)
	}
}

func TestReservedAddresses(t *testing.T) {
	cases := []struct {
		subnet, addr string
		reserved     bool
	}{
		{"10.0.0.0/24", "10.0.0.0", true},
		{"10.0.0.0/24", "10.0.0.1", true},
		{"10.0.0.0/24", "10.0.0.2", true},
		{"10.0.0.0/24", "10.0.0.3", true},
		{"10.0.0.0/24", "10.0.0.4", false},
		{"10.0.0.0/24", "10.0.0.254", false},
		{"10.0.0.0/24", "10.0.0.255", true},
		{"10.0.16.0/20", "10.0.31.255", true},
		{"10.0.16.0/20", "10.0.31.254", false},
		{"10.0.16.0/20", "10.0.17.0", false},
		{"10.0.0.16/28", "10.0.0.31", true},
		{"10.0.0.16/28", "10.0.0.20", false},
	}
	for _, tc := range cases {
		c := twoSites()
		c.Sites[0].VpnSubnetCidr = tc.subnet
		c.Sites[0].VpnPrivateIP = tc.addr
		err := Validate(Normalize(c))
		gotReserved := strings.Contains(errString(err), "reserved by AWS")
		if gotReserved != tc.reserved {
			t.Errorf("%s in %s: reserved = %v, want %v (%v)", tc.addr, tc.subnet, gotReserved, tc.reserved, err)
		}
		if !tc.reserved && err != nil {
			t.Errorf("%s in %s: rejected: %v", tc.addr, tc.subnet, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSiteHelpers(t *testing.T) {
	c := Normalize(twoSites())
	if s, ok := c.SiteByName("b"); !ok || s.Region != "sa-east-1" {
		t.Errorf("SiteByName(b) = %+v, %v", s, ok)
	}
	if _, ok := c.SiteByName("zz"); ok {
		t.Error("SiteByName(zz) found a site")
	}
	if !(Site{}).HasTerminal() || !(Site{Terminal: boolPtr(true)}).HasTerminal() || (Site{Terminal: boolPtr(false)}).HasTerminal() {
		t.Error("HasTerminal defaults wrong")
	}
	c.PostDeployCheck = boolPtr(false)
	if c.CheckEnabled() {
		t.Error("CheckEnabled ignores postDeployCheck=false")
	}
}

// Link-local tunnel ends outside AWS's own services are accepted: AWS's
// Site-to-Site VPN uses /30s of 169.254.0.0/16 for inside-tunnel addresses.
func TestLinkLocalTunnelAddresses(t *testing.T) {
	c := Normalize(Config{Sites: meshSites(2), Links: []Link{{Sites: []string{"s0", "s1"}, TunnelAddresses: []string{"169.254.10.1", "169.254.10.2"}}}})
	if err := Validate(c); err != nil {
		t.Fatalf("169.254.10.1/.2 refused: %v", err)
	}
}
