package openvpn

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestDCOBlockers: the checker finds each directive with which OpenVPN
// 2.6/2.7 turn data channel offload off (so that the TLS config's clean bill
// in TestRenderTLSConfig means something), and static mode is not eligible.
func TestDCOBlockers(t *testing.T) {
	tls, err := RenderConfig(tlsTunnel())
	if err != nil {
		t.Fatal(err)
	}
	if b := DCOBlockers(tls); len(b) != 0 {
		t.Fatalf("shipped TLS config: %q", b)
	}
	for _, line := range []string{
		"fragment 1300", "comp-lzo", "compress lz4-v2", "allow-compression yes", "allow-compression asym",
		"socks-proxy 192.0.2.1 1080", "http-proxy 192.0.2.1 3128", "disable-dco", "dev-type tap",
		"data-ciphers AES-256-GCM:AES-256-CBC", "data-ciphers-fallback AES-256-CBC", "cipher BF-CBC",
		"management-query-proxy", "dev-node /dev/net/tun",
	} {
		if b := DCOBlockers(tls + line + "\n"); len(b) != 1 || b[0] != line {
			t.Errorf("%q: found %q", line, b)
		}
	}
	for _, line := range []string{"allow-compression no", "data-ciphers CHACHA20-POLY1305:AES-128-GCM", "# fragment 1300", "mssfix 0", "fast-io"} {
		if b := DCOBlockers(tls + line + "\n"); len(b) != 0 {
			t.Errorf("%q: found %q", line, b)
		}
	}
	static, _ := RenderConfig(baseTunnel())
	if b := DCOBlockers(static); len(b) == 0 {
		t.Error("static config found eligible for DCO")
	}
}

// TestDCOLogTexts: the setup's offload report matches both versions' texts.
func TestDCOLogTexts(t *testing.T) {
	re := regexp.MustCompile(DCODisabledPattern)
	for _, line := range []string{DCOKernelMissing26, DCOKernelMissing27 + " Use Linux 6.16.0 or newer with ovpn support or use ovpn-backports for interface support.",
		"Note: --fragment disables data channel offload.",
		"--user specified but lacking CAP_SETPCAP. Cannot retain CAP_NET_ADMIN. Disabling data channel offload",
		"Note: --data-ciphers-fallback with cipher 'AES-256-CBC' disables data channel offload."} {
		if !re.MatchString(line) {
			t.Errorf("%q does not match %s", line, DCODisabledPattern)
		}
	}
	if re.MatchString("Note: --client-to-client has no effect when using data channel offload: packets are always sent to the VPN interface") {
		t.Error("a note that does not disable DCO matches")
	}
}

// TestMSSClampRules: one table per link named for the project, an explicit
// MSS of MTU-40 (IPv6: -60) for SYNs both into and out of the tunnel's
// device, replaced whole.
func TestMSSClampRules(t *testing.T) {
	for _, tc := range []struct {
		tunnel     Tunnel
		table, dev string
		mss4, mss6 int
	}{
		{baseTunnel(), "vpclink_a_b", "vpn1194", 1360, 1340},
		{func() Tunnel { tu := tlsTunnel(); tu.Name, tu.Port, tu.MTU = "east-central-2", 1200, 1280; return tu }(), "vpclink_east_central_2", "vpn1200", 1240, 1220},
	} {
		nft, err := MSSClampRules(tc.tunnel)
		if err != nil {
			t.Fatal(err)
		}
		if NftTable(tc.tunnel.Name) != tc.table {
			t.Errorf("table %s, want %s", NftTable(tc.tunnel.Name), tc.table)
		}
		lines := strings.Split(strings.TrimSpace(nft), "\n")
		if want := []string{"table inet " + tc.table + " {}", "delete table inet " + tc.table, "table inet " + tc.table + " {"}; strings.Join(lines[1:4], "\n") != strings.Join(want, "\n") {
			t.Errorf("not replaced whole:\n%s", nft)
		}
		for _, dir := range []string{"oifname", "iifname"} {
			for _, m := range []string{fmt.Sprintf("ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size > %d counter tcp option maxseg size set %d ", tc.mss4, tc.mss4),
				fmt.Sprintf("ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size > %d counter tcp option maxseg size set %d ", tc.mss6, tc.mss6)} {
				if !strings.Contains(nft, dir+" \""+tc.dev+"\" meta nfproto "+m) {
					t.Errorf("no %s %s rule %q in\n%s", dir, tc.dev, m, nft)
				}
			}
		}
		if strings.Contains(nft, "flush ruleset") || strings.Count(nft, "table inet ") != 3 {
			t.Errorf("touches more than its own table:\n%s", nft)
		}
	}
	if _, err := MSSClampRules(Tunnel{Name: "x"}); err == nil {
		t.Error("an invalid tunnel rendered")
	}
}

func TestOffloadReport(t *testing.T) {
	out := "vpclink[a-b]: tunnel vpn1194 up (10.254.0.1 <-> 10.254.0.2), remote 203.0.113.7:1194, tls mode, OpenVPN 2.6.14, ip_forward=1\n" +
		"vpclink[a-b]: data channel offload: no (" + DCOKernelMissing26 + ")\n" +
		"vpclink[a-b]: TCP MSS clamp: nft table inet vpclink_a_b, MSS 1360 into and out of vpn1194\n"
	if got := OffloadReport(out); got != "no ("+DCOKernelMissing26+")" {
		t.Errorf("got %q", got)
	}
	if got := OffloadReport("vpclink[a-b]: tunnel vpn1194 up\n"); got != "" {
		t.Errorf("an older setup's output: %q", got)
	}
}
