package openvpn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testKeyHex is 256 bytes of test key material: bytes 0..255.
func testKeyHex() string {
	var b strings.Builder
	for i := 0; i < StaticKeyBytes; i++ {
		b.WriteString(string("0123456789abcdef"[i>>4]) + string("0123456789abcdef"[i&15]))
	}
	return b.String()
}

func TestFormatStaticKey(t *testing.T) {
	h := testKeyHex()
	key, err := FormatStaticKey(h)
	if err != nil {
		t.Fatalf("FormatStaticKey: %v", err)
	}
	lines := strings.Split(key, "\n")
	// 18 lines and the final newline.
	if len(lines) != 19 || lines[18] != "" {
		t.Fatalf("got %d lines (want header, 16 key lines, footer and a final newline)", len(lines))
	}
	if lines[0] != "-----BEGIN OpenVPN Static key V1-----" {
		t.Errorf("header = %q", lines[0])
	}
	if lines[17] != "-----END OpenVPN Static key V1-----" {
		t.Errorf("footer = %q", lines[17])
	}
	hexLine := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for i, l := range lines[1:17] {
		if !hexLine.MatchString(l) {
			t.Errorf("key line %d is not 32 lowercase hex characters (len %d)", i+1, len(l))
		}
	}
	if strings.Join(lines[1:17], "") != h {
		t.Error("key lines do not hold the input bytes in order")
	}
	if !ValidStaticKey(key) {
		t.Error("ValidStaticKey rejects FormatStaticKey's output")
	}

	// Uppercase and surrounding white space are normalised.
	upper, err := FormatStaticKey("  " + strings.ToUpper(h) + "\n")
	if err != nil {
		t.Fatalf("uppercase input rejected: %v", err)
	}
	if upper != key {
		t.Error("uppercase input renders differently from lowercase")
	}
}

func TestFormatStaticKeyRejects(t *testing.T) {
	h := testKeyHex()
	cases := map[string]string{
		"empty":       "",
		"short":       h[:510],
		"long":        h + "00",
		"odd length":  h[:511],
		"not hex":     "zz" + h[2:],
		"inner space": h[:256] + " " + h[256:],
		"16 bytes":    h[:32],
		"already pem": "-----BEGIN OpenVPN Static key V1-----\n" + h + "\n-----END OpenVPN Static key V1-----\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := FormatStaticKey(in)
			if err == nil {
				t.Fatal("accepted")
			}
			if out != "" {
				t.Error("returned text alongside an error")
			}
			msg := err.Error()
			// Look for any 16-character window of the input: enough to
			// prove nothing of it leaks, without printing it.
			s := strings.TrimSpace(in)
			for i := 0; i+16 <= len(s); i++ {
				if strings.Contains(msg, s[i:i+16]) {
					t.Fatal("error repeats part of the input (not shown)")
				}
			}
			if !strings.HasPrefix(msg, "static key:") {
				t.Errorf("error %q does not say what failed", msg)
			}
		})
	}
}

func TestValidStaticKey(t *testing.T) {
	good, err := FormatStaticKey(testKeyHex())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	join := func(ls []string) string { return strings.Join(ls, "\n") + "\n" }
	with := func(i int, s string) string {
		ls := append([]string(nil), lines...)
		ls[i] = s
		return join(ls)
	}
	cases := []struct {
		name string
		key  string
		ok   bool
	}{
		{"formatted", good, true},
		{"no final newline", strings.TrimSuffix(good, "\n"), true},
		{"15 key lines", join(append(append([]string{}, lines[:16]...), lines[17])), false},
		{"17 key lines", join(append(append(append([]string{}, lines[:17]...), lines[1]), lines[17])), false},
		{"uppercase line", with(3, strings.ToUpper(lines[3])), false},
		{"missing footer", join(lines[:17]), false},
		{"missing header", join(lines[1:]), false},
		{"wrong header", with(0, "-----BEGIN OpenVPN Static key V2-----"), false},
		{"short line", with(5, lines[5][:31]), false},
		{"long line", with(5, lines[5]+"0"), false},
		{"non-hex line", with(7, "g"+lines[7][1:]), false},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		if got := ValidStaticKey(tc.key); got != tc.ok {
			t.Errorf("%s: ValidStaticKey = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func baseTunnel() Tunnel {
	return Tunnel{
		Name:           "a-b",
		Port:           1194,
		RemoteAddress:  "203.0.113.7",
		LocalTunnelIP:  "10.254.0.1",
		RemoteTunnelIP: "10.254.0.2",
		RemoteNetworks: []string{"10.1.0.0/16"},
		KeyDirection:   0,
		MTU:            1400,
		Mode:           ModeStatic,
	}
}

func lineIndex(lines []string, want string) int {
	for i, l := range lines {
		if l == want {
			return i
		}
	}
	return -1
}

func TestRenderConfig(t *testing.T) {
	cases := []struct {
		name   string
		tunnel func(*Tunnel)
		want   []string
	}{
		{"site a, /16", func(*Tunnel) {}, []string{
			"dev vpn1194", "dev-type tun",
			"port 1194", "remote 203.0.113.7 1194",
			"ifconfig 10.254.0.1 10.254.0.2",
			"route 10.1.0.0 255.255.0.0",
			"secret /etc/openvpn/vpclink/a-b.key 0",
			"tun-mtu 1400", "mssfix 1400",
		}},
		{"site b mirror, /20 and /24", func(tu *Tunnel) {
			tu.RemoteAddress = "198.51.100.20"
			tu.LocalTunnelIP, tu.RemoteTunnelIP = "10.254.0.2", "10.254.0.1"
			tu.RemoteNetworks = []string{"10.0.16.0/20", "192.168.5.0/24"}
			tu.KeyDirection = 1
		}, []string{
			"remote 198.51.100.20 1194",
			"ifconfig 10.254.0.2 10.254.0.1",
			"route 10.0.16.0 255.255.240.0",
			"route 192.168.5.0 255.255.255.0",
			"secret /etc/openvpn/vpclink/a-b.key 1",
		}},
		{"other port, /28 and mtu", func(tu *Tunnel) {
			tu.Name = "east-central"
			tu.Port = 1196
			tu.MTU = 1280
			tu.RemoteNetworks = []string{"172.16.0.16/28"}
		}, []string{
			"dev vpn1196", "port 1196", "remote 203.0.113.7 1196",
			"route 172.16.0.16 255.255.255.240",
			"secret /etc/openvpn/vpclink/east-central.key 0",
			"tun-mtu 1280", "mssfix 1280",
		}},
		{"no routes", func(tu *Tunnel) { tu.RemoteNetworks = nil }, []string{"port 1194"}},
	}
	common := []string{
		"cipher AES-256-CBC",
		"auth SHA256",
		"ignore-unknown-option allow-deprecated-insecure-static-crypto",
		"allow-deprecated-insecure-static-crypto",
		"proto udp",
		"keepalive 10 60",
		"persist-tun",
		"persist-key",
		"user openvpn",
		"group openvpn",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tu := baseTunnel()
			tc.tunnel(&tu)
			conf, err := RenderConfig(tu)
			if err != nil {
				t.Fatalf("RenderConfig: %v", err)
			}
			if !strings.HasSuffix(conf, "\n") {
				t.Error("config does not end with a newline (the setup heredoc needs one)")
			}
			lines := strings.Split(strings.TrimSuffix(conf, "\n"), "\n")
			for _, w := range append(append([]string{}, common...), tc.want...) {
				if lineIndex(lines, w) < 0 {
					t.Errorf("missing line %q in\n%s", w, conf)
				}
			}
			ignore := lineIndex(lines, "ignore-unknown-option allow-deprecated-insecure-static-crypto")
			allow := lineIndex(lines, "allow-deprecated-insecure-static-crypto")
			if ignore < 0 || allow < 0 || ignore > allow {
				t.Errorf("ignore-unknown-option (line %d) must come before allow-deprecated-insecure-static-crypto (line %d)", ignore, allow)
			}
			routes := 0
			for _, l := range lines {
				fields := strings.Fields(l)
				if len(fields) == 0 {
					t.Error("empty line in config")
					continue
				}
				switch {
				case l == "cipher BF-CBC" || strings.HasPrefix(l, "cipher ") && l != "cipher AES-256-CBC":
					t.Errorf("forbidden cipher line %q", l)
				case fields[0] == "comp-lzo" || fields[0] == "compress":
					t.Errorf("compression line %q", l)
				case fields[0] == "proto" && l != "proto udp":
					t.Errorf("proto line %q", l)
				case fields[0] == "route":
					routes++
				case fields[0] == "secret" && strings.Contains(l, "BEGIN"):
					t.Error("key material inline in the config")
				}
			}
			if routes != len(tu.RemoteNetworks) {
				t.Errorf("%d route lines for %d networks", routes, len(tu.RemoteNetworks))
			}
		})
	}
}

func TestRenderConfigRejects(t *testing.T) {
	cases := []struct {
		name   string
		tunnel func(*Tunnel)
		want   string
	}{
		{"bad name uppercase", func(tu *Tunnel) { tu.Name = "A-B" }, `"A-B"`},
		{"bad name path", func(tu *Tunnel) { tu.Name = "../etc/passwd" }, "tunnel name"},
		{"bad name space", func(tu *Tunnel) { tu.Name = "a b" }, "tunnel name"},
		{"empty name", func(tu *Tunnel) { tu.Name = "" }, "tunnel name"},
		{"port 0", func(tu *Tunnel) { tu.Port = 0 }, "port 0"},
		{"port 65536", func(tu *Tunnel) { tu.Port = 65536 }, "port 65536"},
		{"remote ipv6", func(tu *Tunnel) { tu.RemoteAddress = "2001:db8::1" }, `"2001:db8::1"`},
		{"remote hostname", func(tu *Tunnel) { tu.RemoteAddress = "vpn.example.com" }, `"vpn.example.com"`},
		{"remote empty", func(tu *Tunnel) { tu.RemoteAddress = "" }, "IPv4"},
		{"local tunnel ip", func(tu *Tunnel) { tu.LocalTunnelIP = "10.254.0.256" }, `"10.254.0.256"`},
		{"remote tunnel ip", func(tu *Tunnel) { tu.RemoteTunnelIP = "::ffff:10.254.0.2" }, "IPv4"},
		{"direction 2", func(tu *Tunnel) { tu.KeyDirection = 2 }, "key direction 2"},
		{"direction -1", func(tu *Tunnel) { tu.KeyDirection = -1 }, "key direction -1"},
		{"mtu 100", func(tu *Tunnel) { tu.MTU = 100 }, "MTU 100"},
		{"mtu 9001", func(tu *Tunnel) { tu.MTU = 9001 }, "MTU 9001"},
		{"network host bits", func(tu *Tunnel) { tu.RemoteNetworks = []string{"10.1.0.1/16"} }, `"10.1.0.1/16"`},
		{"network garbage", func(tu *Tunnel) { tu.RemoteNetworks = []string{"10.1.0.0/16", "banana"} }, `"banana"`},
		{"network ipv6", func(tu *Tunnel) { tu.RemoteNetworks = []string{"fd00::/8"} }, `"fd00::/8"`},
		{"network bare address", func(tu *Tunnel) { tu.RemoteNetworks = []string{"10.1.0.0"} }, `"10.1.0.0"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tu := baseTunnel()
			tc.tunnel(&tu)
			conf, err := RenderConfig(tu)
			if err == nil {
				t.Fatalf("accepted:\n%s", conf)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if _, err := SetupScript(tu); err == nil {
				t.Error("SetupScript accepts what RenderConfig rejects")
			}
		})
	}
}

func TestNames(t *testing.T) {
	if got := ConfigPath("a-b"); got != "/etc/openvpn/vpclink/a-b.conf" {
		t.Errorf("ConfigPath = %q", got)
	}
	if got := KeyPath("a-b"); got != "/etc/openvpn/vpclink/a-b.key" {
		t.Errorf("KeyPath = %q", got)
	}
	if got := ServiceName("a-b"); got != "vpclink-a-b.service" {
		t.Errorf("ServiceName = %q", got)
	}
	if got := DeviceName(1194); got != "vpn1194" {
		t.Errorf("DeviceName = %q", got)
	}
	// Linux interface names hold at most 15 characters.
	if got := DeviceName(65535); len(got) > 15 {
		t.Errorf("DeviceName(65535) = %q is too long for an interface name", got)
	}
	for bits, want := range map[int]string{0: "0.0.0.0", 8: "255.0.0.0", 16: "255.255.0.0", 20: "255.255.240.0", 24: "255.255.255.0", 28: "255.255.255.240", 32: "255.255.255.255"} {
		if got := netmask(bits); got != want {
			t.Errorf("netmask(%d) = %q, want %q", bits, got, want)
		}
	}
}

// bashPath finds bash; the tests need it to check the scripts' syntax.
func bashPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found: cannot check script syntax")
	}
	return p
}

// bashSyntax runs `bash -n` on script (given on standard input).
func bashSyntax(t *testing.T, what, script string) {
	t.Helper()
	cmd := exec.Command(bashPath(t), "-n")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: bash -n: %v\n%s", what, err, stderr.String())
	}
}

// innerScript lets bash parse a Command line the way the SSH server's shell
// would, and returns its words.
func commandWords(t *testing.T, line string) []string {
	t.Helper()
	cmd := exec.Command(bashPath(t), "-c", `eval "set -- $VPCLINK_LINE"; printf '%s\0' "$@"`)
	cmd.Env = append(os.Environ(), "VPCLINK_LINE="+line)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash cannot parse the command line: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// checkCommand checks that Command(purpose, script) is `bash -c SCRIPT
// vpclink-PURPOSE` once parsed, that the script is the prelude plus the
// given script, and that both parse.
func checkCommand(t *testing.T, purpose, script string) {
	t.Helper()
	line := Command(purpose, script)
	bashSyntax(t, "command line", line)
	words := commandWords(t, line)
	if len(words) != 4 || words[0] != "bash" || words[1] != "-c" || words[3] != "vpclink-"+purpose {
		t.Fatalf("command line parses into %d words; want bash -c SCRIPT vpclink-%s", len(words), purpose)
	}
	inner := words[2]
	if !strings.HasPrefix(inner, "set -euo pipefail\n") {
		t.Error("inner script does not start with set -euo pipefail")
	}
	if !strings.HasSuffix(inner, "\n"+script) {
		t.Error("inner script does not end with the given script, byte for byte")
	}
	bashSyntax(t, "inner script of Command("+purpose+")", inner)
}

func TestSetupScript(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tunnel func(*Tunnel)
	}{
		{"site a", func(*Tunnel) {}},
		{"site b", func(tu *Tunnel) {
			tu.KeyDirection = 1
			tu.LocalTunnelIP, tu.RemoteTunnelIP = tu.RemoteTunnelIP, tu.LocalTunnelIP
			tu.RemoteNetworks = []string{"10.0.0.0/16", "10.9.16.0/20"}
		}},
		{"second link", func(tu *Tunnel) { tu.Name = "b-c"; tu.Port = 1195 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu := baseTunnel()
			tc.tunnel(&tu)
			script, err := SetupScript(tu)
			if err != nil {
				t.Fatalf("SetupScript: %v", err)
			}
			bashSyntax(t, "setup script", script)
			checkCommand(t, "setup", script)

			if regexp.MustCompile(`(?m)^\s*set\s+(-[a-wyz]*x|-o\s+xtrace)`).MatchString(script) || strings.Contains(script, "set -x") {
				t.Error("setup script turns on tracing, which would print the key")
			}
			if !strings.Contains(script, `cat >"$keytmp"`) {
				t.Error(`setup script does not read the key from standard input with cat >"$keytmp"`)
			}
			// Every use of the key's temporary file: it is written, checked
			// (line counts and header/footer only), installed and removed;
			// never printed.
			allowed := []string{
				`keytmp=$(mktemp '/etc/openvpn/vpclink'/.key.XXXXXX)`,
				`trap 'rm -f "$keytmp"' EXIT`,
				`cat >"$keytmp"`,
				`if [ "$(wc -l <"$keytmp")" -ne 18 ] ||`,
				`[ "$(sed -n 1p "$keytmp")" != '-----BEGIN OpenVPN Static key V1-----' ] ||`,
				`[ "$(sed -n 18p "$keytmp")" != '-----END OpenVPN Static key V1-----' ] ||`,
				`[ "$(sed -n 2,17p "$keytmp" | grep -cE '^[0-9a-f]{32}$')" -ne 16 ]; then`,
				`fail "standard input is not an OpenVPN Static key V1 ($(wc -l <"$keytmp") lines); nothing written"`,
				`install_file 600 "$KEY" <"$keytmp"`,
			}
			uses := 0
			for _, l := range strings.Split(script, "\n") {
				l = strings.TrimSpace(l)
				if !strings.Contains(l, "keytmp") && !strings.Contains(l, "$KEY") {
					continue
				}
				uses++
				ok := false
				for _, a := range allowed {
					ok = ok || l == a
				}
				if !ok && !strings.HasPrefix(l, "KEY=") {
					t.Errorf("unexpected use of the key file: %q", l)
				}
			}
			if uses < len(allowed) {
				t.Errorf("only %d lines use the key file; the checks above did not run", uses)
			}
			// Standard input is read by nothing but the key capture: no
			// "read", no other bare "cat".
			if regexp.MustCompile(`(?m)^\s*(read\b|cat\s*$|cat\s*>\s*[^"]|cat\s+-)`).MatchString(script) {
				t.Error("setup script reads standard input somewhere else")
			}
			// The configuration is embedded verbatim in a quoted heredoc.
			conf, err := RenderConfig(tu)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(script, "<<'VPCLINK_CONF'\n"+conf+"VPCLINK_CONF\n") {
				t.Error("setup script does not embed the rendered configuration in a quoted heredoc")
			}
			for _, w := range []string{
				"NAME='" + tu.Name + "'",
				"CONF='" + ConfigPath(tu.Name) + "'",
				"KEY='" + KeyPath(tu.Name) + "'",
				"UNIT='" + ServiceName(tu.Name) + "'",
				"DEV='" + DeviceName(tu.Port) + "'",
				"LOCAL_IP='" + tu.LocalTunnelIP + "'",
				"net.ipv4.ip_forward = 1",
				"sysctl -q -w net.ipv4.ip_forward=1",
				"Restart=always",
				"WantedBy=multi-user.target",
				`systemctl enable -q "$UNIT"`,
			} {
				if !strings.Contains(script, w) {
					t.Errorf("setup script lacks %q", w)
				}
			}
		})
	}
}

// The setup's log tail goes through its redact function: run that function
// as the script defines it on a log holding key material.
func TestSetupRedactsKeyMaterial(t *testing.T) {
	script, err := SetupScript(baseTunnel())
	if err != nil {
		t.Fatal(err)
	}
	var def string
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(line, "redact()") {
			def = line
		}
	}
	if def == "" {
		t.Fatal("the setup script defines no redact function")
	}
	key := testKeyHex()
	log := fmt.Sprintf("openvpn: static key line %s\nOpenVPN 2.6.14 x86_64\nhex %s end\n", key[:32], strings.ToUpper(key[32:96]))
	cmd := exec.Command(bashPath(t), "-c", def+"\nredact")
	cmd.Stdin = strings.NewReader(log)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redact: %v %s", err, got)
	}
	for _, secret := range []string{key[:32], strings.ToUpper(key[32:96])} {
		if strings.Contains(string(got), secret) {
			t.Errorf("redact let key material through:\n%s", got)
		}
	}
	if !strings.Contains(string(got), "OpenVPN 2.6.14 x86_64") {
		t.Errorf("redact removed ordinary log text:\n%s", got)
	}
}

func TestTeardownScript(t *testing.T) {
	tu := baseTunnel()
	script, err := TeardownScript(tu)
	if err != nil {
		t.Fatalf("TeardownScript: %v", err)
	}
	bashSyntax(t, "teardown script", script)
	checkCommand(t, "teardown", script)
	for _, w := range []string{
		`systemctl disable --now "$UNIT"`,
		"rm -f '" + ConfigPath(tu.Name) + "' '" + KeyPath(tu.Name) + "'",
		"exit 0",
	} {
		if !strings.Contains(script, w) {
			t.Errorf("teardown script lacks %q", w)
		}
	}
	if strings.Contains(script, "set -x") {
		t.Error("teardown script turns on tracing")
	}
	// Teardown only needs a valid name: it must work for any tunnel.
	tu.RemoteAddress = "not-an-ip"
	if _, err := TeardownScript(tu); err != nil {
		t.Errorf("teardown depends on more than the name: %v", err)
	}
	for _, bad := range []string{"", "A", "a b", "a;rm -rf /", "../x"} {
		if _, err := TeardownScript(Tunnel{Name: bad}); err == nil {
			t.Errorf("TeardownScript accepts name %q", bad)
		}
	}
}

func TestPingScript(t *testing.T) {
	script, err := PingScript("10.0.1.30", "10.1.1.40")
	if err != nil {
		t.Fatalf("PingScript: %v", err)
	}
	bashSyntax(t, "ping script", script)
	checkCommand(t, "check", script)
	if !strings.Contains(script, "ping -n -c 3 -W 2 -I 10.0.1.30 10.1.1.40") {
		t.Error("ping script does not ping the destination from the source address")
	}
	for _, bad := range [][2]string{
		{"10.0.1.30", "10.1.1.400"},
		{"10.0.1.30; reboot", "10.1.1.40"},
		{"10.0.1.30", "::1"},
		{"", "10.1.1.40"},
	} {
		if _, err := PingScript(bad[0], bad[1]); err == nil {
			t.Errorf("PingScript(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// TestPingScriptRuns runs the check with a fake ping and sleep on PATH: no
// root and no network needed.
func TestPingScriptRuns(t *testing.T) {
	bash := bashPath(t)
	script, err := PingScript("10.0.1.30", "10.1.1.40")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// ping is the body of the fake ping; it sees the warm-up attempt
		// number as $n and its packet count (1: warm-up, 3: measure) as
		// $count.
		ping     string
		ok       bool
		stdout   string
		stderr   string
		attempts int
	}{
		{
			name: "answers at once",
			ping: `[ "$count" = 1 ] && exit 0
echo "3 packets transmitted, 3 received, 0% packet loss, time 2003ms"
echo "rtt min/avg/max/mdev = 223.1/223.5/224.0/0.4 ms"`,
			ok:       true,
			stdout:   "10.0.1.30 -> 10.1.1.40: 3 packets transmitted, 3 received, 0% packet loss, time 2003ms; rtt min/avg/max/mdev = 223.1/223.5/224.0/0.4 ms (first reply at attempt 1, then measured)\n",
			attempts: 1,
		},
		{
			// The first packets are lost while the tunnel comes up: the
			// warm-up absorbs them and the measurement shows no loss.
			name: "first reply at the third attempt",
			ping: `if [ "$count" = 1 ]; then [ "$n" -ge 3 ] || { echo "1 packets transmitted, 0 received, 100% packet loss"; exit 1; }; exit 0; fi
echo "3 packets transmitted, 3 received, 0% packet loss"
echo "rtt min/avg/max/mdev = 1/2/3/0.5 ms"`,
			ok:       true,
			stdout:   "10.0.1.30 -> 10.1.1.40: 3 packets transmitted, 3 received, 0% packet loss; rtt min/avg/max/mdev = 1/2/3/0.5 ms (first reply at attempt 3, then measured)\n",
			attempts: 3,
		},
		{
			name:     "never answers",
			ping:     `echo "1 packets transmitted, 0 received, 100% packet loss, time 0ms"; exit 1`,
			ok:       false,
			stderr:   "10.0.1.30 -> 10.1.1.40: no reply after 12 attempts\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n",
			attempts: PingAttempts,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "attempts")
			write := func(name, body string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// $STATE counts the warm-up pings (-c 1); $count is this
			// call's packet count.
			write("ping", `case "$*" in
"-n -c 1 -W 2 -I 10.0.1.30 10.1.1.40") count=1; n=$(( $(cat "$STATE" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$STATE";;
"-n -c 3 -W 2 -I 10.0.1.30 10.1.1.40") count=3;;
*) echo "bad arguments: $*"; exit 2;;
esac
`+tc.ping)
			write("sleep", "exit 0")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The same strict mode the Command prelude sets.
			cmd := exec.CommandContext(ctx, bash, "-c", "set -euo pipefail\n"+script, "vpclink-check")
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "STATE="+state)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if (err == nil) != tc.ok {
				t.Fatalf("exit error %v, want success %v\nstdout: %s\nstderr: %s", err, tc.ok, stdout.String(), stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.stdout)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.stderr)
			}
			n, _ := os.ReadFile(state)
			if got := strings.TrimSpace(string(n)); got != strconv.Itoa(tc.attempts) {
				t.Errorf("the warm-up ping ran %s times, want %d", got, tc.attempts)
			}
		})
	}
}

// TestCommandQuoting checks that odd scripts survive Command's quoting.
func TestCommandQuoting(t *testing.T) {
	for _, script := range []string{
		`printf '%s' "it's"`,
		`echo "$0:$(id -u)"`,
		"a='x'\\''y'; echo \"$a\" `true` $((1+1)) \\\\ !x ~ * ; # trailing",
		"cat <<'EOF'\n'quoted' \"double\" $not_expanded\nEOF\n",
		"",
	} {
		checkCommand(t, "q", script)
	}
}

// TestCommandExecutes runs Command lines with bash. A non-root run would
// re-execute the script under sudo, so the execution needs root.
func TestCommandExecutes(t *testing.T) {
	bash := bashPath(t)
	if os.Geteuid() != 0 {
		t.Skip("not root: Command re-executes non-root logins with sudo -n, which this test must not do")
	}
	run := func(t *testing.T, line, stdin string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, "-c", line)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v\nstderr: %s", err, stderr.String())
		}
		return string(out)
	}
	t.Run("probe", func(t *testing.T) {
		out := run(t, Command("probe", `echo "$0:$(id -u)"`), "")
		if !strings.HasPrefix(out, "vpclink-probe:") {
			t.Errorf("output %q does not start with vpclink-probe:", out)
		}
		if out != "vpclink-probe:0\n" {
			t.Errorf("output %q, want vpclink-probe:0", out)
		}
	})
	t.Run("single quotes", func(t *testing.T) {
		if out := run(t, Command("q", `printf '%s' "it's"`), ""); out != "it's" {
			t.Errorf("output %q, want %q", out, "it's")
		}
	})
	t.Run("stdin reaches the script", func(t *testing.T) {
		if out := run(t, Command("stdin", `cat`), "line one\nline two\n"); out != "line one\nline two\n" {
			t.Errorf("output %q", out)
		}
	})
	t.Run("strict mode", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bash, "-c", Command("strict", "false\necho reached")).Output()
		if err == nil || strings.Contains(string(out), "reached") {
			t.Errorf("a failing command does not stop the script (err %v, output %q)", err, out)
		}
		out, err = exec.CommandContext(ctx, bash, "-c", Command("strict", `echo "$undefined_variable"`)).Output()
		if err == nil {
			t.Errorf("an unset variable does not stop the script (output %q)", out)
		}
	})
	t.Run("path", func(t *testing.T) {
		out := run(t, Command("path", `echo "$PATH"`), "")
		if out != "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
			t.Errorf("PATH = %q", out)
		}
	})
}

// Networks the peer forwards to (a hub's other spokes) are routed with
// TransitMetric, the peer's own with OpenVPN's default: while a
// destination moves between a direct link and the hub, both routes can
// exist on the host (Linux refuses a second one with the same metric).
func TestTransitNetworksHaveTheirOwnMetric(t *testing.T) {
	tu := baseTunnel()
	tu.TransitNetworks = []string{"10.2.0.0/16", "172.16.0.0/12"}
	conf, err := RenderConfig(tu)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, l := range strings.Split(conf, "\n") {
		if strings.HasPrefix(l, "route ") {
			routes = append(routes, l)
		}
	}
	want := []string{"route 10.1.0.0 255.255.0.0", "route 10.2.0.0 255.255.0.0 vpn_gateway 100", "route 172.16.0.0 255.240.0.0 vpn_gateway 100"}
	if strings.Join(routes, "\n") != strings.Join(want, "\n") {
		t.Errorf("routes %q, want %q", routes, want)
	}
	tu.TransitNetworks = []string{"10.2.0.1/16"}
	if _, err := RenderConfig(tu); err == nil || !strings.Contains(err.Error(), `"10.2.0.1/16" is not an IPv4 network`) {
		t.Errorf("a transit network with host bits: %v", err)
	}
}
