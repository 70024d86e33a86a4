package vpclink

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/mockaws"
)

// The mocks' addresses are not real hosts: no SSH probe.
func init() { SSHProbePatience = 0 }

const tCommand = "command:remote:Command"

// fingerprintOf is what the fake identity step of a site prints.
func fingerprintOf(site string) string {
	var parts []string
	for i := 0; i < 32; i++ {
		parts = append(parts, fmt.Sprintf("%02X", (i+len(site)*7+int(site[0]))%256))
	}
	return strings.Join(parts, ":")
}

// runLink registers two sites and a link in mode with the mock monitor; the
// identity commands print stdout (a fingerprint unless given).
func runLink(t *testing.T, mode openvpn.Mode, stdout func(site string) string) (*mockaws.Monitor, error) {
	t.Helper()
	mon := &mockaws.Monitor{Hook: func(r *mockaws.Registration) error {
		if r.Type == tCommand && strings.HasSuffix(r.Name, "-identity") {
			site := strings.TrimSuffix(strings.TrimPrefix(r.Name, "a-b-"), "-identity")
			r.Outputs["stdout"] = resource.NewProperty(stdout(site))
		}
		return nil
	}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var sites [2]*Site
		for i, s := range []struct{ name, region, cidr string }{{"a", "eu-west-1", "10.0"}, {"b", "sa-east-1", "10.1"}} {
			site, err := NewSite(ctx, s.name, &SiteArgs{
				Region: s.region, VpcCidr: s.cidr + ".0.0/16", VpnSubnetCidr: s.cidr + ".0.0/24", TerminalSubnetCidr: s.cidr + ".1.0/24",
				VpnPrivateIP: s.cidr + ".0.10", TerminalPrivateIP: s.cidr + ".1.30",
				SSHPublicKey:    pulumi.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0 test"),
				SSHAllowedCIDRs: []string{"192.0.2.0/24"},
			})
			if err != nil {
				return err
			}
			sites[i] = site
		}
		_, err := NewLink(ctx, "a-b", &LinkArgs{Sites: sites, Mode: mode, SSH: SSHArgs{PrivateKey: pulumi.ToSecret(pulumi.String("k")).(pulumi.StringOutput)}})
		return err
	}, pulumi.WithMocks("vpclink", "test", mon))
	return mon, err
}

func commands(mon *mockaws.Monitor, suffix string) map[string]*mockaws.Registration {
	out := map[string]*mockaws.Registration{}
	for _, r := range mon.ByType(tCommand) {
		if strings.HasSuffix(r.Name, suffix) {
			out[strings.TrimSuffix(strings.TrimPrefix(r.Name, "a-b-"), suffix)] = r
		}
	}
	return out
}

func TestLinkTLSMode(t *testing.T) {
	var mu sync.Mutex
	mon, err := runLink(t, "", func(site string) string { mu.Lock(); defer mu.Unlock(); return fingerprintOf(site) + "\n" })
	if err != nil {
		t.Fatal(err)
	}
	ids, setups := commands(mon, "-identity"), commands(mon, "-setup")
	if len(ids) != 2 || len(setups) != 2 {
		t.Fatalf("%d identity and %d setup commands, want 2 and 2", len(ids), len(setups))
	}
	for site, id := range ids {
		peer := map[string]string{"a": "b", "b": "a"}[site]
		if !strings.Contains(id.Input("create"), "ec_paramgen_curve:prime256v1") || !strings.Contains(id.Input("delete"), ".tls.key") {
			t.Errorf("%s: identity create/delete are not the identity scripts", id.Name)
		}
		if id.Inputs["stdin"].HasValue() && id.Input("stdin") != "" {
			t.Errorf("%s: identity has stdin", id.Name)
		}
		if !id.DeleteBeforeReplace || len(id.InputList("triggers")) != 1 || !strings.HasPrefix(id.InputList("triggers")[0], "i-") {
			t.Errorf("%s: want DeleteBeforeReplace and the instance id as trigger: %v %v", id.Name, id.DeleteBeforeReplace, id.InputList("triggers"))
		}
		// The fingerprint is public (it goes into the peer's config);
		// stderr may carry anything and is secret.
		secret := "," + strings.Join(id.AdditionalSecretOutputs, ",") + ","
		if !strings.Contains(secret, ",stderr,") || strings.Contains(secret, ",stdout,") {
			t.Errorf("%s: secret outputs %v, want stderr and not stdout", id.Name, id.AdditionalSecretOutputs)
		}
		// Identities run in parallel: no command before them.
		for _, dep := range id.Dependencies {
			if d := mon.ByURN(dep); d != nil && d.Type == tCommand {
				t.Errorf("%s waits for %s", id.Name, d.Name)
			}
		}
		s := setups[site]
		create := strings.ReplaceAll(s.Input("create"), `'\''`, `'`)
		if !strings.Contains(create, "\npeer-fingerprint "+fingerprintOf(peer)+"\n") {
			t.Errorf("%s: config does not pin %s's fingerprint", s.Name, peer)
		}
		// Its own fingerprint only as the comment that makes a new
		// certificate a new configuration, never pinned.
		if strings.Contains(create, "peer-fingerprint "+fingerprintOf(site)) || !strings.Contains(create, "\n# This end's certificate: "+fingerprintOf(site)+"\n") {
			t.Errorf("%s: config pins its own fingerprint, or does not name it", s.Name)
		}
		role := map[string]string{"a": "\ntls-server\ndh none\n", "b": "\ntls-client\n"}[site]
		if !strings.Contains(create, role) {
			t.Errorf("%s: not %q", s.Name, role)
		}
		if !s.Inputs["stdin"].IsSecret() || !openvpn.ValidStaticKey(mockaws.Text(s.Inputs["stdin"])) {
			t.Errorf("%s: stdin is not the secret V1 key", s.Name)
		}
		key := mockaws.Text(s.Inputs["stdin"])
		for _, r := range mon.ByType(tCommand) {
			for _, k := range []string{"create", "update", "delete"} {
				if strings.Contains(r.Input(k), strings.Split(key, "\n")[1]) {
					t.Errorf("%s: key material in %s", r.Name, k)
				}
			}
		}
		// Setup of each end waits for both identities and no other setup.
		deps := map[string]bool{}
		for _, dep := range s.Dependencies {
			if d := mon.ByURN(dep); d != nil && d.Type == tCommand {
				deps[d.Name] = true
			}
		}
		if !deps["a-b-"+site+"-identity"] || !deps["a-b-"+peer+"-identity"] || deps["a-b-"+peer+"-setup"] || len(deps) != 2 {
			t.Errorf("%s depends on commands %v; want exactly both identities", s.Name, deps)
		}
	}
}

func TestLinkStaticMode(t *testing.T) {
	mon, err := runLink(t, openvpn.ModeStatic, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if ids := commands(mon, "-identity"); len(ids) != 0 {
		t.Errorf("static mode registers identity commands: %v", ids)
	}
	for site, s := range commands(mon, "-setup") {
		create := strings.ReplaceAll(s.Input("create"), `'\''`, `'`)
		if !strings.Contains(create, "\nsecret /etc/openvpn/vpclink/a-b.key "+map[string]string{"a": "0", "b": "1"}[site]+"\n") || strings.Contains(create, "tls-") {
			t.Errorf("%s: not the static configuration", s.Name)
		}
		for _, dep := range s.Dependencies {
			if d := mon.ByURN(dep); d != nil && d.Type == tCommand {
				t.Errorf("%s waits for %s", s.Name, d.Name)
			}
		}
	}
}

func TestLinkRejects(t *testing.T) {
	if _, err := runLink(t, "psk", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), `"psk"`) {
		t.Errorf("mode psk: %v", err)
	}
	_, err := runLink(t, openvpn.ModeTLS, func(site string) string {
		if site == "b" {
			return "Could not open file or uri for loading certificate"
		}
		return fingerprintOf(site)
	})
	if err == nil || !strings.Contains(err.Error(), "identity step on b printed no valid fingerprint") {
		t.Errorf("bad identity output: %v", err)
	}
}

// A link left at its defaults uses the program's defaults, from their one
// owner (topology), not copies of them.
func TestLinkDefaultsAreTheProgramDefaults(t *testing.T) {
	sites := [2]*Site{{Name: "a", VpcCidr: "10.0.0.0/16"}, {Name: "b", VpcCidr: "10.1.0.0/16"}}
	a, err := LinkArgs{Sites: sites, SSH: SSHArgs{PrivateKey: pulumi.String("k")}}.withDefaults("a-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.SSH.User != topology.DefaultSSHUser || a.Port != topology.DefaultTunnelPort || a.MTU != topology.DefaultTunnelMTU ||
		a.TunnelAddresses != [2]string(topology.DefaultTunnelAddresses(0)) || a.Mode != openvpn.Mode(topology.DefaultTunnelMode) {
		t.Errorf("defaults %q %d %d %v %q differ from topology's", a.SSH.User, a.Port, a.MTU, a.TunnelAddresses, a.Mode)
	}
	for _, mtu := range []int{openvpn.MinMTU - 1, openvpn.MaxMTU + 1} {
		if _, err := (LinkArgs{Sites: sites, MTU: mtu, SSH: SSHArgs{PrivateKey: pulumi.String("k")}}).withDefaults("a-b"); err == nil {
			t.Errorf("MTU %d accepted", mtu)
		}
	}
}
