package openvpn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Stand-ins for the lock test: a "daemon" that only makes the tun device
// (a persistent tun device with the configured addresses), and a sysctl that takes
// a random 0-70 ms, as a busy host may, which widens the window between a
// script's check of shared state and its update.
const fakeOpenVPN = `#!/bin/bash
if [ "${1:-}" = --version ]; then echo "OpenVPN 0.0-stand-in"; exit 0; fi
while [ $# -gt 0 ]; do
  case "$1" in --writepid) pid=$2; shift ;; --config) conf=$2; shift ;; esac
  shift
done
dev=$(awk '$1 == "dev" { print $2 }' "$conf")
local=$(awk '$1 == "ifconfig" { print $2 }' "$conf")
peer=$(awk '$1 == "ifconfig" { print $3 }' "$conf")
ip link show dev "$dev" >/dev/null 2>&1 || ip tuntap add dev "$dev" mode tun
ip addr replace "$local" peer "$peer" dev "$dev"
ip link set "$dev" up
# The "daemon" is started by the fake host's holder (see newFakeHost).
req=/run/vt8-req.$$
echo "$req" >/run/vt8-spawn
for _ in $(seq 1 500); do [ -s "$req" ] && break; sleep 0.01; done
mv -f "$req" "$pid"
`

const slowSysctl = `#!/bin/bash
sleep "0.0$((RANDOM % 8))"
exec /usr/sbin/sysctl "$@"
`

// withoutLock removes the host lock from a script: what the scripts would
// be without it.
func withoutLock(script string) string {
	var out []string
	for _, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(l, "exec 9>") || strings.HasPrefix(l, "flock ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// lockRace runs rounds of concurrent setups and teardowns of several links
// on one fake host and returns what broke: a failed script, or shared state
// (the service account, the forwarding setting and its record, the sysctl
// file) that disagrees with the tunnels left on the host.
func lockRace(t *testing.T, rounds int, edit func(string) string) []string {
	sbin := t.TempDir()
	for name, body := range map[string]string{"openvpn": fakeOpenVPN, "sysctl": slowSysctl} {
		if err := os.WriteFile(filepath.Join(sbin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := newFakeHost(t, "race", sbin)
	key := testStaticKey(t)
	const links = 5
	setup, teardown := make([]string, links), make([]string, links)
	for i := range setup {
		tu := Tunnel{Name: fmt.Sprintf("l%d", i), Port: 1201 + i, Mode: ModeStatic, RemoteAddress: "192.0.2.9",
			LocalTunnelIP: fmt.Sprintf("10.254.%d.1", i), RemoteTunnelIP: fmt.Sprintf("10.254.%d.2", i),
			RemoteNetworks: []string{fmt.Sprintf("10.%d.0.0/16", 10+i)}, MTU: 1400}
		s, err := SetupScript(tu)
		if err != nil {
			t.Fatal(err)
		}
		d, err := TeardownScript(tu)
		if err != nil {
			t.Fatal(err)
		}
		setup[i], teardown[i] = Command("setup", edit(s)), Command("teardown", edit(d))
	}
	var problems []string
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	parallel := func(round int, what string, lines map[int]string) {
		var wg sync.WaitGroup
		for i, line := range lines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, stderr, err := h.run(line, key); err != nil {
					report("round %d: %s of l%d failed: %v: %s", round, what, i, err, strings.TrimSpace(stderr))
				}
			}()
		}
		wg.Wait()
	}
	check := func(round int, when string, up []int) {
		n := len(problems)
		fwd, hasSysctl, before := h.forwarding(), h.exists(SysctlPath), strings.TrimSpace(h.read(ForwardStatePath))
		for i := 0; i < links; i++ {
			want := false
			for _, u := range up {
				want = want || u == i
			}
			if got := h.exists(ConfigPath(fmt.Sprintf("l%d", i))); got != want {
				report("round %d, %s: l%d configured %v, want %v", round, when, i, got, want)
			}
		}
		if len(up) > 0 && (fwd != "1" || !hasSysctl || before != "0") {
			report("round %d, %s: %d tunnels up but ip_forward=%s, sysctl file %v, recorded value %q (want 1, true, \"0\")", round, when, len(up), fwd, hasSysctl, before)
		}
		if len(up) == 0 && (fwd != "0" || hasSysctl || h.exists(ConfigDir)) {
			report("round %d, %s: no tunnel but ip_forward=%s, sysctl file %v, %s left %v (want 0, false, false)", round, when, fwd, hasSysctl, ConfigDir, h.exists(ConfigDir))
		}
		if len(problems) > n {
			h.must("rm -rf " + ConfigDir + " " + SysctlPath + "; sysctl -q -w net.ipv4.ip_forward=0") // start the next round clean
		}
	}
	if got := h.forwarding(); got != "0" {
		t.Fatalf("a new network namespace has ip_forward=%s", got)
	}
	for r := 0; r < rounds; r++ {
		// Four links come up at once: the first ones record the old
		// forwarding value and create the service account.
		parallel(r, "setup", map[int]string{0: setup[0], 1: setup[1], 2: setup[2], 3: setup[3]})
		check(r, "after 4 setups", []int{0, 1, 2, 3})
		// Four go while a fifth comes: whichever teardown finds itself
		// last must not undo the newcomer's forwarding.
		parallel(r, "teardown/setup", map[int]string{0: teardown[0], 1: teardown[1], 2: teardown[2], 3: teardown[3], 4: setup[4]})
		check(r, "after 4 teardowns and a setup", []int{4})
		parallel(r, "teardown", map[int]string{4: teardown[4]})
		check(r, "after the last teardown", nil)
	}
	return problems
}

// TestHostLock: the per-host flock keeps concurrent setups and teardowns of
// different links on one host consistent. It runs the real scripts as root
// on a fake host (see fakeHost), with a stand-in openvpn and a slow sysctl.
// Without the lock (second subtest, the scripts with the flock lines
// removed) the same rounds lose updates: a teardown that saw no tunnel left
// turns forwarding off under a tunnel set up meanwhile, or two first setups
// race on useradd.
func TestHostLock(t *testing.T) {
	needRoot(t, "awk", "mkfifo")
	rounds := 8
	if s := os.Getenv("VT8_ROUNDS"); s != "" {
		fmt.Sscan(s, &rounds)
	}
	t.Run("with the lock", func(t *testing.T) {
		for _, p := range lockRace(t, rounds, func(s string) string { return s }) {
			t.Error(p)
		}
	})
	t.Run("without the lock the race shows", func(t *testing.T) {
		problems := lockRace(t, rounds, withoutLock)
		for _, p := range problems {
			t.Log(p)
		}
		if len(problems) == 0 {
			t.Errorf("%d rounds without the lock showed no inconsistency: this test would not notice a missing lock", rounds)
		}
	})
}
