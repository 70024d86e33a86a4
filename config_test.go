package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// editSites changes one field of one site of the reference stack.
func editSites(t *testing.T, cfg map[string]string, i int, field string, value any) {
	t.Helper()
	var sites []map[string]any
	if err := json.Unmarshal([]byte(cfg["vpclink:sites"]), &sites); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(sites[i], field)
	} else {
		sites[i][field] = value
	}
	b, _ := json.Marshal(sites)
	cfg["vpclink:sites"] = string(b)
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, cfg map[string]string)
		want []string // all must appear in the error
	}{
		{"no sites", func(t *testing.T, c map[string]string) { delete(c, "vpclink:sites") }, []string{"vpclink:sites", "required"}},
		{"one site", func(t *testing.T, c map[string]string) {
			var s []any
			json.Unmarshal([]byte(c["vpclink:sites"]), &s)
			b, _ := json.Marshal(s[:1])
			c["vpclink:sites"] = string(b)
			delete(c, "vpclink:links")
		}, []string{"vpclink:sites", "at least two"}},
		{"sites not JSON", func(t *testing.T, c map[string]string) { c["vpclink:sites"] = "a,b" }, []string{"vpclink:sites", `"a,b"`[1:4]}},
		{"unknown site field", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "subnetCidr", "10.9.0.0/16") }, []string{"vpclink:sites", "subnetCidr"}},
		{"unparsable VPC CIDR", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "vpcCidr", "10.0.0.0/33") }, []string{"vpclink:sites[0].vpcCidr", "10.0.0.0/33"}},
		{"host bits in CIDR", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "vpcCidr", "10.1.2.3/16") }, []string{"vpclink:sites[1].vpcCidr", "10.1.2.3/16", "10.1.0.0/16"}},
		{"overlapping VPCs", func(t *testing.T, c map[string]string) {
			editSites(t, c, 1, "vpcCidr", "10.0.128.0/17")
			editSites(t, c, 1, "vpnSubnetCidr", "10.0.128.0/24")
			editSites(t, c, 1, "terminalSubnetCidr", "10.0.129.0/24")
			editSites(t, c, 1, "vpnPrivateIp", "10.0.128.20")
			editSites(t, c, 1, "terminalPrivateIp", "10.0.129.40")
		}, []string{"vpclink:sites[1].vpcCidr", "10.0.128.0/17", "overlaps"}},
		{"subnet outside VPC", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "terminalSubnetCidr", "10.5.1.0/24") }, []string{"vpclink:sites[0].terminalSubnetCidr", "10.5.1.0/24", "outside"}},
		{"subnets overlap", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "terminalSubnetCidr", "10.0.0.0/23") }, []string{"vpclink:sites[0].terminalSubnetCidr", "10.0.0.0/23", "overlaps"}},
		{"IP not an IP", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "vpnPrivateIp", "10.0.0.300") }, []string{"vpclink:sites[0].vpnPrivateIp", "10.0.0.300"}},
		{"IP outside subnet", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "terminalPrivateIp", "10.1.0.40") }, []string{"vpclink:sites[1].terminalPrivateIp", "10.1.0.40", "outside"}},
		{"reserved network address", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "vpnPrivateIp", "10.0.0.0") }, []string{"vpclink:sites[0].vpnPrivateIp", `"10.0.0.0"`, "reserved"}},
		{"reserved router address", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "vpnPrivateIp", "10.0.0.1") }, []string{"vpclink:sites[0].vpnPrivateIp", "10.0.0.1", "reserved"}},
		{"reserved DNS address", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "vpnPrivateIp", "10.1.0.2") }, []string{"vpclink:sites[1].vpnPrivateIp", "10.1.0.2", "reserved"}},
		{"reserved future address", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "terminalPrivateIp", "10.1.1.3") }, []string{"vpclink:sites[1].terminalPrivateIp", "10.1.1.3", "reserved"}},
		{"reserved broadcast address", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "terminalPrivateIp", "10.0.1.255") }, []string{"vpclink:sites[0].terminalPrivateIp", "10.0.1.255", "reserved"}},
		{"tunnel address in a VPC", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"tunnelAddresses":["10.1.200.1","10.254.0.2"]}]`
		}, []string{"vpclink:links[0].tunnelAddresses[0]", "10.1.200.1", "sites[1].vpcCidr"}},
		{"tunnel addresses equal", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"tunnelAddresses":["10.254.0.1","10.254.0.1"]}]`
		}, []string{"vpclink:links[0].tunnelAddresses[1]", "10.254.0.1"}},
		{"port out of range", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"port":70000}]`
		}, []string{"vpclink:links[0].port", "70000"}},
		{"default port out of range", func(t *testing.T, c map[string]string) {
			delete(c, "vpclink:links")
			c["vpclink:tunnelPort"] = "-5"
		}, []string{"vpclink:tunnelPort", "-5"}},
		{"port not a number", func(t *testing.T, c map[string]string) { c["vpclink:tunnelPort"] = "udp" }, []string{"vpclink:tunnelPort", `"udp"`}},
		{"duplicate site names", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "name", "a") }, []string{"vpclink:sites[1].name", `"a"`, "duplicates"}},
		{"link to unknown site", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","c"]}]`
		}, []string{"vpclink:links[0].sites[1]", `"c"`}},
		{"bad region", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "region", "sao-paulo") }, []string{"vpclink:sites[1].region", "sao-paulo"}},
		{"bad SSH CIDR", func(t *testing.T, c map[string]string) { c["vpclink:sshAllowedCidrs"] = `["my laptop"]` }, []string{"vpclink:sshAllowedCidrs[0]", "my laptop"}},
		{"public key without private key", func(t *testing.T, c map[string]string) {
			c["vpclink:sshPublicKey"] = "ssh-ed25519 AAAA"
		}, []string{"vpclink:sshPrivateKey", "both or neither"}},
		{"whitespace in a CIDR", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "vpcCidr", "10.1.0.0/16 ") }, []string{"vpclink:sites[1].vpcCidr", `"10.1.0.0/16 "`}},
		{"no SSH networks", func(t *testing.T, c map[string]string) { c["vpclink:sshAllowedCidrs"] = `[]` }, []string{"vpclink:sshAllowedCidrs", "at least one"}},
		{"zone of another region", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "availabilityZone", "eu-west-10a") }, []string{"vpclink:sites[0].availabilityZone", "eu-west-10a"}},
		{"MTU too large", func(t *testing.T, c map[string]string) { c["vpclink:tunnelMtu"] = "9001" }, []string{"vpclink:tunnelMtu", "9001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadStack(t, "Pulumi.dev.yaml")
			tc.edit(t, cfg)
			res := evaluate(t, cfg)
			if res.err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(res.err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, res.err)
				}
			}
			if n := len(res.mon.Registrations()); n != 0 {
				t.Errorf("%d resources registered for an invalid config", n)
			}
			if n := len(res.mon.Calls()); n != 0 {
				t.Errorf("%d invokes made for an invalid config", n)
			}
		})
	}
}
