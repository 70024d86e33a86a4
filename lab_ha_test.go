package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/components/openvpn"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/driver"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// haSite is one HA site of a lab as the test drives it.
type haSite struct {
	name, vpc, table, dest string
	// primary and secondary are the VPN instances' ENIs.
	primary, secondary  string
	vpn, vpn2, terminal *world.Host
	publicIP, publicIP2 string
}

// haSites reads the two sites of testdata/Pulumi.lab-ha.yaml from the
// stack outputs and the lab's world.
func haSites(t *testing.T, l *driver.Lab) [2]*haSite {
	t.Helper()
	outs, err := l.Outputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.World.Load()
	if err != nil {
		t.Fatal(err)
	}
	host := func(name string) *world.Host {
		inst := m.InstanceByName(name)
		if inst == nil {
			t.Fatalf("no instance %s in the lab", name)
		}
		h := inst.Host
		h.PublicIP = m.PublicIPOf(inst)
		return &h
	}
	sites, _ := outs["sites"].(map[string]any)
	var out [2]*haSite
	for i, n := range []string{"a", "b"} {
		s, _ := sites[n].(map[string]any)
		str := func(k string) string {
			v, _ := s[k].(string)
			if v == "" {
				t.Fatalf("site %s: no output %s", n, k)
			}
			return v
		}
		out[i] = &haSite{
			name: n, vpc: map[string]string{"a": "10.0.0.0/16", "b": "10.1.0.0/16"}[n],
			table: str("routeTableId"), primary: str("vpnNetworkInterfaceId"), secondary: str("secondaryVpnNetworkInterfaceId"),
			vpn: host(n + "-vpn"), vpn2: host(n + "-vpn2"), terminal: host(n + "-terminal"),
			publicIP: str("vpnPublicIp"), publicIP2: str("secondaryVpnPublicIp"),
		}
	}
	out[0].dest, out[1].dest = out[1].vpc, out[0].vpc
	return out
}

// targets returns, per site, the ENI its route table sends the peer's VPC
// to, as the emulated AWS has it now.
func targets(l *driver.Lab, sites [2]*haSite) ([2]string, error) {
	var out [2]string
	m, err := l.World.Load()
	if err != nil {
		return out, err
	}
	for i, s := range sites {
		for _, r := range m.Routes {
			if r.Table == s.table && r.Dest == s.dest {
				out[i] = r.ENI
			}
		}
	}
	return out, nil
}

// timeline records every change of the two routes' targets.
type timeline struct {
	mu      sync.Mutex
	changes [2][]string
	stop    chan struct{}
	done    chan struct{}
}

func watchTargets(l *driver.Lab, sites [2]*haSite) *timeline {
	tl := &timeline{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tl.done)
		var last [2]string
		for {
			if now, err := targets(l, sites); err == nil {
				tl.mu.Lock()
				for i := range now {
					if now[i] != last[i] {
						tl.changes[i] = append(tl.changes[i], now[i])
						last[i] = now[i]
					}
				}
				tl.mu.Unlock()
			}
			select {
			case <-tl.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return tl
}

func (tl *timeline) end() [2][]string {
	close(tl.stop)
	<-tl.done
	return tl.changes
}

// waitTargets waits until both routes point at want (per site), up to d.
func waitTargets(t *testing.T, l *driver.Lab, sites [2]*haSite, want [2]string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, err := targets(l, sites)
		if err == nil && got == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("routes still at %v after %v, want %v", got, d, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transitionLog is one monitor line: its own timestamp and text.
var transitionLog = regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (link .*)$`)

// monitorLine is one line a monitor logged about a link.
type monitorLine struct {
	host, text string
	at         time.Time
}

func (m monitorLine) String() string {
	return m.host + ": " + m.at.Format("15:04:05.000") + " " + m.text
}

// monitorLines returns the monitor's log lines on h logged at or after
// since, with their timestamps.
func monitorLines(h *world.Host, since time.Time) []monitorLine {
	out, _ := h.Exec("journalctl", "-u", openvpn.MonitorUnit, "--no-pager", "-o", "cat")
	var lines []monitorLine
	for _, m := range transitionLog.FindAllStringSubmatch(out, -1) {
		at, err := time.Parse("2006-01-02T15:04:05.000Z", m[1])
		if err == nil && !at.Before(since.Add(-time.Millisecond)) {
			lines = append(lines, monitorLine{h.Name, m[2], at})
		}
	}
	return lines
}

// TestLabHighAvailability deploys two sites with high availability and
// fails the first path four ways: the first VPN instance of site a
// stopped (EC2 StopInstances), OpenVPN hung on it (SIGSTOP: the process
// lives, so systemd does not restart it), OpenVPN killed on it (SIGKILL:
// systemd starts it again after 5 s), and the path between the first
// instances cut on the emulated internet. Each time pings from terminal a
// to terminal b resume through the second instances, and after the path
// is restored the routes move back once, after the hold-down. It prints
// per failover the detection time, the API calls and the ping gap (numbers,
// not assertions: timing on a shared machine is not a pass/fail matter).
func TestLabHighAvailability(t *testing.T) {
	t.Parallel()
	l, _ := newLab(t, "testdata/Pulumi.lab-ha.yaml")
	start := time.Now()
	assertNoWarnings(t, "up", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	t.Logf("up, 2 HA sites: %.1fs", time.Since(start).Seconds())
	walkthrough(t, l, 2)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	s := haSites(t, l)
	a, b := s[0], s[1]
	primary, secondary := [2]string{a.primary, b.primary}, [2]string{a.secondary, b.secondary}
	if got, err := targets(l, s); err != nil || got != primary {
		t.Fatalf("a fresh stack's routes: %v %v, want the first instances' %v", got, err, primary)
	}
	holdDown := 10 * time.Second // testdata/Pulumi.lab-ha.yaml

	// A request signed with another site's credentials is refused, and
	// the route stays; the same credentials may read their own table.
	crossSite(t, l, a, b)

	unit := openvpn.ServiceName("a-b")
	scenarios := []struct {
		name          string
		fail, restore func() error
		// whileDown runs while the routes are on the second instances.
		whileDown func()
		// ping is how long the pinger runs: the whole scenario.
		ping time.Duration
		// heals: the failure ends by itself (restore does nothing), so
		// the hold-down runs from then, not from the restore.
		heals bool
	}{
		{
			name:    "first VPN instance of a stopped",
			fail:    func() error { return l.World.StopInstance("a-vpn") },
			restore: func() error { return l.World.StartInstance("a-vpn") },
			ping:    70 * time.Second,
			whileDown: func() {
				// The program leaves the monitor's routes alone. (It waits
				// SSHProbePatience for the stopped instance's SSH, then
				// warns.)
				start := time.Now()
				runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
				t.Logf("up --expect-no-changes with a-vpn stopped: %.1fs", time.Since(start).Seconds())
			},
		},
		{
			name: "OpenVPN hung on a's first VPN instance (SIGSTOP)",
			fail: func() error {
				_, err := a.vpn.Exec("bash", "-c", `kill -STOP "$(systemctl show -p MainPID --value "$1")"`, "hang", unit)
				return err
			},
			restore: func() error {
				_, err := a.vpn.Exec("bash", "-c", `kill -CONT "$(systemctl show -p MainPID --value "$1")"`, "resume", unit)
				return err
			},
			ping: 40 * time.Second,
		},
		{
			// systemd starts it again after the unit's RestartSec (5 s).
			name: "OpenVPN killed on a's first VPN instance (SIGKILL)",
			fail: func() error {
				_, err := a.vpn.Exec("bash", "-c", `kill -KILL "$(systemctl show -p MainPID --value "$1")"`, "kill", unit)
				return err
			},
			restore: func() error { return nil },
			ping:    40 * time.Second,
			heals:   true,
		},
		{
			name:    "internet path between the first VPN instances cut",
			fail:    func() error { return l.World.CutPath(a.publicIP, b.publicIP) },
			restore: func() error { return l.World.RestorePath(a.publicIP, b.publicIP) },
			ping:    40 * time.Second,
		},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "| failure | detection (first monitor's transition) | API calls of the failover, every monitor (D DescribeRouteTables, R ReplaceRoute) | ping gap a->b | failback gap | route moves a, b |\n|---|---|---|---|---|---|\n")
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			pinger := checks.StartPinger(a.terminal, b.terminal.PrivateIP, 200*time.Millisecond, sc.ping)
			tl := watchTargets(l, s)
			time.Sleep(2 * time.Second)
			t0 := time.Now()
			if err := sc.fail(); err != nil {
				t.Fatalf("fail: %v", err)
			}
			moved := waitTargets(t, l, s, secondary, 30*time.Second)
			time.Sleep(time.Second)
			// Through the second instances: their addresses and the second
			// tunnel's far end.
			hops, err := checks.Traceroute(a.terminal, b.terminal.PrivateIP)
			if want := []string{"10.0.2.10", "10.254.0.130", b.terminal.PrivateIP}; err != nil || strings.Join(hops, " ") != strings.Join(want, " ") {
				t.Errorf("traceroute after failover: %v %v, want %v", hops, err, want)
			}
			if sc.whileDown != nil {
				sc.whileDown()
			}
			t1 := time.Now()
			if err := sc.restore(); err != nil {
				t.Fatalf("restore: %v", err)
			}
			back := waitTargets(t, l, s, primary, holdDown+30*time.Second)
			if back < holdDown && !sc.heals {
				t.Errorf("failback %v after the restore, before the hold-down %v", back, holdDown)
			}
			time.Sleep(3 * time.Second)
			changes := tl.end()
			res, err := pinger.Wait(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// No flap: each route moved to the second instance once and
			// back once.
			for i, site := range s {
				if want := []string{primary[i], secondary[i], primary[i]}; strings.Join(changes[i], " ") != strings.Join(want, " ") {
					t.Errorf("site %s's route moved %v, want exactly %v", site.name, changes[i], want)
				}
			}
			gap, ok := res.OutageEnd(t0)
			if !ok {
				t.Fatalf("no ping reply after the failure")
			}
			failback, _ := res.OutageEnd(t1)
			failbackGap := failback - back
			if failbackGap < 0 {
				failbackGap = 0
			}
			var lines []monitorLine
			for _, h := range []*world.Host{a.vpn, a.vpn2, b.vpn, b.vpn2} {
				lines = append(lines, monitorLines(h, t0)...)
			}
			slices.SortStableFunc(lines, func(x, y monitorLine) int { return x.at.Compare(y.at) })
			var shown []string
			detection := "?"
			// The calls of the failover (before the restore): D for
			// DescribeRouteTables, R for ReplaceRoute.
			var api []string
			call := regexp.MustCompile(`(DescribeRouteTables) ok \((\d+) ms\)|\((ReplaceRoute|CreateRoute) (\d+) ms\)`)
			for _, line := range lines {
				shown = append(shown, line.String())
				if detection == "?" && strings.Contains(line.text, "-> secondary") {
					detection = fmt.Sprintf("%.2f s", line.at.Sub(t0).Seconds())
				}
				if m := call.FindStringSubmatch(line.text); m != nil && line.at.Before(t1) {
					api = append(api, map[string]string{"DescribeRouteTables": "D", "ReplaceRoute": "R", "CreateRoute": "C"}[m[1]+m[3]]+" "+m[2]+m[4])
				}
			}
			t.Logf("%s: routes on the second instances %.1fs after the failure, back %.1fs after the restore; monitors:\n%s",
				sc.name, moved.Seconds(), back.Seconds(), strings.Join(shown, "\n"))
			fmt.Fprintf(&report, "| %s | %s | %s ms | %.2f s | %.2f s | %d, %d |\n", sc.name, detection, strings.Join(api, ", "),
				gap.Seconds(), failbackGap.Seconds(), len(changes[0])-1, len(changes[1])-1)
			if res.Lost() > 0 {
				t.Logf("%d of %d pings lost", res.Lost(), res.Sent)
			}
		})
	}
	t.Logf("failover (hold-down %v):\n%s", holdDown, report.String())
	walkthrough(t, l, 2)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	assertNoWarnings(t, "destroy", runPulumi(t, l, "destroy", "--yes", "--skip-preview"))
	assertDestroyed(t, l)
}

// crossSite: site b's instance role cannot change site a's route table
// (UnauthorizedOperation from the emulated EC2 API, which checks the
// signature and the role's policy), and a's route stays; b's credentials
// may read b's own table. The credentials never leave b's VPN instance.
func crossSite(t *testing.T, l *driver.Lab, a, b *haSite) {
	t.Helper()
	call := func(region, body string) string {
		script := `set -eu
T=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
H="X-aws-ec2-metadata-token: $T"
R=$(curl -sf -H "$H" http://169.254.169.254/latest/meta-data/iam/security-credentials/)
J=$(curl -sf -H "$H" "http://169.254.169.254/latest/meta-data/iam/security-credentials/$R")
f() { printf '%s\n' "$J" | grep -o "\"$1\" *: *\"[^\"]*\"" | cut -d'"' -f4; }
printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$(f AccessKeyId)" "$(f SecretAccessKey)" "$(f Token)" |
  curl -s -K - --aws-sigv4 "aws:amz:$1:ec2" -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
    --data "$2" "https://ec2.$1.amazonaws.com/"`
		out, err := b.vpn.Exec("bash", "-c", script, "cross-site", region, body)
		if err != nil {
			t.Fatalf("signed request from b's VPN instance: %v\n%s", err, out)
		}
		return out
	}
	out := call("eu-west-1", fmt.Sprintf("Action=ReplaceRoute&Version=2016-11-15&RouteTableId=%s&DestinationCidrBlock=%s&NetworkInterfaceId=%s", a.table, a.dest, a.secondary))
	if !strings.Contains(out, "<Code>UnauthorizedOperation</Code>") {
		t.Errorf("site b's credentials on site a's route table: %s, want UnauthorizedOperation", out)
	}
	if got, err := targets(l, [2]*haSite{a, b}); err != nil || got[0] != a.primary {
		t.Errorf("site a's route after b's refused request: %v %v", got, err)
	}
	own := call("sa-east-1", fmt.Sprintf("Action=DescribeRouteTables&Version=2016-11-15&RouteTableId.1=%s", b.table))
	if !strings.Contains(own, "<routeTableId>"+b.table+"</routeTableId>") {
		t.Errorf("site b's credentials on its own table: %s", own)
	}
	t.Logf("b's role on a's table: %s", regexp.MustCompile(`<Code>[^<]*</Code>`).FindString(out))
}

// TestLabHighAvailabilityDay2 turns high availability on for a deployed
// reference stack and off again: on creates the second instances, tunnel,
// IAM and monitors and changes the first instances in place (their
// instance profile), replacing nothing; a failover then works; off, while
// failed over, moves the routes back to the first instances and deletes
// what on created, and the walk-through passes once the path is back.
func TestLabHighAvailabilityDay2(t *testing.T) {
	t.Parallel()
	l, _ := newLab(t, "Pulumi.dev.yaml")
	assertNoWarnings(t, "up", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	walkthrough(t, l, 2)

	second := map[string][2]string{"0": {"10.0.2.0/24", "10.0.2.10"}, "1": {"10.1.2.0/24", "10.1.2.20"}}
	runPulumi(t, l, "config", "set", "vpclink:highAvailability", "true")
	runPulumi(t, l, "config", "set", "vpclink:failbackHoldDownSeconds", "10")
	for i, v := range second {
		runPulumi(t, l, "config", "set", "--path", "vpclink:sites["+i+"].secondaryVpnSubnetCidr", v[0])
		runPulumi(t, l, "config", "set", "--path", "vpclink:sites["+i+"].secondaryVpnPrivateIp", v[1])
	}
	steps := previewSteps(t, l)
	for name, op := range steps {
		check := strings.HasSuffix(name, "-check")
		if strings.Contains(op, "replace") || strings.Contains(op, "delete") || op == "update" && !check && name != "a-vpn" && name != "b-vpn" {
			t.Errorf("turning HA on: %s would %s", name, op)
		}
	}
	for _, name := range []string{"a-vpn2", "b-vpn2", "a-b-secondary-a-setup", "a-monitor-role", "b-vpn-monitor"} {
		if steps[name] != "create" {
			t.Errorf("turning HA on: %s: %q, want create", name, steps[name])
		}
	}
	start := time.Now()
	assertNoWarnings(t, "up turning HA on", runPulumi(t, l, "up", "--yes", "--skip-preview"))
	t.Logf("up turning HA on: %.1fs", time.Since(start).Seconds())
	walkthrough(t, l, 2)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	s := haSites(t, l)
	if err := l.World.StopInstance("a-vpn"); err != nil {
		t.Fatal(err)
	}
	d := waitTargets(t, l, s, [2]string{s[0].secondary, s[1].secondary}, 30*time.Second)
	if !pingOK(s[0].terminal, s[1].terminal.PrivateIP) {
		t.Errorf("no ping a -> b through the second instances")
	}
	t.Logf("a-vpn stopped: routes on the second instances after %.1fs", d.Seconds())
	if err := l.World.StartInstance("a-vpn"); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, l, s, [2]string{s[0].primary, s[1].primary}, 60*time.Second)

	// Turned off while failed over (the first instances' path cut): the
	// monitors' removal moves the routes back to the first instances,
	// which stay, before the second ones are deleted; the instance
	// profile is already gone then, so with the credentials the monitor
	// kept.
	if err := l.World.CutPath(s[0].publicIP, s[1].publicIP); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, l, s, [2]string{s[0].secondary, s[1].secondary}, 30*time.Second)
	runPulumi(t, l, "config", "rm", "vpclink:highAvailability")
	runPulumi(t, l, "config", "rm", "vpclink:failbackHoldDownSeconds")
	for i := range second {
		runPulumi(t, l, "config", "rm", "--path", "vpclink:sites["+i+"].secondaryVpnSubnetCidr")
		runPulumi(t, l, "config", "rm", "--path", "vpclink:sites["+i+"].secondaryVpnPrivateIp")
	}
	for name, op := range previewSteps(t, l) {
		if strings.Contains(op, "replace") || op == "create" {
			t.Errorf("turning HA off: %s would %s", name, op)
		}
	}
	out := runPulumi(t, l, "up", "--yes", "--skip-preview")
	assertNoWarnings(t, "up turning HA off", out)
	if got, err := targets(l, s); err != nil || got != [2]string{s[0].primary, s[1].primary} {
		t.Errorf("after turning HA off while failed over: routes at %v %v, want the first instances' %v", got, err, [2]string{s[0].primary, s[1].primary})
	}
	if err := l.World.RestorePath(s[0].publicIP, s[1].publicIP); err != nil {
		t.Fatal(err)
	}
	if _, err := checks.TimeToFirstPing(s[0].terminal, s[1].terminal.PrivateIP, time.Now(), 60*time.Second); err != nil {
		t.Fatalf("a -> b after the path was restored: %v", err)
	}
	walkthrough(t, l, 2)
	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")
	m, err := l.World.Load()
	if err != nil {
		t.Fatal(err)
	}
	if m.InstanceByName("a-vpn2") != nil || len(m.Roles) != 0 {
		t.Errorf("HA off left a second instance or a role: %v, %d roles", m.InstanceByName("a-vpn2") != nil, len(m.Roles))
	}
	assertNoWarnings(t, "destroy", runPulumi(t, l, "destroy", "--yes", "--skip-preview"))
	assertDestroyed(t, l)
}
