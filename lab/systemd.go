package lab

import (
	"os"
	"path/filepath"
)

// stubSystemctl stands in for systemd on hosts of a lab with StubSystemd:
// namespaces cannot run systemd, but the setup script's systemd branch is
// the one every real VM takes. It keeps units under /etc/systemd/system as
// systemd does, checks every unit it loads with `systemd-analyze verify`,
// runs a unit's ExecStart in the background for start/restart, and logs
// each call to /run/stub-systemd/calls so tests can see what the script
// asked for.
const stubSystemctl = `#!/bin/bash
set -u
state=/run/stub-systemd
mkdir -p "$state"
echo "systemctl $*" >>"$state/calls"
args=()
for a in "$@"; do case "$a" in -q|--quiet|--no-pager) ;; *) args+=("$a") ;; esac; done
set -- "${args[@]}"
unit_file() { echo "/etc/systemd/system/$1"; }
pid_of() { cat "$state/$1.pid" 2>/dev/null; }
active() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
stop() {
  if active "$1"; then
    local p; p=$(pid_of "$1"); kill "$p"
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$state/$1.pid"
}
start() {
  local f exec
  f=$(unit_file "$1")
  [ -f "$f" ] || { echo "Unit $1 not found." >&2; exit 5; }
  exec=$(sed -n 's/^ExecStart=//p' "$f")
  setsid bash -c "exec $exec" >>"$state/$1.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/$1.pid"
}
case "${1:-}" in
  daemon-reload)
    for f in /etc/systemd/system/*.service; do
      [ -f "$f" ] || continue
      out=$(systemd-analyze verify --man=no "$f" 2>&1)
      if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
    done ;;
  enable)
    wanted=$(sed -n 's/^WantedBy=//p' "$(unit_file "$2")")
    [ -n "$wanted" ] || { echo "$2 has no [Install] WantedBy" >&2; exit 1; }
    mkdir -p "/etc/systemd/system/$wanted.wants"
    ln -sf "$(unit_file "$2")" "/etc/systemd/system/$wanted.wants/$2" ;;
  disable)
    [ "$2" = "--now" ] && { stop "$3"; shift; }
    rm -f /etc/systemd/system/*.wants/"$2" ;;
  is-active) active "$2" ;;
  start) active "$2" || start "$2" ;;
  restart) stop "$2"; start "$2" ;;
  stop) stop "$2" ;;
  *) echo "stub systemctl: unsupported: $*" >&2; exit 1 ;;
esac
`

// stubJournalctl answers `journalctl -u UNIT -n N` from the stub's logs.
const stubJournalctl = `#!/bin/bash
unit= n=10
while [ $# -gt 0 ]; do case "$1" in -u) unit=$2; shift ;; -n) n=$2; shift ;; esac; shift; done
tail -n "$n" "/run/stub-systemd/$unit.log" 2>/dev/null
`

// writeSystemdStub puts the stub commands in dir, to be mounted over the
// host's /usr/local/sbin (first on the setup script's PATH).
func writeSystemdStub(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{"systemctl": stubSystemctl, "journalctl": stubJournalctl} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	return nil
}
