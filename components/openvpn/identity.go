package openvpn

import (
	"fmt"
	"regexp"
	"strings"
)

// CertValidityDays is the lifetime of the self-signed certificates. Nothing
// checks it but OpenVPN's own expiry check: peer-fingerprint pins the exact
// certificate, so a long life only avoids a silent expiry.
const CertValidityDays = 3650

var commonNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)

// identityTemplate makes this end's TLS identity. It runs before the setup,
// in parallel with the peer's, and only needs openssl, which every Ubuntu
// and Amazon Linux image has (installed here when missing): so it does not
// wait for cloud-init or apt and costs one SSH round trip.
//
// It does not take the host lock: it writes only its own link's files,
// through a private temporary directory inside the configuration directory
// (which a concurrent teardown's rmdir cannot remove while it is not empty),
// so it never waits behind another link's long setup.
var identityTemplate = newTemplate("identity", `# vpclink: TLS identity of tunnel {{.Name}} on this host. Idempotent: makes a
# P-256 key and a self-signed certificate only when they are missing or do not
# match; prints the certificate's SHA-256 fingerprint, and nothing else, on
# standard output. The private key never leaves this host.
NAME={{q .Name}}
DIR={{q .Dir}}
CERT={{q .Cert}}
CERTKEY={{q .CertKey}}
CN={{q .CN}}
say() { printf 'vpclink[%s]: %s\n' "$NAME" "$*" >&2; }
fail() { printf 'vpclink[%s]: error: %s\n' "$NAME" "$*" >&2; exit 1; }
exec </dev/null
if ! command -v openssl >/dev/null 2>&1; then
  if command -v cloud-init >/dev/null 2>&1; then
    timeout 900 cloud-init status --wait >/dev/null 2>&1 || say "cloud-init did not report success; continuing"
  fi
{{template "install" "openssl"}}fi
pubkey_of_cert() { openssl x509 -in "$CERT" -noout -pubkey 2>/dev/null; }
pubkey_of_key() { openssl pkey -in "$CERTKEY" -pubout 2>/dev/null; }
if [ ! -s "$CERT" ] || [ ! -s "$CERTKEY" ] || [ -z "$(pubkey_of_cert)" ] ||
   [ "$(pubkey_of_cert)" != "$(pubkey_of_key)" ]; then
  umask 077
  tmp=
  for _ in 1 2 3 4 5; do
    mkdir -p "$DIR"
    if tmp=$(mktemp -d "$DIR/.identity-$NAME.XXXXXX" 2>/dev/null); then break; fi
    tmp=
  done
  [ -n "$tmp" ] || fail "cannot create a temporary directory in $DIR"
  trap 'rm -rf "$tmp"' EXIT
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -nodes \
       -days {{.Days}} -subj "/CN=$CN" -keyout "$tmp/key" -out "$tmp/crt" >"$tmp/log" 2>&1; then
    tail -n 5 "$tmp/log" >&2
    fail "openssl could not make a key and certificate"
  fi
  chmod 600 "$tmp/key"
  chmod 644 "$tmp/crt"
  mv -f "$tmp/key" "$CERTKEY"
  mv -f "$tmp/crt" "$CERT"
  say "made a P-256 key and a self-signed certificate (CN=$CN, {{.Days}} days)"
fi
[ "$(stat -c %a "$CERTKEY")" = 600 ] || chmod 600 "$CERTKEY"
fp=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256)
fp=${fp#*=}
[[ "$fp" =~ ^[0-9A-F]{2}(:[0-9A-F]{2}){31}$ ]] || fail "openssl printed an unexpected fingerprint"
printf '%s\n' "$fp"
`)

// IdentityScript renders the identity step of one tunnel end: make (once)
// the end's P-256 key (0600) and self-signed certificate, CN commonName,
// under ConfigDir, and print the certificate's SHA-256 fingerprint. Run it
// with Command("identity", ...); its standard output is the fingerprint to
// give the peer's configuration (see ParseFingerprint).
func IdentityScript(name, commonName string) (string, error) {
	return identityScript(name, commonName, ConfigDir)
}

// identityScript renders the identity script for a directory dir (tests run
// it unprivileged in a temporary directory).
func identityScript(name, commonName, dir string) (string, error) {
	if !namePattern.MatchString(name) {
		return "", fmt.Errorf("openvpn: tunnel name %q: want lowercase letters, digits and '-'", name)
	}
	if !commonNamePattern.MatchString(commonName) {
		return "", fmt.Errorf("openvpn: tunnel %q: certificate common name %q: want lowercase letters, digits, '.' and '-'", name, commonName)
	}
	var b strings.Builder
	err := identityTemplate.Execute(&b, map[string]any{
		"Name": name, "Dir": dir, "Cert": dir + "/" + name + ".tls.crt", "CertKey": dir + "/" + name + ".tls.key",
		"CN": commonName, "Days": CertValidityDays,
	})
	return b.String(), err
}

var identityDeleteTemplate = newTemplate("identity-delete", `# vpclink: remove the TLS identity of tunnel {{.Name}}. Safe to run when nothing is there.
{{template "lock"}}set +e
rm -f {{q .Cert}} {{q .CertKey}}
rm -rf {{q .Dir}}/.identity-{{.Name}}.*
rmdir {{q .Dir}} 2>/dev/null
printf 'vpclink[%s]: TLS identity removed\n' {{q .Name}}
exit 0
`)

// IdentityDeleteScript renders the identity step's delete: remove the
// certificate and its key, and the configuration directory when nothing else
// is left in it. It takes the host lock (a setup creating the directory must
// not see it vanish).
func IdentityDeleteScript(name string) (string, error) {
	if !namePattern.MatchString(name) {
		return "", fmt.Errorf("openvpn: tunnel name %q: want lowercase letters, digits and '-'", name)
	}
	var b strings.Builder
	err := identityDeleteTemplate.Execute(&b, map[string]any{
		"Name": name, "Dir": ConfigDir, "Cert": CertPath(name), "CertKey": CertKeyPath(name),
	})
	return b.String(), err
}
