package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
)

// FaultResult is how the deployment came through one fault.
type FaultResult struct {
	Fault     string
	Recovered bool
	// FirstReply is the time from the end of the fault (or the start of
	// the recovery action) to the first reply through the tunnel.
	FirstReply time.Duration
	Sent, Lost int
	Note       string
}

// FaultWindow is how long the network faults last.
var FaultWindow = 30 * time.Second

// Faults injects, one after the other, the faults a real deployment meets,
// on a lab that is up with the reference topology (a link between two
// sites with terminals), and measures recovery through the tunnel.
func (l *Lab) Faults(ctx context.Context, log io.Writer) ([]FaultResult, error) {
	_, links, err := l.Probes(ctx)
	if err != nil {
		return nil, err
	}
	if len(links) == 0 || links[0].Terminals[0] == nil || links[0].Terminals[1] == nil {
		return nil, errors.New("faults need a link between two sites with terminals")
	}
	link := links[0]
	from, to := link.Terminals[0], link.Terminals[1].PrivateIP
	var results []FaultResult
	add := func(r FaultResult) {
		fmt.Fprintf(log, "[faults] %s: recovered %v, first reply %.2fs, %d/%d lost %s\n", r.Fault, r.Recovered, r.FirstReply.Seconds(), r.Lost, r.Sent, r.Note)
		results = append(results, r)
	}
	// measure pings for the window plus tail, applies the fault at once and
	// lifts it after the window.
	measure := func(name string, tail time.Duration, apply, lift func() error) error {
		p := checks.StartPinger(from, to, 200*time.Millisecond, FaultWindow+tail)
		if err := apply(); err != nil {
			return err
		}
		time.Sleep(FaultWindow)
		if err := lift(); err != nil {
			return err
		}
		lifted := time.Now()
		r, err := p.Wait(ctx)
		if err != nil {
			return err
		}
		first, ok := r.FirstReplyAfter(lifted)
		add(FaultResult{Fault: name, Recovered: ok, FirstReply: first, Sent: r.Sent, Lost: r.Lost()})
		return nil
	}
	a, b := link.VPN[0].PublicIP, link.VPN[1].PublicIP
	if err := measure(fmt.Sprintf("internet path between the VPN instances cut for %s", FaultWindow), 15*time.Second,
		func() error { return checks.CutInternet(l.World, a, b, true) },
		func() error { return checks.CutInternet(l.World, a, b, false) }); err != nil {
		return results, err
	}
	if err := measure(fmt.Sprintf("20%% loss both ways for %s", FaultWindow), 10*time.Second,
		func() error { return checks.InternetLoss(l.World, 20) },
		func() error { return checks.InternetLoss(l.World, 0) }); err != nil {
		return results, err
	}

	// A rebooted VPN instance: nothing but its own boot brings it back.
	{
		p := checks.StartPinger(from, to, 200*time.Millisecond, 30*time.Second)
		start := time.Now()
		if err := l.World.Reboot(ctx, link.VPN[1].Name); err != nil {
			return results, err
		}
		r, err := p.Wait(ctx)
		if err != nil {
			return results, err
		}
		first, ok := r.OutageEnd(start)
		add(FaultResult{Fault: "peer VPN instance rebooted (time: from the reboot to the reply that ends the outage)", Recovered: ok, FirstReply: first, Sent: r.Sent, Lost: r.Lost()})
	}

	// The peer replaced, with a new Elastic IP; `pulumi up` makes the other
	// end follow.
	{
		vpn, eip := link.VPN[1].Name, link.VPN[1].Name+"-eip"
		start := time.Now()
		out, err := l.Pulumi(ctx, "up", "--yes", "--skip-preview", "--replace", l.URN(ctx, vpn), "--replace", l.URN(ctx, eip))
		_, links2, perr := l.Probes(ctx)
		r := FaultResult{Fault: "peer instance and Elastic IP replaced, then `pulumi up`"}
		if err == nil && perr == nil {
			n := links2[0]
			r.Note = fmt.Sprintf("(EIP %s -> %s)", b, n.VPN[1].PublicIP)
			if d, err := checks.TimeToFirstPing(n.Terminals[0], n.Terminals[1].PrivateIP, start, 2*time.Minute); err == nil {
				r.Recovered, r.FirstReply = n.VPN[1].PublicIP != b, d
			}
			link = n
		} else {
			r.Note = fmt.Sprintf("up: %v %v %s", err, perr, lastLines(out, 5))
		}
		add(r)
		from = link.Terminals[0]
	}

	// `pulumi up` interrupted while the setups run: SIGINT, then SIGKILL.
	{
		r := FaultResult{Fault: "`pulumi up` interrupted (SIGINT, then SIGKILL) during the setups, then run again"}
		cmd := l.Command(ctx, "up", "--yes", "--skip-preview", "--replace", l.URN(ctx, link.Name+"-"+siteOf(link, 0)+"-setup"), "--replace", l.URN(ctx, link.Name+"-"+siteOf(link, 1)+"-setup"))
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			return results, err
		}
		waitFor(func() bool {
			return strings.Contains(buf.String(), "-setup creating") || strings.Contains(buf.String(), "-setup deleting")
		}, time.Minute)
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(2 * time.Second)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		start := time.Now()
		err := l.Converge(ctx)
		notes := []string{}
		if err != nil {
			notes = append(notes, err.Error())
		}
		if probs := l.Consistency(ctx); len(probs) > 0 {
			notes = append(notes, probs...)
		}
		if d, perr := checks.TimeToFirstPing(from, to, start, 2*time.Minute); perr == nil && len(notes) == 0 {
			r.Recovered, r.FirstReply = true, d
		}
		r.Note = strings.Join(notes, "; ")
		add(r)
	}

	// Two `pulumi up` at once: the backend's lock refuses the second.
	{
		r := FaultResult{Fault: "two `pulumi up` at once on one stack"}
		first := l.Command(ctx, "up", "--yes", "--skip-preview", "--replace", l.URN(ctx, link.Name+"-"+siteOf(link, 0)+"-check"))
		var b1 strings.Builder
		first.Stdout, first.Stderr = &b1, &b1
		if err := first.Start(); err != nil {
			return results, err
		}
		waitFor(func() bool { return strings.Contains(b1.String(), "Updating") }, 30*time.Second)
		out2, err2 := l.Pulumi(ctx, "up", "--yes", "--skip-preview")
		err1 := first.Wait()
		refused := err2 != nil && strings.Contains(out2, "locked")
		_, err3 := l.Pulumi(ctx, "up", "--yes", "--skip-preview", "--expect-no-changes")
		r.Recovered = refused && err1 == nil && err3 == nil && len(l.Consistency(ctx)) == 0
		r.Note = fmt.Sprintf("(second refused: %v; first: %v; then no changes: %v)", refused, errString(err1), errString(err3))
		add(r)
	}
	return results, nil
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func siteOf(l checks.Link, i int) string {
	return strings.TrimSuffix(l.VPN[i].Name, "-vpn")
}

func waitFor(cond func() bool, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline) && !cond(); {
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// URN is the URN of a resource of the stack by name ("" when absent).
func (l *Lab) URN(ctx context.Context, name string) string {
	out, _ := l.Command(ctx, "stack", "--show-urns").Output()
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "urn:pulumi:") && strings.HasSuffix(f, "::"+name) {
			return f
		}
	}
	return ""
}

// Converge brings the stack back after an interrupted run: release the
// backend's lock, reconcile the state with the world, and `up`.
func (l *Lab) Converge(ctx context.Context) error {
	l.Pulumi(ctx, "cancel", "--yes")
	if out, err := l.Pulumi(ctx, "refresh", "--yes", "--skip-preview", "--clear-pending-creates"); err != nil {
		return fmt.Errorf("refresh: %v: %s", err, lastLines(out, 5))
	}
	if out, err := l.Pulumi(ctx, "up", "--yes", "--skip-preview"); err != nil {
		return fmt.Errorf("up: %v: %s", err, lastLines(out, 5))
	}
	return nil
}

// Consistency compares the stack's AWS resources with the emulated world:
// every resource exists once, nothing exists outside the stack, and every
// tunnel key and configuration on the VPN instances is whole.
func (l *Lab) Consistency(ctx context.Context) []string {
	out, err := l.Command(ctx, "stack", "export").Output()
	if err != nil {
		return []string{"stack export: " + err.Error()}
	}
	m, err := l.World.Load()
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	inStack := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, `"id": "`) {
			inStack[strings.TrimSuffix(strings.TrimPrefix(line, `"id": "`), `",`)]++
		}
	}
	ids := m.IDs()
	for id := range ids {
		if inStack[id] == 0 {
			problems = append(problems, "orphan in the emulated AWS: "+id)
		}
	}
	for id, n := range inStack {
		if n > 1 && strings.Contains(id, "-") && awsID(id) {
			problems = append(problems, fmt.Sprintf("%s appears %d times in the state", id, n))
		}
		if awsID(id) && !ids[id] {
			problems = append(problems, "in the state but not in the emulated AWS: "+id)
		}
	}
	for _, inst := range m.Instances {
		h := inst.Host
		check := `cd /etc/openvpn/vpclink 2>/dev/null || exit 0
for k in *.key; do case $k in *.tls.key) continue;; esac; [ -e "$k" ] || continue
  [ "$(wc -l <"$k")" -eq 18 ] && [ "$(sed -n 2,17p "$k" | grep -cE '^[0-9a-f]{32}$')" -eq 16 ] || echo "half-written $k"
done
for c in *.conf; do [ -e "$c" ] || continue; grep -q '^mssfix ' "$c" || echo "half-written $c"; done
ls -a | grep -E '^\.(key|vpclink)\.' | sed 's/^/temporary file left: /'`
		if out, err := h.Exec("bash", "-c", check); err != nil || strings.TrimSpace(out) != "" {
			problems = append(problems, fmt.Sprintf("%s: %v %s", inst.Name, err, strings.TrimSpace(out)))
		}
	}
	return problems
}

func awsID(id string) bool {
	for _, k := range awsmodel.Kinds {
		if strings.HasPrefix(id, k.IDPrefix+"-") {
			return true
		}
	}
	return false
}

// FaultTable prints the results as a table.
func FaultTable(w io.Writer, results []FaultResult) {
	fmt.Fprintf(w, "%-90s %-9s %-12s %s\n", "fault", "recovered", "first reply", "lost/sent")
	for _, r := range results {
		rec := "yes"
		if !r.Recovered {
			rec = "NO"
		}
		lost := "-"
		if r.Sent > 0 {
			lost = fmt.Sprintf("%d/%d", r.Lost, r.Sent)
		}
		fmt.Fprintf(w, "%-90s %-9s %-12s %s %s\n", r.Fault, rec, fmt.Sprintf("%.2f s", r.FirstReply.Seconds()), lost, r.Note)
	}
}
