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

// ServiceName is the systemd unit that runs tunnel name.
func ServiceName(name string) string { return "vpclink-" + name + ".service" }

// DeviceName is the tun interface of a tunnel on port; unique per host
// because a host's links use distinct ports.
func DeviceName(port int) string { return fmt.Sprintf("vpn%d", port) }

// ServiceUser is the unprivileged account OpenVPN switches to after start.
const ServiceUser = "openvpn"

// Tunnel is one end of a point-to-point static-key tunnel.
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
	// KeyDirection is 0 on one end and 1 on the other.
	KeyDirection int
	// MTU of the tun interface.
	MTU int
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
	if t.MTU < 576 || t.MTU > 9000 {
		return fmt.Errorf("openvpn: tunnel %q: MTU %d out of range", t.Name, t.MTU)
	}
	for _, n := range t.RemoteNetworks {
		if p, err := netip.ParsePrefix(n); err != nil || !p.Addr().Is4() || p.Masked() != p {
			return fmt.Errorf("openvpn: tunnel %q: %q is not an IPv4 network", t.Name, n)
		}
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
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Managed by vpclink (Pulumi). Link %q; changes here are overwritten.", t.Name)
	w("ignore-unknown-option allow-deprecated-insecure-static-crypto")
	w("allow-deprecated-insecure-static-crypto")
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
	w("secret %s %d", KeyPath(t.Name), t.KeyDirection)
	w("cipher AES-256-CBC")
	w("auth SHA256")
	// Detect a dead peer within a minute and re-establish; both ends ping.
	w("keepalive 10 60")
	// Keep the tun device, its routes and the key across restarts caused by
	// keepalive, which the unprivileged process could not redo.
	w("persist-tun")
	w("persist-key")
	// MTU: the tunnel carries at most this much; with static-key overhead
	// (IV, HMAC, packet id, padding, UDP/IP: under 100 bytes) the outer
	// packets stay below 1500 and are never fragmented on the internet path.
	// mssfix clamps TCP so the encapsulated UDP payload stays within the MTU.
	w("tun-mtu %d", t.MTU)
	w("mssfix %d", t.MTU)
	// Drop root once the device, routes and socket exist.
	w("user %s", ServiceUser)
	w("group %s", ServiceUser)
	w("verb 3")
	w("mute 20")
	return b.String(), nil
}
