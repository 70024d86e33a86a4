package openvpn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testFingerprint is a well-formed SHA-256 fingerprint (bytes 0x00..0x1f).
func testFingerprint() string {
	var parts []string
	for i := 0; i < 32; i++ {
		parts = append(parts, fmt.Sprintf("%02X", i*7+3))
	}
	return strings.Join(parts, ":")
}

func tlsTunnel() Tunnel {
	t := baseTunnel()
	t.Mode = ""
	t.TLSServer = true
	t.PeerFingerprint = testFingerprint()
	return t
}

// directives parses a configuration into its directives: the first word of
// each line (comments and blank lines skipped) and its arguments.
func directives(t *testing.T, conf string) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, l := range strings.Split(conf, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		f := strings.Fields(l)
		out[f[0]] = append(out[f[0]], f[1:])
	}
	return out
}

// one returns the arguments of a directive that must appear exactly once.
func one(t *testing.T, d map[string][][]string, name string) string {
	t.Helper()
	if len(d[name]) != 1 {
		t.Errorf("directive %s appears %d times, want once", name, len(d[name]))
		return ""
	}
	return strings.Join(d[name][0], " ")
}

// TestStaticConfigUnchanged: static mode renders, byte for byte, what the
// configuration was before TLS mode existed (captured from that version).
func TestStaticConfigUnchanged(t *testing.T) {
	for _, tc := range []struct {
		tunnel Tunnel
		want   string
	}{
		{baseTunnel(), "# Managed by vpclink (Pulumi). Link \"a-b\"; changes here are overwritten.\nignore-unknown-option allow-deprecated-insecure-static-crypto\nallow-deprecated-insecure-static-crypto\ndev vpn1194\ndev-type tun\nproto udp\nport 1194\nremote 203.0.113.7 1194\nifconfig 10.254.0.1 10.254.0.2\nroute 10.1.0.0 255.255.0.0\nsecret /etc/openvpn/vpclink/a-b.key 0\ncipher AES-256-CBC\nauth SHA256\nkeepalive 10 60\npersist-tun\npersist-key\ntun-mtu 1400\nmssfix 1400\nuser openvpn\ngroup openvpn\nverb 3\nmute 20\n"},
		{Tunnel{Name: "east-central", Port: 1196, RemoteAddress: "198.51.100.20", LocalTunnelIP: "10.254.0.2", RemoteTunnelIP: "10.254.0.1",
			RemoteNetworks: []string{"10.0.16.0/20", "192.168.5.0/24"}, KeyDirection: 1, MTU: 1280, Mode: ModeStatic,
			// TLS fields are ignored in static mode.
			TLSServer: true, PeerFingerprint: "garbage", RenegSeconds: 5},
			"# Managed by vpclink (Pulumi). Link \"east-central\"; changes here are overwritten.\nignore-unknown-option allow-deprecated-insecure-static-crypto\nallow-deprecated-insecure-static-crypto\ndev vpn1196\ndev-type tun\nproto udp\nport 1196\nremote 198.51.100.20 1196\nifconfig 10.254.0.2 10.254.0.1\nroute 10.0.16.0 255.255.240.0\nroute 192.168.5.0 255.255.255.0\nsecret /etc/openvpn/vpclink/east-central.key 1\ncipher AES-256-CBC\nauth SHA256\nkeepalive 10 60\npersist-tun\npersist-key\ntun-mtu 1280\nmssfix 1280\nuser openvpn\ngroup openvpn\nverb 3\nmute 20\n"},
	} {
		got, err := RenderConfig(tc.tunnel)
		if err != nil {
			t.Fatalf("%s: %v", tc.tunnel.Name, err)
		}
		if got != tc.want {
			t.Errorf("%s: static config changed:\n%s\nwant:\n%s", tc.tunnel.Name, got, tc.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeTLS, "tls": ModeTLS, "static": ModeStatic} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"TLS", "psk", " tls", "static-key"} {
		if _, err := ParseMode(bad); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("ParseMode(%q): error %v, want one naming the value", bad, err)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	fp := testFingerprint()
	for in, want := range map[string]string{
		fp:                         fp,
		strings.ToLower(fp):        fp,
		"  " + fp + "\n":           fp,
		"sha256 Fingerprint=" + fp: fp,
		"SHA256 Fingerprint=" + strings.ToLower(fp): fp,
	} {
		if got, err := ParseFingerprint(in); err != nil || got != want {
			t.Errorf("ParseFingerprint(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{
		"", fp[:len(fp)-3], fp + ":00", strings.ReplaceAll(fp, ":", ""), strings.ReplaceAll(fp, ":", "-"),
		"G0" + fp[2:], fp + "\n" + fp, "vpclink[a-b]: made a key\n" + fp, "sha1 Fingerprint=" + fp,
	} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "fingerprint") {
			t.Errorf("error %q does not say what failed", err)
		}
	}
}

func TestRenderTLSConfig(t *testing.T) {
	fp := testFingerprint()
	for _, tc := range []struct {
		name   string
		tunnel func(*Tunnel)
		want   map[string]string // directive -> arguments (once)
		absent []string
	}{
		{"server end (first site)", func(*Tunnel) {}, map[string]string{
			"tls-server": "", "dh": "none", "remote": "203.0.113.7 1194", "ifconfig": "10.254.0.1 10.254.0.2",
			"reneg-sec": "3600", "peer-fingerprint": fp,
		}, []string{"tls-client"}},
		{"client end (second site), lower-case fingerprint, short reneg", func(tu *Tunnel) {
			tu.TLSServer = false
			tu.KeyDirection = 1
			tu.RemoteAddress = "198.51.100.20"
			tu.LocalTunnelIP, tu.RemoteTunnelIP = "10.254.0.2", "10.254.0.1"
			tu.PeerFingerprint = strings.ToLower(fp)
			tu.RenegSeconds = 10
		}, map[string]string{
			"tls-client": "", "remote": "198.51.100.20 1194", "ifconfig": "10.254.0.2 10.254.0.1",
			"reneg-sec": "10", "peer-fingerprint": fp,
		}, []string{"tls-server", "dh"}},
		{"explicit tls mode, other port and mtu", func(tu *Tunnel) {
			tu.Mode = ModeTLS
			tu.Name = "east-central"
			tu.Port = 1196
			tu.MTU = 1280
		}, map[string]string{
			"dev": "vpn1196", "port": "1196", "remote": "203.0.113.7 1196", "tun-mtu": "1280",
			"cert": "/etc/openvpn/vpclink/east-central.tls.crt", "key": "/etc/openvpn/vpclink/east-central.tls.key",
			"tls-crypt": "/etc/openvpn/vpclink/east-central.key",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu := tlsTunnel()
			tc.tunnel(&tu)
			conf, err := RenderConfig(tu)
			if err != nil {
				t.Fatalf("RenderConfig: %v", err)
			}
			if !strings.HasSuffix(conf, "\n") || !strings.HasPrefix(conf, fmt.Sprintf("# Managed by vpclink (Pulumi). Link %q;", tu.Name)) {
				t.Error("config lacks the managed-by header or the final newline")
			}
			d := directives(t, conf)
			common := map[string]string{
				"dev": DeviceName(tu.Port), "dev-type": "tun", "proto": "udp", "port": fmt.Sprint(tu.Port),
				"cert": CertPath(tu.Name), "key": CertKeyPath(tu.Name), "tls-crypt": KeyPath(tu.Name),
				"tls-version-min": "1.3", "data-ciphers": "AES-256-GCM:CHACHA20-POLY1305",
				"keepalive": "10 60", "persist-tun": "", "persist-key": "",
				"tun-mtu": fmt.Sprint(tu.MTU), "mssfix": "0", // the nft clamp does it (MSSClampRules)
				"user": ServiceUser, "group": ServiceUser, "verb": "3",
			}
			for k, v := range tc.want {
				common[k] = v
			}
			for k, v := range common {
				if got := one(t, d, k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			if len(d["route"]) != len(tu.RemoteNetworks) {
				t.Errorf("%d routes for %d networks", len(d["route"]), len(tu.RemoteNetworks))
			}
			// Static-mode and CA-mode directives, and anything that would
			// weaken the pinning or the ciphers, are absent.
			for _, k := range append([]string{
				"secret", "cipher", "auth", "allow-deprecated-insecure-static-crypto", "ignore-unknown-option",
				"ca", "capath", "topology", "remote-cert-tls", "float", "tls-auth", "key-direction", "tls-version-max",
				"ncp-disable", "data-ciphers-fallback", "comp-lzo", "compress", "verify-x509-name", "tls-verify", "pull", "client", "server",
			}, tc.absent...) {
				if len(d[k]) != 0 {
					t.Errorf("directive %s must not appear: %v", k, d[k])
				}
			}
			for _, c := range strings.Split(one(t, d, "data-ciphers"), ":") {
				if !strings.Contains(c, "GCM") && !strings.Contains(c, "POLY1305") {
					t.Errorf("non-AEAD data cipher %q", c)
				}
			}
			// Nothing in it keeps OpenVPN 2.6/2.7 from offloading the data channel.
			if b := DCOBlockers(conf); len(b) != 0 {
				t.Errorf("TLS config disables data channel offload with %q", b)
			}
			// Both ends of a link name the same tls-crypt file (no direction).
			if args := d["tls-crypt"]; len(args) == 1 && len(args[0]) != 1 {
				t.Errorf("tls-crypt with a direction: %v", args[0])
			}
		})
	}
}

func TestRenderTLSConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tunnel func(*Tunnel)
		want   string
	}{
		{"no fingerprint", func(tu *Tunnel) { tu.PeerFingerprint = "" }, "fingerprint"},
		{"short fingerprint", func(tu *Tunnel) { tu.PeerFingerprint = testFingerprint()[3:] }, "fingerprint"},
		{"fingerprint injection", func(tu *Tunnel) { tu.PeerFingerprint = testFingerprint() + "\nscript-security 2" }, "fingerprint"},
		{"reneg 5", func(tu *Tunnel) { tu.RenegSeconds = 5 }, "reneg-sec 5"},
		{"reneg negative", func(tu *Tunnel) { tu.RenegSeconds = -1 }, "reneg-sec -1"},
		{"unknown mode", func(tu *Tunnel) { tu.Mode = "psk" }, `mode "psk"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu := tlsTunnel()
			tc.tunnel(&tu)
			if conf, err := RenderConfig(tu); err == nil {
				t.Fatalf("accepted:\n%s", conf)
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if _, err := SetupScript(tu); err == nil {
				t.Error("SetupScript accepts what RenderConfig rejects")
			}
		})
	}
}

func TestTLSSetupAndTeardownScripts(t *testing.T) {
	tu := tlsTunnel()
	script, err := SetupScript(tu)
	if err != nil {
		t.Fatal(err)
	}
	bashSyntax(t, "TLS setup script", script)
	checkCommand(t, "setup", script)
	conf, _ := RenderConfig(tu)
	if !strings.Contains(script, "<<'VPCLINK_CONF'\n"+conf+"VPCLINK_CONF\n") {
		t.Error("TLS setup does not embed the rendered configuration")
	}
	for _, w := range []string{"if [ ! -s '" + CertPath(tu.Name) + "' ] || [ ! -s '" + CertKeyPath(tu.Name) + "' ]; then", `cat >"$keytmp"`, "flock -w 900 9"} {
		if !strings.Contains(script, w) {
			t.Errorf("TLS setup lacks %q", w)
		}
	}
	// Setup never writes or removes the identity: that is the identity step's.
	for _, l := range strings.Split(script, "\n") {
		if strings.Contains(l, ".tls.") && !strings.HasPrefix(strings.TrimSpace(l), "if [ ! -s") &&
			!strings.HasPrefix(strings.TrimSpace(l), "fail ") && !strings.HasPrefix(l, "cert ") && !strings.HasPrefix(l, "key ") {
			t.Errorf("setup touches the identity: %q", l)
		}
	}
	static := baseTunnel()
	staticScript, _ := SetupScript(static)
	if strings.Contains(staticScript, ".tls.") {
		t.Error("static setup mentions the TLS identity")
	}
	// One teardown for both modes; it restores forwarding and never
	// touches the identity.
	td, err := TeardownScript(tu)
	if err != nil {
		t.Fatal(err)
	}
	if tds, _ := TeardownScript(static); tds != td {
		t.Error("teardown differs between modes")
	}
	if strings.Contains(td, ".tls.") || strings.Contains(td, "rm -rf") {
		t.Error("teardown removes more than its own files")
	}
	for _, w := range []string{"'" + ForwardStatePath + "'", `sysctl -q -w net.ipv4.ip_forward="$before"`, "rmdir '" + ConfigDir + "'"} {
		if !strings.Contains(td, w) {
			t.Errorf("teardown lacks %q", w)
		}
	}
}

func TestIdentityScriptText(t *testing.T) {
	script, err := IdentityScript("a-b", "a-b-eu")
	if err != nil {
		t.Fatal(err)
	}
	bashSyntax(t, "identity script", script)
	checkCommand(t, "identity", script)
	for _, w := range []string{"CERT='" + CertPath("a-b") + "'", "CERTKEY='" + CertKeyPath("a-b") + "'", "ec_paramgen_curve:prime256v1", "-days 3650", "exec </dev/null"} {
		if !strings.Contains(script, w) {
			t.Errorf("identity script lacks %q", w)
		}
	}
	del, err := IdentityDeleteScript("a-b")
	if err != nil {
		t.Fatal(err)
	}
	bashSyntax(t, "identity delete script", del)
	checkCommand(t, "identity-delete", del)
	if !strings.Contains(del, "rm -f '"+CertPath("a-b")+"' '"+CertKeyPath("a-b")+"'") || !strings.Contains(del, "flock") {
		t.Error("identity delete does not remove the certificate and key under the lock")
	}
	for _, bad := range [][2]string{{"A", "x"}, {"a;b", "x"}, {"a-b", "CN=x,O=y"}, {"a-b", ""}, {"a-b", "x/../y"}} {
		if _, err := IdentityScript(bad[0], bad[1]); err == nil {
			t.Errorf("IdentityScript(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := IdentityDeleteScript("../x"); err == nil {
		t.Error("IdentityDeleteScript accepts a path")
	}
}

// runIdentity runs the identity script for dir with bash (no root needed).
func runIdentity(t *testing.T, dir string) (stdout, stderr string) {
	t.Helper()
	script, err := identityScript("a-b", "a-b-eu", dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bashPath(t), "-c", "set -euo pipefail\n"+script, "vpclink-identity")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("identity script: %v\nstdout: %s\nstderr: %s", err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// TestIdentityScriptRuns runs the identity script with the real openssl in
// a temporary directory.
func TestIdentityScriptRuns(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found: cannot run the identity script")
	}
	dir := filepath.Join(t.TempDir(), "vpclink")
	cert, key := filepath.Join(dir, "a-b.tls.crt"), filepath.Join(dir, "a-b.tls.key")

	out, stderr := runIdentity(t, dir)
	fp, err := ParseFingerprint(out)
	if err != nil {
		t.Fatalf("stdout is not a fingerprint: %v", err)
	}
	if out != fp+"\n" {
		t.Errorf("stdout %q holds more than the fingerprint line", out)
	}
	if !strings.Contains(stderr, "made a P-256 key") {
		t.Errorf("stderr %q does not report the new key", stderr)
	}
	// The fingerprint is openssl's for the certificate made.
	want, err := exec.Command(openssl, "x509", "-in", cert, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.TrimSpace(string(want)); w[strings.Index(w, "=")+1:] != fp {
		t.Errorf("printed %s, openssl says %s", fp, w)
	}
	// And Go's: SHA-256 of the DER certificate; P-256, CN, ~10 years.
	pemBytes, _ := os.ReadFile(cert)
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("certificate is not PEM")
	}
	sum := sha256.Sum256(block.Bytes)
	if hexColon(sum[:]) != fp {
		t.Error("fingerprint is not the SHA-256 of the certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "a-b-eu" || c.PublicKeyAlgorithm != x509.ECDSA || c.NotAfter.Sub(c.NotBefore) < 3649*24*time.Hour {
		t.Errorf("certificate: CN %q, key %v, valid %v", c.Subject.CommonName, c.PublicKeyAlgorithm, c.NotAfter.Sub(c.NotBefore))
	}
	if err := exec.Command(openssl, "pkey", "-in", key, "-noout").Run(); err != nil {
		t.Errorf("key file is not a private key: %v", err)
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	if m := mode(key); m != 0o600 {
		t.Errorf("key mode %o, want 600", m)
	}
	snapshot := func() string {
		var b strings.Builder
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			st, _ := os.Stat(filepath.Join(dir, e.Name()))
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			fmt.Fprintf(&b, "%s %o %d %x\n", e.Name(), st.Mode().Perm(), st.ModTime().UnixNano(), sha256.Sum256(data))
		}
		return b.String()
	}
	before := snapshot()

	// Idempotent: same fingerprint, nothing rewritten, nothing said.
	out2, stderr2 := runIdentity(t, dir)
	if out2 != out {
		t.Errorf("second run printed %q, first %q", out2, out)
	}
	if stderr2 != "" {
		t.Errorf("second run said %q", stderr2)
	}
	if after := snapshot(); after != before {
		t.Errorf("second run changed files:\n%s---\n%s", before, after)
	}
	// A loosened key mode is repaired without a new key.
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if out3, _ := runIdentity(t, dir); out3 != out || mode(key) != 0o600 {
		t.Errorf("after chmod 644: fingerprint %q (was %q), key mode %o", out3, out, mode(key))
	}
	// A key that does not match the certificate (an interrupted run) makes
	// a new identity.
	if err := exec.Command(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", key).Run(); err != nil {
		t.Fatal(err)
	}
	out4, stderr4 := runIdentity(t, dir)
	if _, err := ParseFingerprint(out4); err != nil || out4 == out || !strings.Contains(stderr4, "made a P-256 key") {
		t.Errorf("mismatched key: printed %q (old %q), said %q", out4, out, stderr4)
	}
	// Missing certificate: a new one.
	os.Remove(cert)
	if out5, _ := runIdentity(t, dir); out5 == out4 {
		t.Error("a missing certificate did not make a new identity")
	}
	if m := mode(key); m != 0o600 {
		t.Errorf("key mode %o after regeneration", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the certificate and the key", len(entries))
	}
}

func hexColon(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}
