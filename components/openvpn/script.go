package openvpn

import (
	"fmt"
	"net/netip"
	"strings"
	"text/template"
)

// SysctlPath holds the persistent IPv4 forwarding setting.
const SysctlPath = "/etc/sysctl.d/60-vpclink.conf"

// RunDir holds pid and log files when the host has no systemd.
const RunDir = "/run/vpclink"

// TunnelWaitSeconds bounds how long setup waits for the tun device.
const TunnelWaitSeconds = 30

// Command turns a script into the single command line that pulumi-command
// sends over SSH: bash runs it whatever the login shell is, and a non-root
// login re-executes it under sudo with the same standard input.
func Command(purpose, script string) string {
	prelude := "set -euo pipefail\n" +
		"export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" +
		"if [ \"$(id -u)\" -ne 0 ]; then exec sudo -n -- bash -c \"$BASH_EXECUTION_STRING\" \"$0\"; fi\n"
	return "bash -c " + shellQuote(prelude+script) + " vpclink-" + purpose
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var funcs = template.FuncMap{
	"q":      shellQuote,
	"pkg":    func(cmd, pkg string) map[string]string { return map[string]string{"Cmd": cmd, "Pkg": pkg} },
	"isName": func(v any) bool { _, ok := v.(string); return ok },
	"join":   strings.Join,
}

// lockTemplate serialises vpclink scripts on one host: the setups of two
// links on one VPN instance run concurrently and share the service account
// and the forwarding setting.
const lockTemplate = `{{define "lock"}}mkdir -p /run/lock
exec 9>/run/lock/vpclink.lock
flock -w 900 9 || { echo "vpclink: another vpclink setup holds /run/lock/vpclink.lock" >&2; exit 1; }
{{end}}`

// installTemplate installs a package when its command is missing (the
// template's data: a name that is both, or pkg "command" "package"): apt (Ubuntu, Debian) or dnf (Amazon Linux 2023),
// with retries while cloud-init or unattended upgrades hold the lock. The
// caller defines say and fail.
const installTemplate = `{{define "install"}}{{$c := .}}{{$p := .}}{{if not (isName .)}}{{$c = .Cmd}}{{$p = .Pkg}}{{end}}if ! command -v {{$c}} >/dev/null 2>&1; then
  n=0
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    until apt-get -o DPkg::Lock::Timeout=300 -qq update >/dev/null &&
          apt-get -o DPkg::Lock::Timeout=300 -qq install -y {{$p}} >/dev/null; do
      n=$((n + 1)); [ "$n" -lt 5 ] || fail "apt-get could not install {{$p}}"; sleep 10
    done
  elif command -v dnf >/dev/null 2>&1; then
    until dnf -q -y install {{$p}} >/dev/null; do
      n=$((n + 1)); [ "$n" -lt 5 ] || fail "dnf could not install {{$p}}"; sleep 10
    done
  else
    fail "{{$p}} is missing and neither apt-get nor dnf is available"
  fi
  say "installed {{$p}}"
fi
{{end}}`

// installFileTemplate defines install_file, which sets changed=1 when it
// writes a file.
const installFileTemplate = `{{define "installFile"}}# install_file MODE DEST < content: replace DEST only when it differs.
install_file() {
  local mode=$1 dest=$2 tmp
  tmp=$(mktemp "$(dirname "$dest")/.vpclink.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dest"
    changed=1
  fi
}
{{end}}`

// newTemplate parses text with the shared blocks (lock, install,
// installFile).
func newTemplate(name, text string) *template.Template {
	t := template.Must(template.New(name).Funcs(funcs).Parse(lockTemplate))
	t = template.Must(t.Parse(installTemplate))
	t = template.Must(t.Parse(installFileTemplate))
	return template.Must(t.Parse(text))
}

var setupTemplate = newTemplate("setup", `# vpclink: configure OpenVPN tunnel {{.Name}} ({{.Mode}} mode). Idempotent: a re-run converges.
# The static key arrives on standard input and is never printed.
NAME={{q .Name}}
CONF={{q .Conf}}
KEY={{q .Key}}
UNIT={{q .Unit}}
DEV={{q .Dev}}
LOCAL_IP={{q .LocalIP}}
SYSCTL={{q .Sysctl}}
FWD_BEFORE={{q .FwdState}}
RUNDIR={{q .RunDir}}
NFT_FILE={{q .NftFile}}
NFT_TABLE={{q .NftTable}}
say() { printf 'vpclink[%s]: %s\n' "$NAME" "$*"; }
fail() { printf 'vpclink[%s]: error: %s\n' "$NAME" "$*" >&2; exit 1; }
# Belt and braces: nothing that looks like key material leaves this host.
redact() { sed -E 's/[0-9a-fA-F]{32,}/[redacted]/g'; }
has_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
{{template "lock"}}
# Read the key first: nothing else may consume standard input.
umask 077
mkdir -p {{q .Dir}} /etc/sysctl.d
keytmp=$(mktemp {{q .Dir}}/.key.XXXXXX)
trap 'rm -f "$keytmp"' EXIT
cat >"$keytmp"
exec </dev/null
if [ "$(wc -l <"$keytmp")" -ne 18 ] ||
   [ "$(sed -n 1p "$keytmp")" != '-----BEGIN OpenVPN Static key V1-----' ] ||
   [ "$(sed -n 18p "$keytmp")" != '-----END OpenVPN Static key V1-----' ] ||
   [ "$(sed -n 2,17p "$keytmp" | grep -cE '^[0-9a-f]{32}$')" -ne 16 ]; then
  fail "standard input is not an OpenVPN Static key V1 ($(wc -l <"$keytmp") lines); nothing written"
fi
{{- if .TLS}}
# TLS mode: this end's certificate and key belong to the identity step,
# which runs first; setup only checks that they are there.
if [ ! -s {{q .Cert}} ] || [ ! -s {{q .CertKey}} ]; then
  fail "no TLS identity at {{.Cert}}: the identity step must run before the setup"
fi
{{- end}}

# apt and the login user are not settled until cloud-init is done.
if command -v cloud-init >/dev/null 2>&1; then
  timeout 900 cloud-init status --wait >/dev/null 2>&1 || say "cloud-init did not report success; continuing"
fi

{{template "install" "openvpn"}}OVPN=$(command -v openvpn)
{{template "install" (pkg "nft" "nftables")}}NFT=$(command -v nft)
{{- if .TLS}}

# Data channel offload where the kernel has it: OpenVPN 2.7 speaks to
# Linux's ovpn (6.16 and later), 2.6 to the out-of-tree ovpn-dco-v2. Neither
# loads it itself; without it (or in a container) OpenVPN says so and runs
# the data channel in user space. Loaded again at every start of the unit.
case "$("$OVPN" --version | head -n 1)" in
  "OpenVPN 2.6."* | "OpenVPN 2.5."*) DCO_MODULE=ovpn-dco-v2 ;;
  *) DCO_MODULE=ovpn ;;
esac
MODPROBE=$(command -v modprobe || true)
if [ -n "$MODPROBE" ]; then "$MODPROBE" -q "$DCO_MODULE" 2>/dev/null || true; fi
{{- end}}

# OpenVPN drops to this account after start (Amazon Linux's package has it).
if ! id -u {{.User}} >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {{.User}}
fi

changed=0
{{template "installFile"}}
install_file 600 "$KEY" <"$keytmp"
install_file 644 "$CONF" <<'VPCLINK_CONF'
{{.Config}}VPCLINK_CONF
restart=$changed

# TCP MSS clamp for SYNs entering and leaving the tunnel, in a table of its
# own (replaced whole, atomically); reloaded when the file changed (a new
# MTU) or the table is gone (a reboot without systemd, someone's flush).
changed=0
install_file 644 "$NFT_FILE" <<'VPCLINK_NFT'
{{.Nft}}VPCLINK_NFT
if [ "$changed" = 1 ] || ! "$NFT" list table inet "$NFT_TABLE" >/dev/null 2>&1; then
  "$NFT" -f "$NFT_FILE" || fail "nft could not load the MSS clamp $NFT_FILE"
fi

# Remember the forwarding setting from before the first vpclink tunnel, so
# that the last teardown restores it (an older vpclink that recorded nothing
# left its sysctl file: it had found forwarding off).
if [ ! -f "$FWD_BEFORE" ]; then
  if [ -f "$SYSCTL" ]; then before=0; else before=$(sysctl -n net.ipv4.ip_forward); fi
  printf '%s\n' "$before" >"$FWD_BEFORE.tmp"
  mv -f "$FWD_BEFORE.tmp" "$FWD_BEFORE"
fi
changed=0
install_file 644 "$SYSCTL" <<'VPCLINK_SYSCTL'
# Managed by vpclink: this VPN instance routes between its VPC and its tunnels.
net.ipv4.ip_forward = 1
VPCLINK_SYSCTL
sysctl -q -w net.ipv4.ip_forward=1

if has_systemd; then
  changed=0
  install_file 644 "/etc/systemd/system/$UNIT" <<VPCLINK_UNIT
[Unit]
Description=vpclink OpenVPN tunnel $NAME
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStartPre=-$NFT -f $NFT_FILE{{if .TLS}}
$([ -z "$MODPROBE" ] || echo "ExecStartPre=-$MODPROBE -q $DCO_MODULE"){{end}}
ExecStart=$OVPN --suppress-timestamps --config $CONF
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
VPCLINK_UNIT
  if [ "$changed" = 1 ]; then systemctl daemon-reload; restart=1; fi
  systemctl enable -q "$UNIT"
  if [ "$restart" = 1 ] || ! systemctl is-active -q "$UNIT"; then systemctl restart "$UNIT"; fi
  logs() { journalctl -u "$UNIT" -n 40 --no-pager 2>&1; }
  # This start's lines only.
  run_log() { journalctl -q -o cat --no-pager _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value "$UNIT")" 2>/dev/null; }
else
  # No systemd (a container, the local lab): run the daemon directly.
  mkdir -p "$RUNDIR"
  PID="$RUNDIR/$NAME.pid"
  running() { [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }
  if [ "$restart" = 1 ] && running; then
    kill "$(cat "$PID")"
    for _ in $(seq 1 50); do running || break; sleep 0.2; done
  fi
  if ! running; then
    "$OVPN" --daemon "vpclink-$NAME" --writepid "$PID" --log-append "$RUNDIR/$NAME.log" --config "$CONF" 9>&-
  fi
  logs() { tail -n 40 "$RUNDIR/$NAME.log" 2>&1; }
  # The log is appended to; each start logs one offload line, the last
  # one is this daemon's.
  run_log() { sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} //' "$RUNDIR/$NAME.log" 2>/dev/null; }
fi

# Whether this end's data channel is offloaded, in OpenVPN's own words: it
# logs "DCO device DEV opened", or one line on why not ("Note: Kernel
# support for ovpn-dco missing, disabling data channel offload.").
offload() {
  local line=
  for _ in $(seq 1 10); do
    line=$(run_log | grep -E 'DCO device .* opened|{{.DCODisabled}}' | tail -n 1 || true)
    [ -z "$line" ] || break
    sleep 0.2
  done
  case "$line" in
    "DCO device "*) echo "yes ($line)" ;;
    "") echo "unknown (OpenVPN's log says nothing about it)" ;;
    *) echo "no ($line)" ;;
  esac
}

for _ in $(seq 1 {{.Wait}}); do
  if ip link show dev "$DEV" up 2>/dev/null | grep -q . &&
     ip -o -4 addr show dev "$DEV" 2>/dev/null | grep -qF "inet $LOCAL_IP "; then
    say "tunnel $DEV up ($LOCAL_IP <-> {{.RemoteIP}}), remote {{.Remote}}:{{.Port}}, {{.Mode}} mode, $("$OVPN" --version | head -n 1 | cut -d ' ' -f 1-2), ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    say "{{.OffloadPrefix}}$(offload)"
    say "TCP MSS clamp: nft table inet $NFT_TABLE, MSS {{.MSS}} into and out of $DEV"
    exit 0
  fi
  sleep 1
done
{ logs || true; } | redact >&2 || true
fail "tunnel device $DEV did not come up within {{.Wait}} s (OpenVPN log above)"
`)

// SetupScript renders the idempotent setup of one tunnel end: wait for
// cloud-init, install openvpn if missing, write the key (read from standard
// input, mode 0600) and the configuration, make IPv4 forwarding persistent,
// enable and (re)start the service, and wait for the tun device. Run it with
// Command("setup", ...).
func SetupScript(t Tunnel) (string, error) {
	conf, err := RenderConfig(t)
	if err != nil {
		return "", err
	}
	nft, err := MSSClampRules(t)
	if err != nil {
		return "", err
	}
	mss, _ := ClampedMSS(t.MTU)
	var b strings.Builder
	err = setupTemplate.Execute(&b, map[string]any{
		"Name": t.Name, "Conf": ConfigPath(t.Name), "Key": KeyPath(t.Name), "Unit": ServiceName(t.Name),
		"Dev": DeviceName(t.Port), "LocalIP": t.LocalTunnelIP, "RemoteIP": t.RemoteTunnelIP,
		"Remote": t.RemoteAddress, "Port": t.Port, "Sysctl": SysctlPath, "RunDir": RunDir,
		"User": ServiceUser, "Config": conf, "Wait": TunnelWaitSeconds, "Dir": ConfigDir,
		"Mode": t.mode(), "TLS": t.mode() == ModeTLS, "Cert": CertPath(t.Name), "CertKey": CertKeyPath(t.Name),
		"FwdState": ForwardStatePath, "NftFile": NftPath(t.Name), "NftTable": NftTable(t.Name), "Nft": nft,
		"MSS": mss, "DCODisabled": DCODisabledPattern, "OffloadPrefix": OffloadPrefix,
	})
	return b.String(), err
}

// OffloadPrefix starts the setup's line on data channel offload (after
// "vpclink[NAME]: ").
const OffloadPrefix = "data channel offload: "

// OffloadReport returns what a setup's output says about data channel
// offload ("yes (DCO device vpn1194 opened)", "no (Note: ...)"), or ""
// when it says nothing (an older setup, or a preview).
func OffloadReport(setupOutput string) string {
	for _, line := range strings.Split(setupOutput, "\n") {
		if _, after, ok := strings.Cut(line, "]: "+OffloadPrefix); ok && strings.HasPrefix(line, "vpclink[") {
			return after
		}
	}
	return ""
}

var teardownTemplate = newTemplate("teardown", `# vpclink: remove OpenVPN tunnel {{.Name}}. Safe to run when nothing is installed.
{{template "lock"}}set +e
NAME={{q .Name}}
UNIT={{q .Unit}}
SYSCTL={{q .Sysctl}}
FWD_BEFORE={{q .FwdState}}
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now "$UNIT" >/dev/null 2>&1
  rm -f "/etc/systemd/system/$UNIT"
  systemctl daemon-reload
else
  PID={{q .RunDir}}/"$NAME.pid"
  if [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; then
    kill "$(cat "$PID")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$PID")" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$PID" {{q .RunDir}}/"$NAME.log"
fi
rm -f {{q .Conf}} {{q .Key}} {{q .NftFile}}
if command -v nft >/dev/null 2>&1; then nft delete table inet {{q .NftTable}} 2>/dev/null; fi
# The last tunnel on the host: forwarding goes back to what it was before
# the first one. The TLS certificate and key belong to the identity step.
if ! ls {{q .Dir}}/*.conf >/dev/null 2>&1; then
  before=
  if [ -f "$FWD_BEFORE" ]; then before=$(cat "$FWD_BEFORE"); elif [ -f "$SYSCTL" ]; then before=0; fi
  rm -f "$SYSCTL" "$FWD_BEFORE" "$FWD_BEFORE.tmp"
  case "$before" in
    0 | 1) sysctl -q -w net.ipv4.ip_forward="$before" ;;
  esac
  rmdir {{q .Dir}} 2>/dev/null
fi
printf 'vpclink[%s]: removed\n' "$NAME"
exit 0
`)

// TeardownScript renders the delete step: stop and disable the service,
// remove its unit, configuration and key and, once no vpclink tunnel is left
// on the host, the forwarding setting (restored to its value before the
// first tunnel). It never touches the TLS identity (see
// IdentityDeleteScript), so it is the same in both modes.
func TeardownScript(t Tunnel) (string, error) {
	if !namePattern.MatchString(t.Name) {
		return "", fmt.Errorf("openvpn: tunnel name %q: want lowercase letters, digits and '-'", t.Name)
	}
	var b strings.Builder
	err := teardownTemplate.Execute(&b, map[string]any{
		"Name": t.Name, "Unit": ServiceName(t.Name), "Conf": ConfigPath(t.Name), "Key": KeyPath(t.Name),
		"Sysctl": SysctlPath, "RunDir": RunDir, "Dir": ConfigDir, "FwdState": ForwardStatePath,
		"NftFile": NftPath(t.Name), "NftTable": NftTable(t.Name),
	})
	return b.String(), err
}

// PingAttempts and PingRetrySeconds bound the post-deploy check: about two
// minutes in all, enough for both ends to find each other after a restart.
const (
	PingAttempts     = 12
	PingRetrySeconds = 5
)

var pingTemplate = template.Must(template.New("ping").Parse(`# vpclink: post-deploy check, {{.Src}} -> {{.Dst}} through the tunnel.
# Warm-up first: one ping at a time until one is answered (the first
# packets may be lost while the tunnel comes up); then three pings measure
# the tunnel that is up.
out=
for i in $(seq 1 {{.Attempts}}); do
  if out=$(ping -n -c 1 -W 2 -I {{.Src}} {{.Dst}} 2>&1) && out=$(ping -n -c 3 -W 2 -I {{.Src}} {{.Dst}} 2>&1); then
    printf '%s -> %s: %s; %s (first reply at attempt %d, then measured)\n' {{.Src}} {{.Dst}} \
      "$(printf '%s\n' "$out" | grep 'packets transmitted')" "$(printf '%s\n' "$out" | grep -E '^(rtt|round-trip)')" "$i"
    exit 0
  fi
  sleep {{.Retry}}
done
printf '%s -> %s: no reply after %d attempts\n%s\n' {{.Src}} {{.Dst}} {{.Attempts}} "$(printf '%s\n' "$out" | tail -n 3)" >&2
exit 1
`))

// PingAllScript renders the post-deploy check from src to every address
// of dsts (PingScript each, one after the other): one summary line per
// destination, and it fails when any gets no reply.
func PingAllScript(src string, dsts []string) (string, error) {
	if len(dsts) == 0 {
		return "", fmt.Errorf("openvpn: ping check from %s: no destination", src)
	}
	var b strings.Builder
	b.WriteString("rc=0\n")
	for _, d := range dsts {
		one, err := PingScript(src, d)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "(\n%s) || rc=1\n", one)
	}
	b.WriteString("exit $rc\n")
	return b.String(), nil
}

// PingScript renders the post-deploy check: ping dst from src with bounded
// retries (PingAttempts, PingRetrySeconds apart), waiting for a first reply
// before measuring three pings, so the result reports the tunnel once it is
// up, not its warm-up; it prints one summary line and fails when no reply
// ever comes.
func PingScript(src, dst string) (string, error) {
	for _, a := range []string{src, dst} {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return "", fmt.Errorf("openvpn: ping check: %q is not an IPv4 address", a)
		}
	}
	var b strings.Builder
	err := pingTemplate.Execute(&b, map[string]any{"Src": src, "Dst": dst, "Attempts": PingAttempts, "Retry": PingRetrySeconds})
	return b.String(), err
}
