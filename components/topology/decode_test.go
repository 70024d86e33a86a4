package topology

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// meshSites returns n valid sites with distinct /16 VPCs.
func meshSites(n int) []Site {
	sites := make([]Site, n)
	for i := range sites {
		o2, o1 := i%256, 10+i/256
		sites[i] = Site{
			Name: fmt.Sprintf("s%d", i), Region: "eu-west-1", VpcCidr: fmt.Sprintf("%d.%d.0.0/16", o1, o2),
			VpnSubnetCidr: fmt.Sprintf("%d.%d.0.0/24", o1, o2), VpnPrivateIP: fmt.Sprintf("%d.%d.0.10", o1, o2),
			TerminalSubnetCidr: fmt.Sprintf("%d.%d.1.0/24", o1, o2),
			Terminal:           boolPtr(false),
		}
	}
	return sites
}

func TestHundredSiteMesh(t *testing.T) {
	c := Normalize(Config{Sites: meshSites(100)})
	if err := Validate(c); err != nil {
		t.Fatalf("100-site mesh rejected: %v", err)
	}
	if len(c.Links) != 4950 {
		t.Fatalf("%d links, want 4950", len(c.Links))
	}
	// The first link keeps the walk-through's addresses and port.
	if l := c.Links[0]; l.TunnelAddresses[0] != "10.254.0.1" || l.TunnelAddresses[1] != "10.254.0.2" || l.Port != 1194 {
		t.Errorf("links[0] = %+v", l)
	}
	pool := netip.MustParsePrefix(DefaultTunnelNetwork)
	seen := map[string]int{}
	for k, l := range c.Links {
		for _, a := range l.TunnelAddresses {
			if j, dup := seen[a]; dup {
				t.Fatalf("links[%d] and links[%d] share %s", j, k, a)
			}
			seen[a] = k
			if !pool.Contains(netip.MustParseAddr(a)) {
				t.Errorf("links[%d]: %s outside %s", k, a, pool)
			}
		}
		// Both ends in one /30, neither its network nor broadcast address.
		a, b := netip.MustParseAddr(l.TunnelAddresses[0]), netip.MustParseAddr(l.TunnelAddresses[1])
		p, _ := a.Prefix(30)
		if !p.Contains(b) || a == p.Addr() || lastAddr(p) == b {
			t.Errorf("links[%d]: %s and %s are not the hosts of one /30", k, a, b)
		}
		if l.Port != 1194+k {
			t.Errorf("links[%d]: port %d, want %d", k, l.Port, 1194+k)
		}
	}
}

func TestMeshBeyondDefaultAddressesNamesTheLimit(t *testing.T) {
	c := Normalize(Config{Sites: meshSites(182)})
	err := Validate(c)
	fes := fieldErrors(err)
	if len(fes) != 1 || fes[0].Key != "vpclink:sites" || !strings.Contains(fes[0].Problem, "182 sites") || !strings.Contains(fes[0].Problem, "181 sites") {
		t.Fatalf("want one error under vpclink:sites naming the limit, got %v", err)
	}
	if err := Validate(Normalize(Config{Sites: meshSites(181)})); err != nil {
		t.Errorf("181-site mesh rejected: %v", err)
	}
}

// A derived value is never blamed: the error names what it came from.
func TestDefaultsBlameTheirSource(t *testing.T) {
	c := threeSites()
	c.Links = []Link{{Sites: []string{"a", "b"}, TunnelAddresses: []string{"10.254.1.1", "10.254.1.2"}}, {Sites: []string{"b", "c"}}}
	n := Normalize(c)
	if got := n.Links[1].TunnelAddresses; got[0] == "10.254.1.1" || got[1] == "10.254.1.2" {
		t.Errorf("default addresses %v collide with links[0]'s", got)
	}
	if err := Validate(n); err != nil {
		t.Errorf("rejected: %v", err)
	}
}

func decodeMap(t *testing.T, m map[string]any) (Config, error) {
	t.Helper()
	values := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			values["vpclink:"+k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		values["vpclink:"+k] = string(b)
	}
	values["aws:region"] = "eu-west-1" // other namespaces are not ours
	return Decode(values, nil)
}

func twoSitesJSON() []any {
	var out []any
	b, _ := json.Marshal(twoSites().Sites)
	json.Unmarshal(b, &out)
	return out
}

func TestDecodeExplicitValuesAreKept(t *testing.T) {
	c, err := decodeMap(t, map[string]any{
		"sites":      twoSitesJSON(),
		"links":      []any{map[string]any{"sites": []string{"a", "b"}, "port": 0}},
		"tunnelPort": "0",
		"tunnelMtu":  "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	n := Normalize(c)
	if n.TunnelPort != 0 || n.TunnelMTU != 0 || n.Links[0].Port != 0 {
		t.Errorf("explicit zeros replaced: tunnelPort %d, tunnelMtu %d, links[0].port %d", n.TunnelPort, n.TunnelMTU, n.Links[0].Port)
	}
	var keys []string
	for _, fe := range fieldErrors(Validate(n)) {
		keys = append(keys, fe.Error())
	}
	for _, want := range []string{
		"config vpclink:tunnelPort = 0: is not a port (1-65535)",
		"config vpclink:tunnelMtu = 0: must be between 1280 and 1500",
		"config vpclink:links[0].port = 0: is not a port (1-65535)",
	} {
		if !contains(keys, want) {
			t.Errorf("no %q among %q", want, keys)
		}
	}

	// Left out, the same values take their defaults.
	c, err = decodeMap(t, map[string]any{"sites": twoSitesJSON(), "links": []any{map[string]any{"sites": []string{"a", "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := Normalize(c); n.TunnelPort != 1194 || n.TunnelMTU != 1400 || n.Links[0].Port != 1194 || Validate(n) != nil {
		t.Errorf("defaults not applied: %+v", n)
	}
}

func TestDecodeReportsExactPaths(t *testing.T) {
	sites := twoSitesJSON()
	sites[1].(map[string]any)["vpcCidr"] = 10
	sites[0].(map[string]any)["terminal"] = "false"
	_, err := decodeMap(t, map[string]any{
		"sites":     sites,
		"links":     []any{map[string]any{"sites": []any{"a", "b"}, "tunnelAddress": []string{"10.254.0.1"}}},
		"tunnelMTU": "1300",
	})
	got := map[string]string{}
	for _, fe := range fieldErrors(err) {
		got[fe.Key] = fe.Error()
	}
	want := map[string]string{
		"vpclink:sites[1].vpcCidr":            "config vpclink:sites[1].vpcCidr = 10: must be a string (an IPv4 CIDR such as 10.0.0.0/16), not a number",
		"vpclink:sites[0].terminal":           `config vpclink:sites[0].terminal = "false": must be true or false, not a string`,
		"vpclink:links[0].tunnelAddress":      `config vpclink:links[0].tunnelAddress = ["10.254.0.1"]: is not a field of links; did you mean vpclink:links[0].tunnelAddresses?`,
		"vpclink:tunnelMTU":                   `config vpclink:tunnelMTU = "1300": is not a configuration key of this program; did you mean vpclink:tunnelMtu?`,
		"vpclink:links[0].tunnelAddresses[0]": "",
	}
	for k, w := range want {
		if w == "" {
			if _, ok := got[k]; ok {
				t.Errorf("unexpected error for %s", k)
			}
			continue
		}
		if got[k] != w {
			t.Errorf("%s:\n got %q\nwant %q", k, got[k], w)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d errors, want 4: %v", len(got), err)
	}
}

func TestDecodeNeverRepeatsSecrets(t *testing.T) {
	values := map[string]string{
		"vpclink:sites":         `[]`,
		"vpclink:sshPrivateKey": privateKeyMarker,
		"vpclink:sshPrivateKy":  privateKeyMarker,
		"vpclink:tunnelPort":    privateKeyMarker,
	}
	secret := map[string]bool{"vpclink:sshPrivateKy": true, "vpclink:tunnelPort": true}
	_, err := Decode(values, secret)
	if err == nil || strings.Contains(err.Error(), privateKeyMarker) {
		t.Fatalf("a secret is repeated, or nothing reported (message not shown): %v", err != nil)
	}
	for _, k := range []string{"vpclink:sshPrivateKey", "vpclink:sshPrivateKy", "vpclink:tunnelPort"} {
		if !strings.Contains(err.Error(), "config "+k+" = \"[secret]\"") {
			t.Errorf("no error for %s", k)
		}
	}
}

// When a link is wrong in several ways, the cause comes first, and values
// derived from a wrong one are not blamed.
func TestValidateCauseBeforeConsequence(t *testing.T) {
	c := threeSites()
	c.Links = []Link{{Sites: []string{"a"}}, {Sites: []string{"a", "zz"}}}
	fes := fieldErrors(Validate(Normalize(c)))
	var got []string
	for _, fe := range fes {
		got = append(got, fe.Key)
	}
	want := []string{"vpclink:links[0].sites", "vpclink:links[1].sites[1]"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("errors for %v, want only %v", got, want)
	}
}

func TestValidateResourceNamesDoNotCollide(t *testing.T) {
	c := twoSites()
	c.Sites = append(c.Sites, meshSites(4)[2:]...)
	c.Sites[2].Name, c.Sites[3].Name = "b-c", "c"
	// "x" at site "b-c" and "x-b" at site "c" would both be "x-b-c-...".
	c.Links = []Link{{Name: "x", Sites: []string{"a", "b-c"}}, {Name: "x-b", Sites: []string{"a", "c"}}}
	err := Validate(Normalize(c))
	if !strings.Contains(errString(err), `config vpclink:links[1].name = "x-b": its end at site "c"`) {
		t.Errorf("want a name collision under links[1].name, got %v", err)
	}
	// The same through default names of a mesh: a-b-c twice.
	c.Links = nil
	c.Sites = c.Sites[:3]
	c.Sites[1].Name, c.Sites[2].Name = "a-b", "c"
	c.Sites = append(c.Sites, meshSites(5)[4])
	c.Sites[3].Name = "b-c"
	c.Sites[0].Name = "a"
	err = Validate(Normalize(c))
	if !strings.Contains(errString(err), `gets the default name "a-b-c"`) {
		t.Errorf("want a default-name collision, got %v", err)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tunnelMTU", "tunnelMtu"}, {"sshAllowedCIDRs", "sshAllowedCidrs"}, {"site", "sites"},
		{"postdeploycheck", "postDeployCheck"}, {"sshPublicKeys", "sshPublicKey"},
	} {
		if got := suggest(tc.in, Keys, ""); got != "; did you mean "+tc.want+"?" {
			t.Errorf("suggest(%q) = %q, want %s", tc.in, got, tc.want)
		}
	}
	if got := suggest("completelyunrelated", Keys, ""); !strings.HasPrefix(got, "; valid: sites, links") {
		t.Errorf("far key: %q", got)
	}
}

// Every value in an error is the value as written: a scalar where a list
// belongs, a list where a scalar belongs, numbers, booleans, strings with
// dots (203.0.113.7/32 was once shown as 203.0, the part that reads as a
// JSON number).
func TestValueAsWrittenInErrors(t *testing.T) {
	sites := `[{"name":"a","region":"eu-west-1","vpcCidr":"10.0.0.0/16","vpnSubnetCidr":"10.0.0.0/24","terminalSubnetCidr":"10.0.1.0/24","vpnPrivateIp":"10.0.0.10","terminalPrivateIp":"10.0.1.30"},` +
		`{"name":"b","region":"sa-east-1","vpcCidr":"10.1.0.0/16","vpnSubnetCidr":"10.1.0.0/24","terminalSubnetCidr":"10.1.1.0/24","vpnPrivateIp":"10.1.0.20","terminalPrivateIp":"10.1.1.40"}]`
	for _, tc := range []struct{ key, raw, want string }{
		{"sshAllowedCidrs", "203.0.113.7/32", `config vpclink:sshAllowedCidrs = "203.0.113.7/32": must be a list, not a string`},
		{"sshAllowedCidrs", "5", `config vpclink:sshAllowedCidrs = 5: must be a list, not a number`},
		{"sshAllowedCidrs", "true", `config vpclink:sshAllowedCidrs = true: must be a list, not a boolean`},
		{"sshAllowedCidrs", `{"a":1}`, `config vpclink:sshAllowedCidrs = {"a":1}: must be a list, not an object`},
		{"sshAllowedCidrs", `[203.0.113.7/32]`, `config vpclink:sshAllowedCidrs = "[203.0.113.7/32]": is not a JSON list`},
		{"sites", "a.b.c", `config vpclink:sites = "a.b.c": must be a list, not a string`},
		{"tunnelPort", "[1194]", `config vpclink:tunnelPort = [1194]: must be a whole number (a UDP port, 1-65535), not a list`},
		{"tunnelMtu", "1400.5", `config vpclink:tunnelMtu = 1400.5: is not a whole number`},
		{"tunnelMtu", "abc", `config vpclink:tunnelMtu = "abc": is not a whole number`},
		{"tunnelMtu", "true", `config vpclink:tunnelMtu = true: is not a whole number`},
		{"instanceType", `["t3.micro"]`, `config vpclink:instanceType = ["t3.micro"]: must be a string, not a list`},
		{"postDeployCheck", "yes", `config vpclink:postDeployCheck = "yes": must be true or false`},
		{"postDeployCheck", "1", `config vpclink:postDeployCheck = 1: must be true or false`},
	} {
		t.Run(tc.key+"="+tc.raw, func(t *testing.T) {
			values := map[string]string{"vpclink:sites": sites, "vpclink:" + tc.key: tc.raw}
			_, err := Decode(values, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
}

// The image choice: stack-wide vpclink:os, per site sites[i].os, a pinned
// ami above both. Written values are checked as written, every message
// lists the accepted values, and os and ami on one site are refused (the os
// would be silently ignored); the stack-wide os beside a site's ami is not
// (it chooses the other sites' images).
func TestDecodeOS(t *testing.T) {
	choices := "must be one of ubuntu-24.04 (the default), ubuntu-26.04"
	withSite := func(i int, kv ...any) []any {
		s := twoSitesJSON()
		for j := 0; j < len(kv); j += 2 {
			s[i].(map[string]any)[kv[j].(string)] = kv[j+1]
		}
		return s
	}
	cases := []struct {
		name   string
		values map[string]any
		// os is what Normalize gives each site; want the errors, in full.
		os   [2]string
		want []string
	}{
		{name: "default", values: map[string]any{"sites": twoSitesJSON()}, os: [2]string{"ubuntu-24.04", "ubuntu-24.04"}},
		{name: "stack-wide", values: map[string]any{"sites": twoSitesJSON(), "os": "ubuntu-26.04"}, os: [2]string{"ubuntu-26.04", "ubuntu-26.04"}},
		{name: "per site", values: map[string]any{"sites": withSite(1, "os", "ubuntu-26.04")}, os: [2]string{"ubuntu-24.04", "ubuntu-26.04"}},
		{name: "site overrides the stack", values: map[string]any{"sites": withSite(0, "os", "ubuntu-24.04"), "os": "ubuntu-26.04"}, os: [2]string{"ubuntu-24.04", "ubuntu-26.04"}},
		{name: "pinned ami beside the stack-wide os", values: map[string]any{"sites": withSite(0, "ami", "ami-0123456789abcdef0"), "os": "ubuntu-26.04"}, os: [2]string{"", "ubuntu-26.04"}},
		{name: "unknown stack-wide", values: map[string]any{"sites": twoSitesJSON(), "os": "ubuntu-22.04"},
			want: []string{`config vpclink:os = "ubuntu-22.04": ` + choices}},
		{name: "explicitly empty", values: map[string]any{"sites": twoSitesJSON(), "os": ""},
			want: []string{`config vpclink:os = "": ` + choices}},
		{name: "unknown per site", values: map[string]any{"sites": withSite(1, "os", "Ubuntu-26.04")},
			want: []string{`config vpclink:sites[1].os = "Ubuntu-26.04": ` + choices + " (or left out for vpclink:os)"}},
		{name: "explicitly empty per site", values: map[string]any{"sites": withSite(0, "os", "")},
			want: []string{`config vpclink:sites[0].os = "": ` + choices + " (or left out for vpclink:os)"}},
		{name: "os and ami on one site", values: map[string]any{"sites": withSite(0, "os", "ubuntu-26.04", "ami", "ami-0123456789abcdef0")},
			want: []string{`config vpclink:sites[0].os = "ubuntu-26.04": has no effect with sites[0].ami "ami-0123456789abcdef0" set: the pinned image is used as it is, whatever its system; remove one of the two`}},
		{name: "not a string", values: map[string]any{"sites": withSite(1, "os", 26.04)},
			want: []string{"config vpclink:sites[1].os = 26.04: must be a string (an image choice: ubuntu-24.04 or ubuntu-26.04), not a number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decodeMap(t, tc.values)
			if err == nil {
				n := Normalize(c)
				if tc.want == nil {
					if got := [2]string{n.Sites[0].OS, n.Sites[1].OS}; got != tc.os {
						t.Errorf("sites' os %q, want %q", got, tc.os)
					}
				}
				err = Validate(n)
			}
			var got []string
			for _, fe := range fieldErrors(err) {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
