package topology_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
	"github.com/vpclink/pulumi-vpc-openvpn/internal/stackfile"
)

// FuzzConfig feeds the configuration decoder and validator what the engine
// would hand the program, key by key (seeds: the stack files and f.Add below,
// plus testdata/fuzz/FuzzConfig). It asserts: no panic; a rejection names a
// vpclink: key on every line and never repeats the private key; an accepted
// configuration renders, for both ends of every link, an OpenVPN config that
// says what the link says, and setup and teardown scripts that bash parses.
func FuzzConfig(f *testing.F) {
	for _, path := range []string{"../../Pulumi.dev.yaml", "../../testdata/Pulumi.lab-three-sites.yaml"} {
		cfg, err := stackfile.Load(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cfg["vpclink:sites"], cfg["vpclink:links"], cfg["vpclink:tunnelPort"], cfg["vpclink:tunnelMtu"], `["203.0.113.7/32"]`, "", "")
	}
	f.Add(`[{"name":"tokyo","region":"ap-northeast-1","vpcCidr":"172.20.0.0/16","vpnSubnetCidr":"172.20.8.0/22","terminalSubnetCidr":"172.20.16.0/24","vpnPrivateIp":"172.20.8.5","terminalPrivateIp":"172.20.16.99","instanceType":"t4g.small"},
		{"name":"virginia","region":"us-east-1","vpcCidr":"192.168.0.0/20","vpnSubnetCidr":"192.168.0.0/24","terminalSubnetCidr":"192.168.4.0/24","vpnPrivateIp":"192.168.0.200","terminalPrivateIp":"192.168.4.4"},
		{"name":"sydney","region":"ap-southeast-2","vpcCidr":"10.254.0.0/16","vpnSubnetCidr":"10.254.1.0/24","terminalSubnetCidr":"10.254.2.0/24","vpnPrivateIp":"10.254.1.7","terminal":false,"ami":"ami-0123456789abcdef0"}]`,
		"", "4000", "", `["198.51.100.7/32","192.0.2.0/28"]`, "instanceType", "t4g.small")
	dev, _ := stackfile.Load("../../Pulumi.dev.yaml")
	f.Add(dev["vpclink:sites"], `[{"sites":["a","b"],"port":0}]`, "0", "0", "[]", "tunnelMTU", "1300")
	f.Add(dev["vpclink:sites"], `[{"sites":["b","a"],"name":"x","tunnelAddresses":["192.168.0.1","192.168.0.2"],"port":65535}]`, "", "1500", `["0.0.0.0/0"]`, "sshUser", "ec2-user")
	f.Add(dev["vpclink:sites"], `[{"sites":["a",1]}]`, "1194", "1280", `[1]`, "postDeployCheck", "no")
	f.Add(strings.Replace(dev["vpclink:sites"], `"name":"b"`, `"name":"b","os":"ubuntu-26.04"`, 1), "", "", "", "", "os", "ubuntu-24.04")
	f.Add(dev["vpclink:sites"], "", "", "", "", "os", "ubuntu-22.04")

	bash, _ := exec.LookPath("bash")
	f.Fuzz(func(t *testing.T, sites, links, port, mtu, ssh, extraKey, extraValue string) {
		values := map[string]string{"vpclink:sites": sites}
		for k, v := range map[string]string{"links": links, "tunnelPort": port, "tunnelMtu": mtu, "sshAllowedCidrs": ssh} {
			if v != "" {
				values["vpclink:"+k] = v
			}
		}
		if extraKey != "" {
			values["vpclink:"+extraKey] = extraValue
		}
		secret := map[string]bool{"vpclink:sshPrivateKey": true}
		c, err := topology.Decode(values, secret)
		if err == nil {
			c = topology.Normalize(c)
			err = topology.Validate(c)
		}
		if err != nil {
			checkRejection(t, err, values)
			return
		}
		checkAccepted(t, c, bash)
	})
}

// checkRejection asserts every problem is a FieldError of the namespace.
func checkRejection(t *testing.T, err error, values map[string]string) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "config "+topology.ConfigNamespace+":") {
			t.Fatalf("message line names no vpclink: key: %q\nin %v", line, err)
		}
	}
	var leaves []error
	var walk func(error)
	walk = func(e error) {
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		leaves = append(leaves, e)
	}
	walk(err)
	for _, e := range leaves {
		var fe *topology.FieldError
		if !errors.As(e, &fe) || !strings.HasPrefix(fe.Key, topology.ConfigNamespace+":") {
			t.Fatalf("not a FieldError of the namespace: %v", e)
		}
	}
	if pk := values["vpclink:sshPrivateKey"]; len(pk) >= 8 && strings.Contains(err.Error(), pk) {
		t.Fatal("a rejection repeats the private key")
	}
}

// checkAccepted renders both ends of every link as vpclink.NewLink does and
// checks the result against the link.
func checkAccepted(t *testing.T, c topology.Config, bash string) {
	t.Helper()
	if len(c.Sites) < 2 || len(c.Links) == 0 {
		t.Fatalf("accepted %d sites, %d links", len(c.Sites), len(c.Links))
	}
	ports := map[string]map[int]bool{}
	addrs := map[string]bool{}
	scripts := 0
	for k, l := range c.Links {
		var ends [2]topology.Site
		for i, name := range l.Sites {
			s, ok := c.SiteByName(name)
			if !ok {
				t.Fatalf("links[%d]: unknown site %q accepted", k, name)
			}
			ends[i] = s
			if ports[name] == nil {
				ports[name] = map[int]bool{}
			}
			if ports[name][l.Port] {
				t.Fatalf("site %s: port %d used twice", name, l.Port)
			}
			ports[name][l.Port] = true
		}
		for i := range 2 {
			a := l.TunnelAddresses[i]
			if addrs[a] {
				t.Fatalf("tunnel address %s used twice", a)
			}
			addrs[a] = true
			for _, s := range c.Sites {
				if netip.MustParsePrefix(s.VpcCidr).Contains(netip.MustParseAddr(a)) {
					t.Fatalf("tunnel address %s inside %s's VPC", a, s.Name)
				}
			}
			remote := fmt.Sprintf("198.51.100.%d", 1+i)
			tun := openvpn.Tunnel{
				Name: l.Name, Port: l.Port, RemoteAddress: remote,
				LocalTunnelIP: a, RemoteTunnelIP: l.TunnelAddresses[1-i],
				RemoteNetworks: []string{ends[1-i].VpcCidr}, KeyDirection: i, MTU: c.TunnelMTU,
				Mode: openvpn.ModeStatic,
			}
			conf, err := openvpn.RenderConfig(tun)
			if err != nil {
				t.Fatalf("links[%d] end %d: accepted but not renderable: %v", k, i, err)
			}
			checkRendered(t, conf, tun, ends[1-i].VpcCidr)
			setup, err := openvpn.SetupScript(tun)
			if err != nil {
				t.Fatalf("links[%d] end %d: no setup script: %v", k, i, err)
			}
			teardown, err := openvpn.TeardownScript(tun)
			if err != nil {
				t.Fatalf("links[%d] end %d: no teardown script: %v", k, i, err)
			}
			// bash -n costs a process: the first few ends of each input.
			if bash != "" && scripts < 4 {
				scripts++
				for what, s := range map[string]string{"setup": openvpn.Command("setup", setup), "teardown": openvpn.Command("teardown", teardown)} {
					cmd := exec.Command(bash, "-n")
					cmd.Stdin = strings.NewReader(s)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("links[%d] end %d: %s script does not parse: %v\n%s", k, i, what, err, out)
					}
				}
			}
		}
	}
}

// checkRendered parses an OpenVPN config and compares it with the tunnel.
func checkRendered(t *testing.T, conf string, tun openvpn.Tunnel, peerVPC string) {
	t.Helper()
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(conf), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		if _, dup := got[f[0]]; dup && f[0] != "ignore-unknown-option" {
			t.Fatalf("directive %s twice:\n%s", f[0], conf)
		}
		got[f[0]] = f[1:]
	}
	p := netip.MustParsePrefix(peerVPC)
	mask := netip.AddrFrom4([4]byte{byte(0xff << max(0, 8-p.Bits())), byte(0xff << max(0, min(8, 16-p.Bits()))), byte(0xff << max(0, min(8, 24-p.Bits()))), byte(0xff << max(0, min(8, 32-p.Bits())))})
	want := map[string]string{
		"port":     fmt.Sprint(tun.Port),
		"remote":   fmt.Sprintf("%s %d", tun.RemoteAddress, tun.Port),
		"ifconfig": tun.LocalTunnelIP + " " + tun.RemoteTunnelIP,
		"route":    p.Addr().String() + " " + mask.String(),
		"secret":   fmt.Sprintf("%s %d", openvpn.KeyPath(tun.Name), tun.KeyDirection),
		"tun-mtu":  fmt.Sprint(tun.MTU),
		"dev":      openvpn.DeviceName(tun.Port),
	}
	for k, w := range want {
		if strings.Join(got[k], " ") != w {
			t.Fatalf("%s: %q, want %q in\n%s", k, strings.Join(got[k], " "), w, conf)
		}
	}
	if d := openvpn.DeviceName(tun.Port); len(d) > 15 {
		t.Fatalf("device name %s longer than IFNAMSIZ", d)
	}
}

// The seed corpus runs with every `go test`; this keeps the fuzz target's
// own assertions from being vacuous on a host without bash.
func TestFuzzConfigHasBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("bash is needed to check the rendered scripts")
		}
		t.Skip("no bash: rendered scripts are not parsed")
	}
}
