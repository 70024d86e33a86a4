package openvpn

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Paths and names of the monitor on a VPN instance.
const (
	// MonitorPath is the daemon script (mode 0755). It takes one argument,
	// the configuration file (MonitorConfig's format).
	MonitorPath = "/usr/local/sbin/vpclink-monitor"
	// MonitorConfigDir holds MonitorConfigPath. It is not ConfigDir: the
	// tunnels' teardown counts ConfigDir's *.conf files as tunnels.
	MonitorConfigDir = "/etc/vpclink"
	// MonitorConfigPath is the daemon's configuration (mode 0644; no secret).
	MonitorConfigPath = MonitorConfigDir + "/monitor.conf"
	// MonitorUnit is the systemd unit that runs the daemon (Restart=always).
	MonitorUnit = "vpclink-monitor.service"
	// MonitorPidPath and MonitorLogPath are used instead of the unit on a
	// host without systemd (a container, the local lab).
	MonitorPidPath = RunDir + "/monitor.pid"
	MonitorLogPath = RunDir + "/monitor.log"
	// MonitorCredentialsPath keeps the last credentials the daemon read
	// from IMDS (mode 0600, on the tmpfs /run), for one use: the failback
	// when the monitor is removed (MonitorTeardownScript), which runs after
	// `pulumi up` has taken the instance profile away (turning high
	// availability off), while the role's credentials are still valid.
	MonitorCredentialsPath = RunDir + "/monitor-credentials"
)

// Timing of the monitor. The probe interval is 1 s and each probe waits up
// to 1 s for its answer (ping -n -q -c 1 -W 1).
const (
	// MonitorLostProbes consecutive lost probes make a link fail over.
	MonitorLostProbes = 2
	// DefaultHoldDownSeconds is Monitor.HoldDownSeconds when it is 0;
	// MinHoldDownSeconds and MaxHoldDownSeconds bound it.
	DefaultHoldDownSeconds = 60
	MinHoldDownSeconds     = 5
	MaxHoldDownSeconds     = 3600
	// MonitorRetrySeconds is how long a link waits before it retries a
	// failed API call (credentials, DescribeRouteTables, ReplaceRoute).
	MonitorRetrySeconds = 5
	// MonitorReconcileSeconds is how often a link reads the table again
	// when nothing happens (only a change or a failure is logged then).
	MonitorReconcileSeconds = 60
)

// Monitor describes the failover monitor of one VPN instance of an HA site.
// Both instances of a site get the same Monitor.
//
// An HA site (issue 16)
// has two VPN instances, primary and secondary, each with its own tunnels;
// the site's route table sends each peer VPC's CIDR to the primary
// instance's ENI. The monitor runs on both instances, probes the primary
// tunnel of every link and moves the link's routes between the two ENIs
// with the EC2 API, signed with the instance profile's credentials (IMDSv2).
//
// Every monitor applies the same rule to the same observation (the primary
// tunnel, which the secondary instance reaches through the primary one), so
// both instances of a site and both sites of a link reach the same answer:
//   - PRIMARY -> SECONDARY after MonitorLostProbes consecutive lost probes;
//   - SECONDARY -> PRIMARY once probes have been answered without a loss for
//     the hold-down (Monitor.HoldDownSeconds);
//   - at start SECONDARY when the table already sends all of the link's
//     destinations to the secondary ENI (the hold-down starts then), else
//     PRIMARY.
//
// On each transition and at start the monitor reads the table
// (DescribeRouteTables) and calls ReplaceRoute (CreateRoute when AWS answers
// InvalidRoute.NotFound) for each destination whose target is not the
// wanted ENI, never for one that already is; a failed call is retried after
// 1 s, then every MonitorRetrySeconds. Every MonitorReconcileSeconds the
// table is read again: a route missing or sent elsewhere is moved back,
// but when ALL of the link's destinations are on the other ENI of the pair
// (the site's other monitor decided, seeing the tunnel fail where this one
// did not, or someone moved them on purpose) the monitor follows the table
// instead (SECONDARY: failback after a whole hold-down from then), so the
// two monitors of a site never take turns moving the routes.
type Monitor struct {
	// Region is the site's AWS region, e.g. "eu-west-1"; it names the EC2
	// endpoint (https://ec2.REGION.amazonaws.com) and the SigV4 scope.
	Region string
	// RouteTableID is the site's route table, e.g. "rtb-0123456789abcdef0".
	RouteTableID string
	// PrimaryENI and SecondaryENI are the network interfaces of the two VPN
	// instances ("eni-..."); they must differ.
	PrimaryENI, SecondaryENI string
	// HoldDownSeconds is how long the primary tunnel must have answered
	// every probe before a link fails back: 0 means DefaultHoldDownSeconds,
	// otherwise MinHoldDownSeconds to MaxHoldDownSeconds.
	HoldDownSeconds int
	// Links are the site's links, at least one.
	Links []MonitorLink
}

// MonitorLink is one link of an HA site as its monitor sees it.
type MonitorLink struct {
	// Name is the link name (lowercase letters, digits and '-', as a
	// tunnel's); it appears in the log lines. Unique within the Monitor.
	Name string
	// ProbeAddress is the peer's primary tunnel address (IPv4), e.g.
	// "10.254.0.2": the primary instance reaches it through the primary
	// tunnel, the secondary through the primary instance.
	ProbeAddress string
	// Destinations are the IPv4 networks routed over this link (the peer
	// VPC's CIDR, transit networks), at least one, e.g. ["10.1.0.0/16"].
	// A destination belongs to one link only.
	Destinations []string
}

var (
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	rtbPattern    = regexp.MustCompile(`^rtb-[0-9a-f]{8,17}$`)
	eniPattern    = regexp.MustCompile(`^eni-[0-9a-f]{8,17}$`)
)

// holdDown returns the effective hold-down in seconds.
func (m Monitor) holdDown() int {
	if m.HoldDownSeconds == 0 {
		return DefaultHoldDownSeconds
	}
	return m.HoldDownSeconds
}

// validate checks m; each error names the field and the value.
func (m Monitor) validate() error {
	if !regionPattern.MatchString(m.Region) {
		return fmt.Errorf("openvpn: monitor: Region %q: want an AWS region such as eu-west-1", m.Region)
	}
	if !rtbPattern.MatchString(m.RouteTableID) {
		return fmt.Errorf("openvpn: monitor: RouteTableID %q: want rtb- and 8 to 17 hex digits", m.RouteTableID)
	}
	for _, f := range []struct{ field, v string }{{"PrimaryENI", m.PrimaryENI}, {"SecondaryENI", m.SecondaryENI}} {
		if !eniPattern.MatchString(f.v) {
			return fmt.Errorf("openvpn: monitor: %s %q: want eni- and 8 to 17 hex digits", f.field, f.v)
		}
	}
	if m.PrimaryENI == m.SecondaryENI {
		return fmt.Errorf("openvpn: monitor: SecondaryENI %q: the same as PrimaryENI", m.SecondaryENI)
	}
	if h := m.HoldDownSeconds; h != 0 && (h < MinHoldDownSeconds || h > MaxHoldDownSeconds) {
		return fmt.Errorf("openvpn: monitor: HoldDownSeconds %d: want %d to %d (0 for %d)", h, MinHoldDownSeconds, MaxHoldDownSeconds, DefaultHoldDownSeconds)
	}
	if len(m.Links) == 0 {
		return fmt.Errorf("openvpn: monitor: Links: none; want at least one")
	}
	names, dests := map[string]bool{}, map[string]string{}
	for i, l := range m.Links {
		if !namePattern.MatchString(l.Name) {
			return fmt.Errorf("openvpn: monitor: Links[%d].Name %q: want lowercase letters, digits and '-'", i, l.Name)
		}
		if ServiceName(l.Name) == MonitorUnit {
			return fmt.Errorf("openvpn: monitor: Links[%d].Name %q: its tunnel's unit would be %s, the monitor's own", i, l.Name, MonitorUnit)
		}
		if names[l.Name] {
			return fmt.Errorf("openvpn: monitor: Links[%d].Name %q: duplicate", i, l.Name)
		}
		names[l.Name] = true
		if a, err := netip.ParseAddr(l.ProbeAddress); err != nil || !a.Is4() {
			return fmt.Errorf("openvpn: monitor: link %q: ProbeAddress %q: want an IPv4 address", l.Name, l.ProbeAddress)
		}
		if len(l.Destinations) == 0 {
			return fmt.Errorf("openvpn: monitor: link %q: Destinations: none; want at least one IPv4 network", l.Name)
		}
		for _, d := range l.Destinations {
			if p, err := netip.ParsePrefix(d); err != nil || !p.Addr().Is4() || p.Masked() != p {
				return fmt.Errorf("openvpn: monitor: link %q: Destinations %q: want an IPv4 network such as 10.1.0.0/16", l.Name, d)
			}
			if other, ok := dests[d]; ok {
				return fmt.Errorf("openvpn: monitor: link %q: Destinations %q: already routed over link %q", l.Name, d, other)
			}
			dests[d] = l.Name
		}
	}
	return nil
}

// MonitorConfig renders the daemon's configuration file: one "key value"
// per line, links as "link NAME PROBE-ADDRESS DESTINATION...", e.g.
//
//	region eu-west-1
//	route-table rtb-0123456789abcdef0
//	primary-eni eni-0aaaaaaaaaaaaaaaa
//	secondary-eni eni-0bbbbbbbbbbbbbbbb
//	hold-down 60
//	link a-b 10.254.0.2 10.1.0.0/16
//
// It returns m's validation error (naming the field and the value).
func MonitorConfig(m Monitor) (string, error) {
	if err := m.validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by vpclink (Pulumi): failover monitor of this HA site. Changes here are overwritten.\n")
	fmt.Fprintf(&b, "region %s\nroute-table %s\nprimary-eni %s\nsecondary-eni %s\nhold-down %d\n",
		m.Region, m.RouteTableID, m.PrimaryENI, m.SecondaryENI, m.holdDown())
	for _, l := range m.Links {
		fmt.Fprintf(&b, "link %s %s %s\n", l.Name, l.ProbeAddress, strings.Join(l.Destinations, " "))
	}
	return b.String(), nil
}

// MonitorDaemon returns the daemon script installed at MonitorPath, run as
// `vpclink-monitor CONFIG`. It needs bash 5, ping, curl 7.75 or later
// (--aws-sigv4), coreutils, grep, sed and awk. The endpoints are
// ${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254} and
// ${AWS_ENDPOINT_URL_EC2:-https://ec2.REGION.amazonaws.com}; tests shorten
// MonitorRetrySeconds and MonitorReconcileSeconds with
// VPCLINK_MONITOR_RETRY_SECONDS and VPCLINK_MONITOR_RECONCILE_SECONDS. It logs to
// standard output, one line per event, each starting with an ISO-8601 UTC
// timestamp with milliseconds:
//
//	2026-11-30T13:00:00.012Z vpclink-monitor: started: route table rtb-1 in eu-west-1, primary eni-1, secondary eni-2, hold-down 60 s, links a-b
//	2026-11-30T13:00:00.015Z vpclink-monitor: reading the route table at start: IMDS token: HTTP 500; retry in 5 s
//	2026-11-30T13:00:00.120Z link a-b: start -> primary (primary tunnel probe 10.254.0.2)
//	2026-11-30T13:00:00.120Z link a-b: start -> secondary (routes already on eni-2); failback after 60 s of answered probes
//	2026-11-30T13:00:05.001Z link a-b: probe 10.254.0.2 lost (1 of 2)
//	2026-11-30T13:00:06.001Z link a-b: probe 10.254.0.2 answered again
//	2026-11-30T13:00:09.002Z link a-b: primary tunnel lost (2 probes) -> secondary
//	2026-11-30T13:00:09.050Z link a-b: DescribeRouteTables ok (41 ms)
//	2026-11-30T13:00:09.133Z link a-b: 10.1.0.0/16 eni-1 -> eni-2 (ReplaceRoute 83 ms)
//	2026-11-30T13:00:09.180Z link a-b: 10.3.0.0/16 none -> eni-2 (ReplaceRoute: InvalidRoute.NotFound; CreateRoute 40 ms)
//	2026-11-30T13:00:09.190Z link a-b: 10.4.0.0/16 already eni-2
//	2026-11-30T13:00:20.004Z link a-b: primary tunnel answers again; failback after 60 s of answered probes
//	2026-11-30T13:00:25.004Z link a-b: probe 10.254.0.2 lost during the hold-down; failback postponed
//	2026-11-30T13:01:21.004Z link a-b: primary tunnel answered for 60 s -> primary
//	2026-11-30T13:01:21.100Z link a-b: 10.1.0.0/16 eni-2 -> eni-1 failed: UnauthorizedOperation, HTTP 403 (ReplaceRoute 35 ms); retry in 5 s
//	2026-11-30T13:01:21.100Z link a-b: DescribeRouteTables failed: AuthFailure, HTTP 401 (52 ms); retry in 5 s
//	2026-11-30T13:01:21.100Z link a-b: credentials: IMDS token: curl exit 7 (could not connect); retry in 5 s
//	2026-11-30T13:02:00.000Z vpclink-monitor: stopping
//
// A reconciliation (every MonitorReconcileSeconds) logs only what it
// changes and what fails.
//
// Secrets (the IMDS token, the secret key, the session token) reach curl
// only in a configuration on its standard input (curl -K -): never on a
// command line, in the environment or in a log line.
func MonitorDaemon() string {
	return strings.NewReplacer("@LOST@", fmt.Sprint(MonitorLostProbes), "@RETRY@", fmt.Sprint(MonitorRetrySeconds),
		"@CREDS@", MonitorCredentialsPath,
		"@RECONCILE@", fmt.Sprint(MonitorReconcileSeconds)).Replace(monitorDaemon)
}

// monitorDaemon is MonitorDaemon with @NAME@ for the constants.
const monitorDaemon = `#!/bin/bash
# vpclink-monitor CONFIG: failover monitor of one VPN instance of an HA site.
# Managed by vpclink (Pulumi). Probes each link's primary tunnel every second
# and moves the link's routes between the primary and the secondary ENI.
set -o pipefail
umask 077
export TZ=UTC LC_ALL=C
MODE=run
if [ "${1:-}" = --failback ]; then MODE=failback; shift; fi
CONF=${1:?usage: vpclink-monitor [--failback] CONFIG}
LOST_PROBES=@LOST@
CREDS=${VPCLINK_MONITOR_CREDENTIALS:-@CREDS@}
KEEP_CREDENTIALS=
# Tests shorten the pauses; nothing else sets these.
RETRY_SECONDS=${VPCLINK_MONITOR_RETRY_SECONDS:-@RETRY@}
RECONCILE_SECONDS=${VPCLINK_MONITOR_RECONCILE_SECONDS:-@RECONCILE@}

# TS is the current time, ISO-8601 UTC with milliseconds; NOW in ms.
stamp() { local t=$EPOCHREALTIME; printf -v TS '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${t%[.,]*}" "${t#*[.,]}"; TS=${TS:0:23}Z; }
now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; NOW=$((10#$t / 1000)); }
log() { stamp; printf '%s %s\n' "$TS" "$*"; }
die() { log "vpclink-monitor: error: $*"; exit 1; }
# pause SECONDS: sleep, but a TERM stops the daemon at once.
pause() { sleep "$1" & wait $!; }

REGION= RTB= PRIMARY= SECONDARY= HOLD=
NAMES=() PROBES=() DESTS=()
[ -r "$CONF" ] || die "cannot read $CONF"
while read -r key a b rest; do
  case $key in
    '' | '#'*) ;;
    region) REGION=$a ;;
    route-table) RTB=$a ;;
    primary-eni) PRIMARY=$a ;;
    secondary-eni) SECONDARY=$a ;;
    hold-down) HOLD=$a ;;
    link) NAMES+=("$a") PROBES+=("$b") DESTS+=("$rest") ;;
    *) die "$CONF: unknown key $key" ;;
  esac
done <"$CONF"
[ -n "$REGION" ] && [ -n "$RTB" ] && [ -n "$PRIMARY" ] && [ -n "$SECONDARY" ] && [[ $HOLD =~ ^[0-9]+$ ]] ||
  die "$CONF: want region, route-table, primary-eni, secondary-eni and hold-down"
N=${#NAMES[@]}
[ "$N" -gt 0 ] || die "$CONF: no link"
[[ $RETRY_SECONDS =~ ^[1-9][0-9]*$ && $RECONCILE_SECONDS =~ ^[1-9][0-9]*$ ]] || die "retry and reconcile pauses must be whole seconds"
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
IMDS=${IMDS%/}
EC2=${AWS_ENDPOINT_URL_EC2:-https://ec2.$REGION.amazonaws.com}
EC2=${EC2%/}

# cq VALUE: VALUE quoted for a curl configuration ("...", \ and " escaped).
cq() { local v=${1//\\/\\\\}; printf '"%s"' "${v//\"/\\\"}"; }
# http CURL-ARGS... <CURL-CONFIG: one request; sets CODE (HTTP status) and
# BODY; returns curl's exit status. curl's own messages are dropped (they
# could hold part of an answer); callers report curl_error.
http() {
  local out rc
  out=$(curl -s --connect-timeout 3 --max-time 10 -K - -w '\n%{http_code}' "$@" 2>/dev/null)
  rc=$?
  CODE=${out##*$'\n'} BODY=${out%$'\n'*}
  return $rc
}
curl_error() {
  case $1 in
    6) echo "curl exit 6 (could not resolve host)" ;;
    7) echo "curl exit 7 (could not connect)" ;;
    28) echo "curl exit 28 (timed out)" ;;
    35 | 60) echo "curl exit $1 (TLS)" ;;
    *) echo "curl exit $1" ;;
  esac
}
# json_field NAME: the string NAME of the JSON object in BODY.
json_field() {
  printf '%s' "$BODY" | tr -d '\r\n' | grep -o "\"$1\"[[:space:]]*:[[:space:]]*\"[^\"]*\"" | head -n 1 |
    sed 's/^[^:]*:[[:space:]]*"//; s/"$//'
}
# xml_field NAME: the text of the first element NAME of the XML in BODY.
xml_field() { printf '%s' "$BODY" | tr -d '\r\n' | grep -o "<$1>[^<]*</$1>" | head -n 1 | sed 's/<[^>]*>//g'; }

# credentials: AKID, SECRET and TOKEN of the instance profile (IMDSv2), or
# ERR. Never exported.
credentials() {
  local imds role
  http --request PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token" </dev/null ||
    { ERR="IMDS token: $(curl_error $?)"; return 1; }
  [ "$CODE" = 200 ] && [ -n "$BODY" ] || { ERR="IMDS token: HTTP $CODE"; return 1; }
  imds="header = $(cq "X-aws-ec2-metadata-token: $BODY")"
  http "$IMDS/latest/meta-data/iam/security-credentials/" <<<"$imds" || { ERR="IMDS role: $(curl_error $?)"; return 1; }
  [ "$CODE" = 200 ] || { ERR="IMDS role: HTTP $CODE (no instance profile?)"; return 1; }
  role=${BODY%%$'\n'*}
  [[ $role =~ ^[A-Za-z0-9+=,.@_-]+$ ]] || { ERR="IMDS role: no role name in the answer"; return 1; }
  http "$IMDS/latest/meta-data/iam/security-credentials/$role" <<<"$imds" || { ERR="IMDS credentials: $(curl_error $?)"; return 1; }
  [ "$CODE" = 200 ] || { ERR="IMDS credentials of $role: HTTP $CODE"; return 1; }
  local code
  code=$(json_field Code)
  [ -z "$code" ] || [ "$code" = Success ] || { ERR="IMDS credentials of $role: Code $code"; return 1; }
  AKID=$(json_field AccessKeyId) SECRET=$(json_field SecretAccessKey) TOKEN=$(json_field Token)
  [ -n "$AKID" ] && [ -n "$SECRET" ] || { ERR="IMDS credentials of $role: no key in the answer"; return 1; }
  # Kept for the failback at removal (printf is a builtin: no argv); a
  # file of its own first, as two links' workers may write at once.
  mkdir -p "${CREDS%/*}" && printf '%s\n%s\n%s\n' "$AKID" "$SECRET" "$TOKEN" >"$CREDS.$BASHPID" && mv -f "$CREDS.$BASHPID" "$CREDS"
  return 0
}

# ec2 ACTION PARAMS: one EC2 Query API call, signed with SigV4; sets CODE,
# BODY, MS (its duration) and, when it fails, ECODE (AWS's error code, or
# curl's). The key and the token reach curl on its standard input.
ec2() {
  local t0 rc cfg
  cfg="user = $(cq "$AKID:$SECRET")"
  [ -z "$TOKEN" ] || cfg+=$'\n'"header = $(cq "x-amz-security-token: $TOKEN")"
  now_ms
  t0=$NOW
  http --aws-sigv4 "aws:amz:$REGION:ec2" -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
    --data-binary "Action=$1&Version=2016-11-15&$2" "$EC2/" <<<"$cfg"
  rc=$?
  now_ms
  MS=$((NOW - t0)) ECODE=
  if [ "$rc" -ne 0 ]; then ECODE=$(curl_error "$rc"); return 1; fi
  if [ "$CODE" != 200 ]; then ECODE=$(xml_field Code); ECODE="${ECODE:-no error code}, HTTP $CODE"; return 1; fi
  return 0
}

# routes: "DESTINATION TARGET" for each route of the table in BODY (a
# DescribeRouteTables answer); TARGET is an ENI or another target's id.
routes() {
  printf '%s' "$BODY" | tr -d '\r\n' | sed 's/<item>/\n/g' | awk '
    { sub(/<\/item>.*/, "") }
    match($0, /<destinationCidrBlock>[^<]*</) {
      d = substr($0, RSTART + 22, RLENGTH - 23); t = "none"
      n = split("networkInterfaceId gatewayId natGatewayId transitGatewayId vpcPeeringConnectionId instanceId localGatewayId carrierGatewayId egressOnlyInternetGatewayId", k, " ")
      for (i = 1; i <= n; i++) if (match($0, "<" k[i] ">[^<]*<")) { t = substr($0, RSTART + length(k[i]) + 2, RLENGTH - length(k[i]) - 3); break }
      print d, t
    }'
}
# describe: read the table into ROUTES, or set ERR.
describe() {
  ec2 DescribeRouteTables "RouteTableId.1=$RTB" || { ERR="DescribeRouteTables failed: $ECODE ($MS ms)"; return 1; }
  case $BODY in
    *"<routeTableId>$RTB</routeTableId>"*) ;;
    *) ERR="DescribeRouteTables: $RTB is not in the answer ($MS ms)"; return 1 ;;
  esac
  ROUTES=$(routes)
  DESCRIBED="DescribeRouteTables ok ($MS ms)"
}
# target DESTINATION: its target in ROUTES, or "none".
target() { local t; t=$(awk -v d="$1" '$1 == d { print $2; exit }' <<<"$ROUTES"); echo "${t:-none}"; }

# sync_link LINK WANT QUIET: make the table send link LINK's destinations to the
# ENI WANT; logs every call (QUIET=1, a reconciliation: only changes and
# failures). Exit status 0 when all are there, 1 on a failure, and, in a
# reconciliation, 3 when every destination is on the OTHER ENI of the pair
# (the other monitor of the site decided, or someone moved them on purpose):
# then nothing is called and the caller follows the table instead of
# fighting over it.
sync_link() {
  local name=${NAMES[$1]} want=$2 quiet=$3 d cur p rc=0 other=$PRIMARY all_other=1
  [ "$want" != "$PRIMARY" ] || other=$SECONDARY
  [ -n "$KEEP_CREDENTIALS" ] || credentials || { log "link $name: credentials: $ERR; retry in $(retry_in "$1") s"; return 1; }
  describe || { log "link $name: $ERR; retry in $(retry_in "$1") s"; return 1; }
  [ "$quiet" = 1 ] || log "link $name: $DESCRIBED"
  if [ "$quiet" = 1 ]; then
    for d in ${DESTS[$1]}; do
      [ "$(target "$d")" = "$other" ] || all_other=0
    done
    [ "$all_other" = 0 ] || return 3
  fi
  for d in ${DESTS[$1]}; do
    cur=$(target "$d")
    if [ "$cur" = "$want" ]; then
      [ "$quiet" = 1 ] || log "link $name: $d already $want"
      continue
    fi
    p="RouteTableId=$RTB&DestinationCidrBlock=${d//\//%2F}&NetworkInterfaceId=$want"
    if ec2 ReplaceRoute "$p" && [ "$(xml_field return)" = true ]; then
      log "link $name: $d $cur -> $want (ReplaceRoute $MS ms)"
    elif [ "${ECODE%%,*}" = InvalidRoute.NotFound ]; then
      if ec2 CreateRoute "$p" && [ "$(xml_field return)" = true ]; then
        log "link $name: $d $cur -> $want (ReplaceRoute: InvalidRoute.NotFound; CreateRoute $MS ms)"
      else
        log "link $name: $d $cur -> $want failed: ${ECODE:-return not true} (CreateRoute $MS ms); retry in $(retry_in "$1") s"
        rc=1
      fi
    else
      log "link $name: $d $cur -> $want failed: ${ECODE:-return not true} (ReplaceRoute $MS ms); retry in $(retry_in "$1") s"
      rc=1
    fi
  done
  return $rc
}

# retry_in LINK: seconds before a failed call of LINK is tried again: 1 after
# the first failure since the last success (a transient error must not
# lengthen a failover), RETRY_SECONDS after more.
retry_in() { if [ "${fails[$1]:-0}" = 0 ]; then echo 1; else echo "$RETRY_SECONDS"; fi; }

# --failback: move every link's routes to the primary ENI once and exit
# (the monitor's removal: one VPN instance per site from now on). The
# credentials come from IMDS or, when the instance profile is already gone,
# from the last ones the daemon kept.
if [ "$MODE" = failback ]; then
  if ! credentials; then
    e=$ERR
    if [ -s "$CREDS" ] && { read -r AKID && read -r SECRET && read -r TOKEN; } <"$CREDS"; then
      log "vpclink-monitor: failback: $e; using the credentials kept from the last IMDS answer"
    else
      log "vpclink-monitor: failback: $e; routes left where they are"
      exit 1
    fi
  fi
  KEEP_CREDENTIALS=1 rc=0
  for ((i = 0; i < N; i++)); do
    sync_link "$i" "$PRIMARY" 0 || rc=1
  done
  exit $rc
fi

trap 'log "vpclink-monitor: stopping"; kill $(jobs -p) 2>/dev/null; exit 0' TERM INT
log "vpclink-monitor: started: route table $RTB in $REGION, primary $PRIMARY, secondary $SECONDARY, hold-down $HOLD s, links ${NAMES[*]}"

# The state at start comes from the table; without it no decision is made.
until credentials && describe; do
  log "vpclink-monitor: reading the route table at start: $ERR; retry in $RETRY_SECONDS s"
  pause "$RETRY_SECONDS"
done
AKID= SECRET= TOKEN=
now_ms
declare -a state lost since synced worker wtarget next fails
for ((i = 0; i < N; i++)); do
  all_secondary=1 all_primary=1
  for d in ${DESTS[$i]}; do
    cur=$(target "$d")
    [ "$cur" = "$SECONDARY" ] || all_secondary=0
    [ "$cur" = "$PRIMARY" ] || all_primary=0
  done
  lost[i]=0 worker[i]= next[i]=0 synced[i]= fails[i]=0
  if [ "$all_secondary" = 1 ]; then
    state[i]=secondary since[i]=$NOW synced[i]=$SECONDARY
    log "link ${NAMES[i]}: start -> secondary (routes already on $SECONDARY); failback after $HOLD s of answered probes"
  else
    state[i]=primary since[i]=
    [ "$all_primary" = 0 ] || synced[i]=$PRIMARY
    log "link ${NAMES[i]}: start -> primary (primary tunnel probe ${PROBES[i]})"
  fi
  # A table that needs nothing is read again after RECONCILE_SECONDS.
  [ -z "${synced[i]}" ] || next[i]=$((NOW + RECONCILE_SECONDS * 1000))
done

declare -a probe answered
while :; do
  now_ms
  tick=$NOW
  for ((i = 0; i < N; i++)); do
    ping -n -q -c 1 -W 1 "${PROBES[i]}" >/dev/null 2>&1 &
    probe[i]=$!
  done
  for ((i = 0; i < N; i++)); do
    wait "${probe[i]}"
    answered[i]=$?
  done
  now_ms
  for ((i = 0; i < N; i++)); do
    name=${NAMES[i]}
    if [ "${state[i]}" = primary ]; then
      if [ "${answered[i]}" = 0 ]; then
        [ "${lost[i]}" = 0 ] || log "link $name: probe ${PROBES[i]} answered again"
        lost[i]=0
      else
        lost[i]=$((lost[i] + 1))
        if [ "${lost[i]}" -ge "$LOST_PROBES" ]; then
          state[i]=secondary lost[i]=0 since[i]= next[i]=0
          log "link $name: primary tunnel lost (${LOST_PROBES} probes) -> secondary"
        else
          log "link $name: probe ${PROBES[i]} lost (${lost[i]} of $LOST_PROBES)"
        fi
      fi
    elif [ "${answered[i]}" = 0 ]; then
      if [ -z "${since[i]}" ]; then
        since[i]=$NOW
        log "link $name: primary tunnel answers again; failback after $HOLD s of answered probes"
      elif [ $((NOW - since[i])) -ge $((HOLD * 1000)) ]; then
        state[i]=primary since[i]= next[i]=0
        log "link $name: primary tunnel answered for $HOLD s -> primary"
      fi
    elif [ -n "${since[i]}" ]; then
      since[i]=
      log "link $name: probe ${PROBES[i]} lost during the hold-down; failback postponed"
    fi

    # The routes follow the state: one worker per link at a time, so a
    # slow or failing API call never holds up the probes or other links.
    # next is when the link's table is read again: at once after a
    # transition, after RETRY_SECONDS when a call failed, after
    # RECONCILE_SECONDS when all was well (then only changes are logged).
    want=$PRIMARY
    [ "${state[i]}" = primary ] || want=$SECONDARY
    if [ -n "${worker[i]}" ] && ! kill -0 "${worker[i]}" 2>/dev/null; then
      wait "${worker[i]}"
      case $? in
      0) synced[i]=${wtarget[i]} next[i]=$((NOW + RECONCILE_SECONDS * 1000)) fails[i]=0 ;;
      3)
        # The table is on the other ENI: follow it (a failback then
        # waits for a whole hold-down from now). Never a call: two
        # monitors that saw the tunnel differently do not take turns.
        fails[i]=0 next[i]=$((NOW + RECONCILE_SECONDS * 1000))
        if [ "${state[i]}" = primary ] && [ "${wtarget[i]}" = "$PRIMARY" ]; then
          state[i]=secondary since[i]=$NOW synced[i]=$SECONDARY lost[i]=0
          log "link $name: routes found on $SECONDARY (moved by the other monitor or by hand) -> secondary; failback after $HOLD s of answered probes"
        elif [ "${state[i]}" = secondary ] && [ "${wtarget[i]}" = "$SECONDARY" ]; then
          state[i]=primary since[i]= synced[i]=$PRIMARY lost[i]=0
          log "link $name: routes found on $PRIMARY (moved by the other monitor or by hand) -> primary"
        fi
        ;;
      *)
        synced[i]=
        if [ "${fails[i]}" = 0 ]; then next[i]=$((NOW + 1000)); else next[i]=$((NOW + RETRY_SECONDS * 1000)); fi
        fails[i]=$((fails[i] + 1))
        ;;
      esac
      want=$PRIMARY
      [ "${state[i]}" = primary ] || want=$SECONDARY
      # The state changed while the worker ran.
      [ "${wtarget[i]}" = "$want" ] || next[i]=0
      worker[i]=
    fi
    if [ -z "${worker[i]}" ] && [ "$NOW" -ge "${next[i]}" ]; then
      quiet=0
      [ "${synced[i]}" != "$want" ] || quiet=1
      sync_link "$i" "$want" "$quiet" &
      worker[i]=$! wtarget[i]=$want
    fi
  done
  now_ms
  rest=$((tick + 1000 - NOW))
  if [ "$rest" -gt 0 ]; then
    printf -v pause '%d.%03d' $((rest / 1000)) $((rest % 1000))
    pause "$pause"
  fi
done
`

var monitorTemplate = newTemplate("monitor", `# vpclink: install the failover monitor of this HA site's VPN instance.
# Idempotent: a re-run converges and restarts the monitor only when its
# script, configuration or unit changed (or it is not running).
MON={{q .Path}}
CONF={{q .Conf}}
UNIT={{q .Unit}}
say() { printf 'vpclink-monitor: %s\n' "$*"; }
fail() { printf 'vpclink-monitor: error: %s\n' "$*" >&2; exit 1; }
has_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
exec </dev/null
{{template "lock"}}
if ! command -v curl >/dev/null 2>&1 && command -v cloud-init >/dev/null 2>&1; then
  timeout 900 cloud-init status --wait >/dev/null 2>&1 || say "cloud-init did not report success; continuing"
fi
{{template "install" "curl"}}curl --help all 2>/dev/null | grep -q -- '--aws-sigv4' ||
  fail "$(curl --version | head -n 1 | cut -d ' ' -f 1-2) has no --aws-sigv4: the monitor needs curl 7.75 or later"
command -v ping >/dev/null 2>&1 || fail "ping is missing (package iputils-ping or iputils)"

changed=0
{{template "installFile"}}
mkdir -p "$(dirname "$CONF")" "$(dirname "$MON")"
install_file 755 "$MON" <<'VPCLINK_MONITOR'
{{.Daemon}}VPCLINK_MONITOR
install_file 644 "$CONF" <<'VPCLINK_MONITOR_CONF'
{{.Config}}VPCLINK_MONITOR_CONF
restart=$changed

if has_systemd; then
  changed=0
  install_file 644 "/etc/systemd/system/$UNIT" <<VPCLINK_UNIT
[Unit]
Description=vpclink failover monitor (moves the HA site's routes between its VPN instances)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=$MON $CONF
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
VPCLINK_UNIT
  if [ "$changed" = 1 ]; then systemctl daemon-reload; restart=1; fi
  systemctl enable -q "$UNIT"
  if [ "$restart" = 1 ] || ! systemctl is-active -q "$UNIT"; then
    systemctl restart "$UNIT"
    what=started
  else
    what=unchanged
  fi
  sleep 1
  systemctl is-active -q "$UNIT" || { journalctl -u "$UNIT" -n 20 --no-pager >&2 || true; fail "$UNIT is not running"; }
  pid=$(systemctl show -p MainPID --value "$UNIT")
else
  # No systemd (a container, the local lab): run the daemon directly.
  mkdir -p {{q .RunDir}}
  PID={{q .Pid}}
  running() { [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }
  if [ "$restart" = 1 ] && running; then
    kill "$(cat "$PID")"
    for _ in $(seq 1 50); do running || break; sleep 0.2; done
  fi
  what=unchanged
  if ! running; then
    setsid "$MON" "$CONF" >>{{q .Log}} 2>&1 </dev/null 9>&- &
    echo $! >"$PID"
    what=started
  fi
  sleep 1
  running || { tail -n 20 {{q .Log}} >&2 || true; fail "the monitor is not running"; }
  pid=$(cat "$PID")
fi
say "$what (pid $pid): route table {{.RouteTable}}, primary {{.Primary}}, secondary {{.Secondary}}, hold-down {{.HoldDown}} s, links{{range .Links}} {{.Name}} ({{.ProbeAddress}}: {{join .Destinations ","}}){{end}}"
`)

// MonitorScript renders the idempotent setup of the failover monitor on one
// VPN instance of an HA site: install curl if missing (and check that it
// has --aws-sigv4) and check ping; write the daemon (MonitorDaemon, at
// MonitorPath, 0755) and its configuration (MonitorConfig, at
// MonitorConfigPath, 0644); install, enable and start MonitorUnit
// (Restart=always), restarting it only when one of the three changed or it
// is not running. Without systemd it runs the daemon in the background
// (MonitorPidPath, MonitorLogPath). It prints one line: "vpclink-monitor:
// started|unchanged (pid N): route table ..., links NAME (PROBE: DESTS)".
// It reads nothing on standard input: the monitor's credentials come from
// the instance profile. Run it with Command("monitor", ...). It returns
// m's validation error (which names the field and the value).
func MonitorScript(m Monitor) (string, error) {
	conf, err := MonitorConfig(m)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = monitorTemplate.Execute(&b, map[string]any{
		"Path": MonitorPath, "Conf": MonitorConfigPath, "Unit": MonitorUnit, "RunDir": RunDir,
		"Pid": MonitorPidPath, "Log": MonitorLogPath, "Daemon": MonitorDaemon(), "Config": conf,
		"RouteTable": m.RouteTableID, "Primary": m.PrimaryENI, "Secondary": m.SecondaryENI,
		"HoldDown": m.holdDown(), "Links": m.Links,
	})
	return b.String(), err
}

var monitorTeardownTemplate = newTemplate("monitor-teardown", `# vpclink: remove the failover monitor. Safe to run when nothing is installed.
# Stops it, moves the routes back to the primary VPN instance (with one VPN
# instance per site from now on they must point there), removes it.
{{template "lock"}}set +e
UNIT={{q .Unit}}
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now "$UNIT" >/dev/null 2>&1
  rm -f "/etc/systemd/system/$UNIT"
  systemctl daemon-reload
else
  PID={{q .Pid}}
  if [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; then
    kill "$(cat "$PID")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$PID")" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$PID" {{q .Log}}
fi
if [ -x {{q .Path}} ] && [ -r {{q .Conf}} ]; then
  timeout 60 {{q .Path}} --failback {{q .Conf}} || printf 'vpclink-monitor: failback at removal failed (above): the routes stay where they are; move them to the primary VPN instance by hand or run pulumi up --refresh\n'
fi
rm -f {{q .Path}} {{q .Conf}} {{q .Creds}}
rmdir {{q .Dir}} 2>/dev/null
printf 'vpclink-monitor: removed\n'
exit 0
`)

// MonitorTeardownScript renders the delete step of the monitor: stop and
// disable MonitorUnit (or the background daemon), move every link's routes
// to the primary ENI (vpclink-monitor --failback, with the kept
// credentials when the instance profile is already gone; a failure is
// printed, not fatal), then remove the unit, the daemon, its configuration
// and the kept credentials. Safe
// to run again or when nothing is installed. Run it with
// Command("monitor-teardown", ...).
func MonitorTeardownScript() (string, error) {
	var b strings.Builder
	err := monitorTeardownTemplate.Execute(&b, map[string]any{
		"Unit": MonitorUnit, "Pid": MonitorPidPath, "Log": MonitorLogPath, "Path": MonitorPath,
		"Conf": MonitorConfigPath, "Dir": MonitorConfigDir, "Creds": MonitorCredentialsPath,
	})
	return b.String(), err
}
