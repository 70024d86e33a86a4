package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// TestDefaultsApplied: a YAML program sends no schema defaults; what it
// leaves out becomes, after NewNetwork's normalization, exactly the
// schema's default.
func TestDefaultsApplied(t *testing.T) {
	args := NetworkArgs{Sites: []Site{
		{Name: "a", Region: "eu-west-1", VpcCidr: "10.0.0.0/16", VpnSubnetCidr: "10.0.0.0/24", TerminalSubnetCidr: "10.0.1.0/24", VpnPrivateIP: "10.0.0.10", TerminalPrivateIP: "10.0.1.30"},
		{Name: "b", Region: "sa-east-1", VpcCidr: "10.1.0.0/16", VpnSubnetCidr: "10.1.0.0/24", TerminalSubnetCidr: "10.1.1.0/24", VpnPrivateIP: "10.1.0.20", TerminalPrivateIP: "10.1.1.40"},
	}}
	cfg, err := args.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := topology.Normalize(cfg)
	if err := topology.Validate(c); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"tunnelMode": c.TunnelMode, "tunnelMtu": c.TunnelMTU, "tunnelPort": c.TunnelPort,
		"instanceType": c.InstanceType, "os": c.OS, "sshUser": c.SSHUser,
		"postDeployCheck": c.CheckEnabled(), "sites[].terminal": c.Sites[0].HasTerminal(),
		"highAvailability": c.SiteHA(0), "failbackHoldDownSeconds": c.FailbackHoldDownSeconds,
	}
	for k, v := range got {
		if want := docs[k].Default; v != want {
			t.Errorf("%s: normalized %v, schema default %v", k, v, want)
		}
	}
	for k, d := range docs {
		if _, ok := got[k]; d.Default != nil && !ok {
			t.Errorf("%s has a schema default this test does not check", k)
		}
	}
	if len(c.Links) != 1 || c.Links[0].Name != "a-b" || c.Links[0].Port != 1194 {
		t.Errorf("default links: %+v", c.Links)
	}
}

// TestConfigCarriesEveryInput: every input set reaches topology.Config.
func TestConfigCarriesEveryInput(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	no := false
	c, err := NetworkArgs{
		Sites: []Site{{Name: "a", Region: "r", VpcCidr: "1", VpnSubnetCidr: "2", TerminalSubnetCidr: "3", VpnPrivateIP: "4", TerminalPrivateIP: "5",
			Terminal: &no, AvailabilityZone: str("z"), InstanceType: str("t"), Ami: str("ami"), OS: str("o"),
			HighAvailability: &no, SecondaryVpnSubnetCidr: str("6"), SecondaryVpnPrivateIP: str("7"), SecondaryAvailabilityZone: str("z2")}},
		Links: []Link{{Name: str("l"), Sites: []string{"a", "b"}, Port: num(7), TunnelAddresses: []string{"x", "y"}, Mode: str("static"),
			SecondaryPort: num(8), SecondaryTunnelAddresses: []string{"p", "q"}}},
		HighAvailability: &no, FailbackHoldDownSeconds: num(30),
		Hub: str("a"), SummaryCidr: str("10.0.0.0/8"), TunnelMode: str("static"), TunnelMtu: num(1300), TunnelPort: num(2000),
		InstanceType: str("t4g.nano"), OS: str("ubuntu-26.04"), SSHUser: str("u"), SSHAllowedCidrs: []string{"1.2.3.4/32"},
		SSHPublicKey: str("pub"), SSHPrivateKey: pulumi.ToSecret(pulumi.String("priv")).(pulumi.StringOutput), PostDeployCheck: &no,
	}.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, l := c.Sites[0], c.Links[0]
	if s.Name != "a" || s.Region != "r" || s.VpcCidr != "1" || s.VpnSubnetCidr != "2" || s.TerminalSubnetCidr != "3" ||
		s.VpnPrivateIP != "4" || s.TerminalPrivateIP != "5" || s.HasTerminal() || s.AvailabilityZone != "z" ||
		s.InstanceType != "t" || s.Ami != "ami" || s.OS != "o" || s.HighAvailability == nil || *s.HighAvailability ||
		s.SecondaryVpnSubnetCidr != "6" || s.SecondaryVpnPrivateIP != "7" || s.SecondaryAvailabilityZone != "z2" {
		t.Errorf("site %+v", s)
	}
	if l.Name != "l" || l.Port != 7 || l.Mode != "static" || len(l.Sites) != 2 || len(l.TunnelAddresses) != 2 ||
		l.SecondaryPort != 8 || len(l.SecondaryTunnelAddresses) != 2 {
		t.Errorf("link %+v", l)
	}
	if c.Hub != "a" || c.SummaryCidr != "10.0.0.0/8" || c.TunnelMode != "static" || c.TunnelMTU != 1300 || c.TunnelPort != 2000 ||
		c.InstanceType != "t4g.nano" || c.OS != "ubuntu-26.04" || c.SSHUser != "u" || len(c.SSHAllowedCIDRs) != 1 ||
		c.SSHPublicKey != "pub" || c.SSHPrivateKey != "priv" || c.CheckEnabled() ||
		c.HighAvailability == nil || *c.HighAvailability || c.FailbackHoldDownSeconds != 30 {
		t.Errorf("config %+v", c)
	}
}
