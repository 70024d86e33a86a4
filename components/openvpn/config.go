package openvpn

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// ConfigDir holds vpclink's configurations and keys. It is a subdirectory
// on purpose: Debian's and Ubuntu's openvpn package starts an openvpn@NAME
// instance for every /etc/openvpn/NAME.conf at boot, which would run each
// tunnel twice next to vpclink's own unit.
const ConfigDir = "/etc/openvpn/vpclink"

// ConfigPath is the configuration of tunnel name (the link name).
func ConfigPath(name string) string { return ConfigDir + "/" + name + ".conf" }

// KeyPath is where the static key of tunnel name is written (mode 0600).
func KeyPath(name string) string { return ConfigDir + "/" + name + ".key" }

// CertPath is the self-signed TLS certificate of this end of tunnel name,
// made on the host by the identity script (TLS mode).
func CertPath(name string) string { return ConfigDir + "/" + name + ".tls.crt" }

// CertKeyPath is the private key of CertPath (mode 0600). It is generated
// on the host and never leaves it.
func CertKeyPath(name string) string { return ConfigDir + "/" + name + ".tls.key" }

// ForwardStatePath records net.ipv4.ip_forward as it was before the first
// vpclink tunnel on the host turned it on; the last teardown restores it.
// It lives under /etc (not /var/lib) so that it persists across reboots and
// stays inside the per-instance /etc of the local lab.
const ForwardStatePath = ConfigDir + "/.ip_forward.before"

// ServiceName is the systemd unit that runs tunnel name.
func ServiceName(name string) string { return "vpclink-" + name + ".service" }

// DeviceName is the tun interface of a tunnel on port; unique per host
// because a host's links use distinct ports.
func DeviceName(port int) string { return fmt.Sprintf("vpn%d", port) }

// ServiceUser is the unprivileged account OpenVPN switches to after start.
const ServiceUser = "openvpn"

// Mode is how a tunnel authenticates and encrypts.
type Mode string

const (
	// ModeTLS (the default): TLS 1.3 between self-signed certificates
	// pinned with peer-fingerprint, AEAD data channel, forward secrecy;
	// the shared static key only wraps the control channel (tls-crypt).
	ModeTLS Mode = "tls"
	// ModeStatic: the pre-shared static key encrypts the data channel
	// (AES-256-CBC + HMAC-SHA256, no forward secrecy). Deprecated by
	// OpenVPN 2.6, off by default in 2.7, announced for removal in 2.8.
	ModeStatic Mode = "static"
)

// ParseMode accepts "", "tls" and "static" ("" is ModeTLS).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeTLS:
		return ModeTLS, nil
	case ModeStatic:
		return ModeStatic, nil
	}
	return "", fmt.Errorf("openvpn: tunnel mode %q: want %q or %q", s, ModeTLS, ModeStatic)
}

// Limits on the tunnel MTU, the one range every check uses (the program's
// configuration and each rendered tunnel): below 1280 IPv6 breaks inside the
// tunnel; above 1500 the encapsulated packets no longer fit an internet path.
const (
	MinMTU = 1280
	MaxMTU = 1500
)

// ValidMTU reports whether mtu is within MinMTU and MaxMTU.
func ValidMTU(mtu int) bool { return mtu >= MinMTU && mtu <= MaxMTU }

// DefaultRenegSeconds is how often TLS mode renegotiates the data channel
// keys (OpenVPN's own default).
const DefaultRenegSeconds = 3600

// Tunnel is one end of a point-to-point tunnel.
type Tunnel struct {
	// Name is the link name; it names files, the unit and log lines.
	Name string
	// Port is the UDP port on both ends.
	Port int
	// RemoteAddress is the peer's public (Elastic) IP.
	RemoteAddress string
	// LocalTunnelIP and RemoteTunnelIP are the point-to-point addresses.
	LocalTunnelIP, RemoteTunnelIP string
	// RemoteNetworks are routed into the tunnel (the peer VPC's CIDR).
	RemoteNetworks []string
	// TransitNetworks are routed into the tunnel too, with metric
	// TransitMetric: networks the peer forwards to (a hub's other spokes).
	TransitNetworks []string
	// KeyDirection is 0 on one end and 1 on the other.
	KeyDirection int
	// MTU of the tun interface.
	MTU int

	// Mode is ModeTLS when empty.
	Mode Mode
	// TLSServer makes this end the TLS server (TLS mode; the link's first
	// site). The other end is the TLS client.
	TLSServer bool
	// PeerFingerprint is the SHA-256 fingerprint of the peer's certificate,
	// as `openssl x509 -noout -fingerprint -sha256` prints it after "="
	// (TLS mode). Required in TLS mode.
	PeerFingerprint string
	// LocalFingerprint is this end's own certificate fingerprint (TLS mode,
	// optional). It is written into the configuration as a comment, so a
	// new certificate on the host is a new configuration: the setup then
	// restarts OpenVPN, which would otherwise go on presenting the old one.
	LocalFingerprint string
	// RenegSeconds is the TLS renegotiation interval; 0 means
	// DefaultRenegSeconds.
	RenegSeconds int
}

// mode returns the effective mode (ModeTLS when empty).
func (t Tunnel) mode() Mode {
	if t.Mode == "" {
		return ModeTLS
	}
	return t.Mode
}

var fingerprintPattern = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$`)

// ParseFingerprint checks a SHA-256 certificate fingerprint in OpenSSL's
// colon-separated form (32 bytes, e.g. "AB:01:...") and returns it in upper
// case. Surrounding white space and a leading "sha256 Fingerprint=" (the
// whole line openssl prints) are accepted.
func ParseFingerprint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "="); i >= 0 && strings.HasPrefix(strings.ToLower(s), "sha256 fingerprint=") {
		s = s[i+1:]
	}
	if !fingerprintPattern.MatchString(s) {
		shown := s
		if len(shown) > 120 {
			shown = shown[:120] + "..."
		}
		return "", fmt.Errorf("certificate fingerprint %q: want 32 colon-separated hex bytes (openssl x509 -noout -fingerprint -sha256)", shown)
	}
	return strings.ToUpper(s), nil
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,40}$`)

func (t Tunnel) validate() error {
	if !namePattern.MatchString(t.Name) {
		return fmt.Errorf("openvpn: tunnel name %q: want lowercase letters, digits and '-'", t.Name)
	}
	if t.Port < 1 || t.Port > 65535 {
		return fmt.Errorf("openvpn: tunnel %q: port %d out of range", t.Name, t.Port)
	}
	for _, a := range []string{t.RemoteAddress, t.LocalTunnelIP, t.RemoteTunnelIP} {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return fmt.Errorf("openvpn: tunnel %q: %q is not an IPv4 address", t.Name, a)
		}
	}
	if t.KeyDirection != 0 && t.KeyDirection != 1 {
		return fmt.Errorf("openvpn: tunnel %q: key direction %d, want 0 or 1", t.Name, t.KeyDirection)
	}
	if !ValidMTU(t.MTU) {
		return fmt.Errorf("openvpn: tunnel %q: MTU %d out of range (%d-%d)", t.Name, t.MTU, MinMTU, MaxMTU)
	}
	for _, n := range append(append([]string{}, t.RemoteNetworks...), t.TransitNetworks...) {
		if p, err := netip.ParsePrefix(n); err != nil || !p.Addr().Is4() || p.Masked() != p {
			return fmt.Errorf("openvpn: tunnel %q: %q is not an IPv4 network", t.Name, n)
		}
	}
	switch t.Mode {
	case "", ModeTLS:
		if _, err := ParseFingerprint(t.PeerFingerprint); err != nil {
			return fmt.Errorf("openvpn: tunnel %q: peer %w", t.Name, err)
		}
		if t.RenegSeconds < 0 || t.RenegSeconds > 7*24*3600 || t.RenegSeconds > 0 && t.RenegSeconds < 10 {
			return fmt.Errorf("openvpn: tunnel %q: reneg-sec %d out of range (10 s to 7 days, 0 for %d)", t.Name, t.RenegSeconds, DefaultRenegSeconds)
		}
	case ModeStatic:
	default:
		return fmt.Errorf("openvpn: tunnel %q: mode %q: want %q or %q", t.Name, t.Mode, ModeTLS, ModeStatic)
	}
	return nil
}

// netmask renders the dotted mask of an IPv4 prefix length.
func netmask(bits int) string {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// RenderConfig renders the OpenVPN configuration of one end. The two ends of
// a link are mirror images: remote, ifconfig, route and key direction swap.
//
// The text runs unchanged on OpenVPN 2.6 and 2.7 with OpenSSL 3:
//   - static-key mode only accepts CBC ciphers, and without a cipher line it
//     would pick BF-CBC, which OpenSSL 3 refuses; so cipher and auth are
//     explicit and equal on both ends;
//   - 2.7 refuses static keys without allow-deprecated-insecure-static-crypto,
//     which 2.6 does not know; ignore-unknown-option makes 2.6 skip it.
func RenderConfig(t Tunnel) (string, error) {
	if err := t.validate(); err != nil {
		return "", err
	}
	if t.mode() == ModeTLS {
		return renderTLS(t), nil
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Managed by vpclink (Pulumi). Link %q; changes here are overwritten.", t.Name)
	w("ignore-unknown-option allow-deprecated-insecure-static-crypto")
	w("allow-deprecated-insecure-static-crypto")
	writeEndpoint(w, t)
	w("secret %s %d", KeyPath(t.Name), t.KeyDirection)
	w("cipher AES-256-CBC")
	w("auth SHA256")
	// Static mode is never offloaded (OpenVPN: "--data-ciphers-fallback with
	// cipher 'AES-256-CBC' disables data channel offload"), so OpenVPN's
	// mssfix always applies; it stays, and with it the configuration
	// static tunnels already run (an unchanged file restarts nothing).
	writeTail(w, t, fmt.Sprintf("mssfix %d", t.MTU))
	return b.String(), nil
}

// renderTLS renders TLS mode (checked with OpenVPN 2.6.14 against 2.7):
//   - no CA: each end pins the other's self-signed certificate with
//     peer-fingerprint, so no ca, no remote-cert-tls, no topology
//     (a point-to-point ifconfig pair);
//   - tls-server (with dh none: ECDHE only) on the link's first site,
//     tls-client on the second;
//   - the link's static key wraps and authenticates every control channel
//     packet (tls-crypt, same file on both ends, no direction): datagrams
//     without it are dropped before any TLS processing;
//   - TLS 1.3 only, AEAD data channel ciphers only, keys renegotiated every
//     reneg-sec seconds;
//   - no float: datagrams from any address but the peer's are dropped.
//
// The certificate and its key are made on the host by IdentityScript; the
// key never leaves the host.
func renderTLS(t Tunnel) string {
	fp, _ := ParseFingerprint(t.PeerFingerprint) // validated
	reneg := t.RenegSeconds
	if reneg == 0 {
		reneg = DefaultRenegSeconds
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Managed by vpclink (Pulumi). Link %q; changes here are overwritten.", t.Name)
	if own, err := ParseFingerprint(t.LocalFingerprint); err == nil {
		w("# This end's certificate: %s", own)
	}
	writeEndpoint(w, t)
	if t.TLSServer {
		w("tls-server")
		w("dh none")
	} else {
		w("tls-client")
	}
	w("cert %s", CertPath(t.Name))
	w("key %s", CertKeyPath(t.Name))
	w("peer-fingerprint %s", fp)
	w("tls-crypt %s", KeyPath(t.Name))
	w("tls-version-min 1.3")
	w("data-ciphers AES-256-GCM:CHACHA20-POLY1305")
	w("reneg-sec %d", reneg)
	// Write to the tun device and the socket without polling first: the
	// fastest variant of `scripts/lab bench` (+13% one stream, +17% four,
	// no outer packet over 1500 bytes). 2.7 ignores it, saying so once.
	//
	// mssfix 0: offloaded (DCO), OpenVPN never sees the data packets and
	// its mssfix is not applied; the nft clamp works on both data paths.
	// Turning OpenVPN's own clamp off (its default is 1492 mtu) makes the
	// clamped MSS the same whether an end is offloaded or not.
	writeTail(w, t, "mssfix 0", "fast-io")
	return b.String()
}

// writeEndpoint writes what both modes say about the two ends: the device,
// the UDP socket, the peer, the point-to-point addresses and the routes.
func writeEndpoint(w func(string, ...any), t Tunnel) {
	w("dev %s", DeviceName(t.Port))
	w("dev-type tun")
	w("proto udp")
	w("port %d", t.Port)
	w("remote %s %d", t.RemoteAddress, t.Port)
	w("ifconfig %s %s", t.LocalTunnelIP, t.RemoteTunnelIP)
	for _, n := range t.RemoteNetworks {
		p := netip.MustParsePrefix(n)
		w("route %s %s", p.Addr(), netmask(p.Bits()))
	}
	for _, n := range t.TransitNetworks {
		p := netip.MustParsePrefix(n)
		w("route %s %s vpn_gateway %d", p.Addr(), netmask(p.Bits()), TransitMetric)
	}
}

// TransitMetric is the metric of the routes to networks a tunnel's peer
// forwards to (TransitNetworks); a peer's own network has OpenVPN's default,
// 0. While a destination moves between a direct link and a hub, a host
// briefly has both tunnels' routes to it: Linux refuses a second IPv4 route
// with the same prefix and metric ("File exists"), so with one metric the
// route that came second would be missing once the first tunnel is gone.
// With two, both exist and the direct one wins.
const TransitMetric = 100

// writeTail writes what both modes share after their crypto: mssfix is the
// mode's mssfix line, extra lines of a mode follow it.
func writeTail(w func(string, ...any), t Tunnel, mssfix string, extra ...string) {
	// Detect a dead peer within a minute and re-establish; both ends ping.
	w("keepalive 10 60")
	// Keep the tun device, its routes and the key across restarts caused by
	// keepalive, which the unprivileged process could not redo (the TLS key
	// is 0600 root; 2.7 always keeps keys and says so once at start).
	w("persist-tun")
	w("persist-key")
	// MTU: the tunnel carries at most this much; with either mode's overhead
	// (static: IV, HMAC, packet id, padding; TLS: AEAD tag, packet id,
	// opcode/peer id; plus UDP/IP, under 100 bytes) the outer packets stay
	// below 1500 and are never fragmented on the internet path.
	w("tun-mtu %d", t.MTU)
	// TCP MSS: the host's nft rule (MSSClampRules) clamps it to what the
	// tunnel MTU allows, on every tunnel; see writeTail's callers for
	// OpenVPN's own clamp.
	w("%s", mssfix)
	for _, line := range extra {
		w("%s", line)
	}
	// Drop root once the device, routes and socket exist.
	w("user %s", ServiceUser)
	w("group %s", ServiceUser)
	w("verb 3")
	w("mute 20")
}

// NftTable is the nft table (family inet) that holds tunnel name's MSS
// clamp: one table per tunnel, named for the project, so the setup and the
// teardown replace or delete it whole and never touch anyone else's rules.
func NftTable(name string) string { return "vpclink_" + strings.ReplaceAll(name, "-", "_") }

// NftPath is the nft script of tunnel name's MSS clamp (MSSClampRules).
func NftPath(name string) string { return ConfigDir + "/" + name + ".nft" }

// ClampedMSS is the TCP MSS that fits a tunnel of MTU mtu: the MTU less
// the IPv4 and TCP headers (20 + 20; IPv6: 40 + 20).
func ClampedMSS(mtu int) (ipv4, ipv6 int) { return mtu - 40, mtu - 60 }

// MSSClampRules renders the nft script that clamps the MSS of TCP SYNs
// entering and leaving tunnel t's device to what the tunnel MTU allows.
//
// An explicit value (ClampedMSS), not `set rt mtu`: rt mtu is the MTU of
// the route the packet takes, which is the tunnel's only for packets
// entering it; a SYN leaving the tunnel would be clamped to the VPC
// interface's MTU (9001 on AWS), i.e. not at all, and this end would
// depend on the peer's clamp. The value is re-rendered with the MTU, so a
// changed tunnelMtu changes the file and the setup reloads it. Only SYNs
// whose MSS is larger are rewritten (a smaller one stays) and counted.
//
// The script is one nft transaction (nft -f applies it atomically): it
// creates the table if missing, deletes it and creates it again, so
// running it again converges whatever state the table was in.
func MSSClampRules(t Tunnel) (string, error) {
	if err := t.validate(); err != nil {
		return "", err
	}
	table, dev := NftTable(t.Name), DeviceName(t.Port)
	mss4, mss6 := ClampedMSS(t.MTU)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Managed by vpclink (Pulumi). Link %q: TCP MSS clamp for %s (tunnel MTU %d).", t.Name, dev, t.MTU)
	w("table inet %s {}", table)
	w("delete table inet %s", table)
	w("table inet %s {", table)
	w("\tchain forward {")
	w("\t\ttype filter hook forward priority mangle; policy accept;")
	for _, dir := range []string{"oifname", "iifname"} {
		what := map[string]string{"oifname": "into", "iifname": "out of"}[dir]
		w("\t\t%s %q meta nfproto ipv4 tcp flags & (syn | rst) == syn tcp option maxseg size > %d counter tcp option maxseg size set %d comment %q",
			dir, dev, mss4, mss4, "mss "+what+" the tunnel")
		w("\t\t%s %q meta nfproto ipv6 tcp flags & (syn | rst) == syn tcp option maxseg size > %d counter tcp option maxseg size set %d comment %q",
			dir, dev, mss6, mss6, "mss6 "+what+" the tunnel")
	}
	w("\t}")
	w("}")
	return b.String(), nil
}

// OpenVPN's log lines about data channel offload (DCO), as OpenVPN 2.6.14
// and 2.7.8 print them at verb 3 (read from both binaries and seen in a
// namespace on a kernel without the module). An offloaded end logs
// DCOOpened; one that is not logs one line saying why, which contains
// DCODisabledMarker (options are checked first, the kernel last, so a
// missing module is only reported when no option disabled DCO).
const (
	// DCOOpened starts the line of an offloaded device ("DCO device vpn1194
	// opened"); without offload OpenVPN says "TUN/TAP device vpn1194 opened".
	DCOOpened = "DCO device "
	// DCODisabledPattern matches every line that turns DCO off
	// ("... disabling data channel offload.", "Note: --fragment disables
	// data channel offload.", "... Disabling data channel offload").
	DCODisabledPattern = `[Dd]isabl(es|ing) data channel offload`
	// DCOKernelMissing26 and DCOKernelMissing27 are the reasons when the
	// kernel lacks the module: 2.6 speaks to the out-of-tree ovpn-dco-v2
	// module, 2.7 to Linux 6.16's ovpn.
	DCOKernelMissing26 = "Note: Kernel support for ovpn-dco missing, disabling data channel offload."
	DCOKernelMissing27 = "Note: Kernel support for ovpn interfaces missing, disabling data channel offload."
)

// dcoBlockers are configuration directives with which OpenVPN 2.6/2.7 turn
// DCO off (their dco_check_option and dco_check_startup_option; the texts
// in both binaries), each with the check that applies to its arguments.
var dcoBlockers = map[string]func(args []string) bool{
	"secret":                 func([]string) bool { return true }, // static mode: no TLS
	"fragment":               func([]string) bool { return true },
	"comp-lzo":               func([]string) bool { return true },
	"compress":               func([]string) bool { return true },
	"allow-compression":      func(a []string) bool { return len(a) == 0 || a[0] != "no" },
	"socks-proxy":            func([]string) bool { return true },
	"http-proxy":             func([]string) bool { return true },
	"management-query-proxy": func([]string) bool { return true },
	"disable-dco":            func([]string) bool { return true },
	"data-ciphers-fallback":  func([]string) bool { return true },
	"cipher":                 func(a []string) bool { return len(a) > 0 && !dcoCipher(a[0]) },
	"dev-type":               func(a []string) bool { return len(a) == 0 || a[0] != "tun" },
	"dev-node":               func([]string) bool { return true },
	"data-ciphers": func(a []string) bool {
		for _, c := range strings.Split(strings.Join(a, ":"), ":") {
			if !dcoCipher(c) {
				return true
			}
		}
		return false
	},
}

// dcoCipher reports whether ovpn-dco and ovpn implement data channel
// cipher c.
func dcoCipher(c string) bool {
	switch strings.ToUpper(c) {
	case "AES-128-GCM", "AES-192-GCM", "AES-256-GCM", "CHACHA20-POLY1305":
		return true
	}
	return false
}

// DCOBlockers lists the lines of a rendered configuration with which
// OpenVPN would not offload the data channel (nil: nothing in the
// configuration stands in the way; the kernel may still lack the module).
// A configuration without tls-client or tls-server is not offloaded either.
func DCOBlockers(conf string) []string {
	var found []string
	tls := false
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		if f[0] == "tls-client" || f[0] == "tls-server" {
			tls = true
		}
		if blocks, ok := dcoBlockers[f[0]]; ok && blocks(f[1:]) {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if !tls {
		found = append(found, "(neither tls-client nor tls-server)")
	}
	return found
}
