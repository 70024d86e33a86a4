package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
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
		{"sites not JSON", func(t *testing.T, c map[string]string) { c["vpclink:sites"] = "a,b" }, []string{`config vpclink:sites = "a,b": must be a list, not a string`}},
		{"zone of a region elsewhere", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "availabilityZone", "us-west-2a") },
			[]string{`config vpclink:sites[0].availabilityZone = "us-west-2a": is a zone of region "us-west-2", not of sites[0].region "eu-west-1"`}},
		{"unknown site field", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "subnetCidr", "10.9.0.0/16") },
			[]string{`config vpclink:sites[0].subnetCidr = "10.9.0.0/16": is not a field of sites; did you mean vpclink:sites[0].vpnSubnetCidr?`}},
		{"misspelt site field", func(t *testing.T, c map[string]string) {
			editSites(t, c, 1, "vpnPrivateIP", "10.1.0.20")
			editSites(t, c, 1, "vpnPrivateIp", nil)
		}, []string{`config vpclink:sites[1].vpnPrivateIP = "10.1.0.20": is not a field of sites; did you mean vpclink:sites[1].vpnPrivateIp?`}},
		{"unknown link field", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"ports":1194}]`
		}, []string{`config vpclink:links[0].ports = 1194: is not a field of links; did you mean vpclink:links[0].port?`}},
		{"unknown key in the namespace", func(t *testing.T, c map[string]string) { c["vpclink:tunnelMTU"] = "1300" },
			[]string{`config vpclink:tunnelMTU = "1300": is not a configuration key of this program; did you mean vpclink:tunnelMtu?`}},
		{"unknown list key", func(t *testing.T, c map[string]string) { c["vpclink:sshAllowedCIDRs"] = `["203.0.113.7/32"]` },
			[]string{"config vpclink:sshAllowedCIDRs = ", "did you mean vpclink:sshAllowedCidrs?"}},
		{"unknown secret key", func(t *testing.T, c map[string]string) { c["vpclink:sshPrivateKeys"] = "hunter2-secret" },
			[]string{`config vpclink:sshPrivateKeys = "[secret]"`, "did you mean vpclink:sshPrivateKey?"}},
		{"nested key without --path", func(t *testing.T, c map[string]string) { c["vpclink:sites[0].region"] = "eu-west-2" },
			[]string{`config vpclink:sites[0].region = "eu-west-2": is a key named literally`, "pulumi config set --path"}},
		{"number where a site's string belongs", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "vpcCidr", 10) },
			[]string{"config vpclink:sites[1].vpcCidr = 10: must be a string (an IPv4 CIDR such as 10.0.0.0/16), not a number"}},
		{"unknown image choice", func(t *testing.T, c map[string]string) { c["vpclink:os"] = "ubuntu-22.04" },
			[]string{`config vpclink:os = "ubuntu-22.04": must be one of ubuntu-24.04 (the default), ubuntu-26.04`}},
		{"a site's os beside its pinned ami", func(t *testing.T, c map[string]string) {
			editSites(t, c, 1, "ami", "ami-0123456789abcdef0")
			editSites(t, c, 1, "os", "ubuntu-26.04")
		}, []string{`config vpclink:sites[1].os = "ubuntu-26.04": has no effect with sites[1].ami "ami-0123456789abcdef0" set`}},
		{"string where a boolean belongs", func(t *testing.T, c map[string]string) { editSites(t, c, 1, "terminal", "no") },
			[]string{`config vpclink:sites[1].terminal = "no": must be true or false, not a string`}},
		{"object where a site belongs", func(t *testing.T, c map[string]string) {
			c["vpclink:sites"] = strings.Replace(c["vpclink:sites"], "[{", `["a",{`, 1)
		}, []string{`config vpclink:sites[0] = "a": must be an object`}},
		{"string where a port belongs", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"port":"1194"}]`
		}, []string{`config vpclink:links[0].port = "1194": must be a whole number`}},
		{"fraction where a port belongs", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"port":1194.5}]`
		}, []string{`config vpclink:links[0].port = 1194.5: must be a whole number`}},
		{"number in a link's sites", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a",2]}]`
		}, []string{`config vpclink:links[0].sites[1] = 2: must be a string`}},
		{"explicit port 0", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"port":0}]`
		}, []string{`config vpclink:links[0].port = 0: is not a port (1-65535)`}},
		{"explicit tunnelPort 0", func(t *testing.T, c map[string]string) {
			delete(c, "vpclink:links")
			c["vpclink:tunnelPort"] = "0"
		}, []string{`config vpclink:tunnelPort = 0: is not a port (1-65535)`}},
		{"explicit tunnelMtu 0", func(t *testing.T, c map[string]string) { c["vpclink:tunnelMtu"] = "0" },
			[]string{`config vpclink:tunnelMtu = 0: must be between 1280 and 1500`}},
		{"explicit empty instance type", func(t *testing.T, c map[string]string) { editSites(t, c, 0, "instanceType", "") },
			[]string{`config vpclink:sites[0].instanceType = "": is not an EC2 instance type`}},
		{"explicit empty tunnel addresses", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","b"],"tunnelAddresses":[]}]`
		}, []string{`config vpclink:links[0].tunnelAddresses = []: must hold exactly two addresses`}},
		{"octal-looking port", func(t *testing.T, c map[string]string) { c["vpclink:tunnelPort"] = "0x4aa" },
			[]string{`config vpclink:tunnelPort = "0x4aa": is not a whole number`}},
		{"boolean not true or false", func(t *testing.T, c map[string]string) { c["vpclink:postDeployCheck"] = "yes" },
			[]string{`config vpclink:postDeployCheck = "yes": must be true or false`}},
		{"unknown site before its consequences", func(t *testing.T, c map[string]string) {
			c["vpclink:links"] = `[{"sites":["a","bb"]}]`
		}, []string{`config vpclink:links[0].sites[1] = "bb": is not the name of a configured site; did you mean b?`}},
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
		{"port not a number", func(t *testing.T, c map[string]string) { c["vpclink:tunnelPort"] = "udp" }, []string{`config vpclink:tunnelPort = "udp": is not a whole number`}},
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
			res := evaluate(t, cfg, "vpclink:sshPrivateKeys")
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
			if strings.Contains(res.err.Error(), "hunter2") {
				t.Error("an error message repeats a secret value")
			}
			// Every line after the header names a key of the namespace.
			_, body, ok := strings.Cut(res.err.Error(), "no resource was created, changed or deleted:\n")
			if !ok {
				t.Fatalf("no header in %v", res.err)
			}
			for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
				if !strings.HasPrefix(line, "config vpclink:") {
					t.Errorf("message line names no vpclink: key: %q", line)
				}
			}
		})
	}
}

// Pulumi.yaml declares defaults for the CLI (which hands them to the program
// as set values); they must be the program's own, whose one owner is the
// topology package.
func TestPulumiYAMLDefaultsAreTheProgramDefaults(t *testing.T) {
	raw, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Config map[string]struct {
			Default     any    `yaml:"default"`
			Description string `yaml:"description"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	// The CLI hands every default of a key the stack leaves out to the
	// program as a set value: the dev stack with all of them must run.
	cfg := loadStack(t, "Pulumi.dev.yaml")
	for k, v := range project.Config {
		if _, set := cfg[k]; set || v.Default == nil {
			continue
		}
		switch d := v.Default.(type) {
		case string:
			cfg[k] = d
		default:
			b, _ := json.Marshal(d)
			cfg[k] = string(b)
		}
	}
	if res := evaluate(t, cfg); res.err != nil {
		t.Errorf("the dev stack with every Pulumi.yaml default set, as the CLI passes them: %v", res.err)
	}
	for k, want := range map[string]any{
		"tunnelMode":   topology.DefaultTunnelMode,
		"hub":          "",
		"summaryCidr":  "",
		"instanceType": topology.DefaultInstanceType,
		"os":           topology.DefaultOS,
		"sshUser":      topology.DefaultSSHUser,
		"tunnelPort":   topology.DefaultTunnelPort,
		"tunnelMtu":    topology.DefaultTunnelMTU,
	} {
		if got := project.Config[topology.ConfigNamespace+":"+k].Default; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Pulumi.yaml: %s default %v, the program's is %v", k, got, want)
		}
	}
	for _, o := range topology.OSes {
		if d := project.Config["vpclink:os"].Description; !strings.Contains(d, o) {
			t.Errorf("Pulumi.yaml: os description %q does not name %s", d, o)
		}
	}
	if d, want := project.Config["vpclink:tunnelMtu"].Description, fmt.Sprintf("(%d-%d)", openvpn.MinMTU, openvpn.MaxMTU); !strings.Contains(d, want) {
		t.Errorf("Pulumi.yaml: tunnelMtu description %q does not give the range %s", d, want)
	}
}

// TestRegionRefusesBeforeAnyAWSResource: inputs only the region's API can
// judge (zones, offerings) are refused with the configuration key and the
// value as written, before any AWS resource is registered.
func TestRegionRefusesBeforeAnyAWSResource(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, c map[string]string)
		want []string
	}{
		{"pinned zone without the type", func(t *testing.T, c map[string]string) {
			editSites(t, c, 0, "region", "us-east-1")
			editSites(t, c, 0, "availabilityZone", "us-east-1e")
		}, []string{`config vpclink:sites[0].availabilityZone = "us-east-1e": does not offer instance type t3.micro (zones of us-east-1 that do: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f)`}},
		{"zone the region does not have", func(t *testing.T, c map[string]string) {
			editSites(t, c, 1, "availabilityZone", "sa-east-1z")
		}, []string{`config vpclink:sites[1].availabilityZone = "sa-east-1z": is not an available zone of sa-east-1 (available: sa-east-1a, sa-east-1b, sa-east-1c)`}},
		{"site type in the pinned zone", func(t *testing.T, c map[string]string) {
			editSites(t, c, 0, "region", "us-east-1")
			editSites(t, c, 0, "availabilityZone", "us-east-1e")
			editSites(t, c, 0, "instanceType", "t4g.micro")
		}, []string{`config vpclink:sites[0].availabilityZone = "us-east-1e": does not offer instance type t4g.micro`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadStack(t, "Pulumi.dev.yaml")
			tc.edit(t, cfg)
			res := evaluate(t, cfg, "vpclink:sshPrivateKeys")
			if res.err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.want, "no AWS resource was created, changed or deleted") {
				if !strings.Contains(res.err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, res.err)
				}
			}
			for _, r := range res.mon.Registrations() {
				// Providers and the login key's random seed (state only,
				// reused by the next run) may precede the refusal.
				if r.Custom && strings.HasPrefix(r.Type, "aws:") {
					t.Errorf("%s %s registered before the refusal", r.Type, r.Name)
				}
			}
		})
	}
}
