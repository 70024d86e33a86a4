package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/boot"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/image"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// The change matrix: configuration changes a user makes to a deployed
// stack, each applied with `pulumi config` on the lab that is up with the
// reference topology, previewed, deployed with `pulumi up` while a pinger
// runs through the tunnel, then checked (walk-through, `up
// --expect-no-changes`). Each Change is a group of steps that starts and
// ends at the reference configuration, so groups are independent of each
// other and any subset can run.

// Edit is one `pulumi config` command on the lab's stack (always --path).
type Edit struct {
	// Path is the full key, e.g. vpclink:sites[0].availabilityZone.
	Path string
	// Value is the new value; a placeholder in braces is resolved when the
	// step runs (see resolve): {ami:a}, {sshPublicKey}, {sshPrivateKey}.
	Value string
	// Remove runs `config rm` instead of `config set`.
	Remove bool
	// Secret sets the value with --secret, given on stdin.
	Secret bool
}

func set(path, value string) Edit { return Edit{Path: "vpclink:" + path, Value: value} }
func rm(path string) Edit         { return Edit{Path: "vpclink:" + path, Remove: true} }
func secret(path, value string) Edit {
	return Edit{Path: "vpclink:" + path, Value: value, Secret: true}
}

// Step is one row of the matrix.
type Step struct {
	// Name says what changes, from what to what.
	Name  string
	Edits []Edit
	// Refused, when set, is the config key `preview` must name in its
	// error: the step is not deployed and the stack must keep its
	// resources; the group's end restores the configuration.
	Refused string
}

// Change is a group of steps that leaves the configuration as it found it
// (the reference one): a change, then its reverse as a row of its own.
type Change struct {
	Name  string
	Steps []Step
}

// siteC is a third site in a third region, as a user adds one: its
// fields, and a link to each of the two others (a full mesh, default
// ports and tunnel addresses).
var siteC = []Edit{
	set("sites[2].name", "c"), set("sites[2].region", "us-east-1"), set("sites[2].vpcCidr", "10.2.0.0/16"),
	set("sites[2].vpnSubnetCidr", "10.2.0.0/24"), set("sites[2].terminalSubnetCidr", "10.2.1.0/24"),
	set("sites[2].vpnPrivateIp", "10.2.0.30"), set("sites[2].terminalPrivateIp", "10.2.1.50"),
	set("links[1].sites[0]", "a"), set("links[1].sites[1]", "c"),
	set("links[2].sites[0]", "b"), set("links[2].sites[1]", "c"),
}

// pair is a change and its reverse.
func pair(name, forward, back string, do, undo []Edit) Change {
	return Change{Name: name, Steps: []Step{{Name: name + " " + forward, Edits: do}, {Name: name + " " + back, Edits: undo}}}
}

// Changes is the whole matrix, in the order it runs.
var Changes = []Change{
	pair("instanceType", "t3.micro -> t3.small", "t3.small -> t3.micro",
		[]Edit{set("instanceType", "t3.small")}, []Edit{rm("instanceType")}),
	pair("instanceType across architectures", "t3.micro -> t4g.micro", "t4g.micro -> t3.micro",
		[]Edit{set("instanceType", "t4g.micro")}, []Edit{rm("instanceType")}),
	{Name: "availabilityZone (site a)", Steps: []Step{
		{Name: "availabilityZone a: none -> eu-west-1b", Edits: []Edit{set("sites[0].availabilityZone", "eu-west-1b")}},
		{Name: "availabilityZone a: eu-west-1b -> eu-west-1c", Edits: []Edit{set("sites[0].availabilityZone", "eu-west-1c")}},
		{Name: "availabilityZone a: eu-west-1c -> none", Edits: []Edit{rm("sites[0].availabilityZone")}},
	}},
	pair("vpnSubnetCidr a (disjoint, vpnPrivateIp moved into it)", "10.0.0.0/24 -> 10.0.2.0/24", "10.0.2.0/24 -> 10.0.0.0/24",
		[]Edit{set("sites[0].vpnSubnetCidr", "10.0.2.0/24"), set("sites[0].vpnPrivateIp", "10.0.2.10")},
		[]Edit{set("sites[0].vpnSubnetCidr", "10.0.0.0/24"), set("sites[0].vpnPrivateIp", "10.0.0.10")}),
	pair("terminalSubnetCidr a (overlapping, same terminal IP)", "10.0.1.0/24 -> 10.0.1.0/25", "10.0.1.0/25 -> 10.0.1.0/24",
		[]Edit{set("sites[0].terminalSubnetCidr", "10.0.1.0/25")}, []Edit{set("sites[0].terminalSubnetCidr", "10.0.1.0/24")}),
	pair("vpnPrivateIp a", "10.0.0.10 -> 10.0.0.11", "10.0.0.11 -> 10.0.0.10",
		[]Edit{set("sites[0].vpnPrivateIp", "10.0.0.11")}, []Edit{set("sites[0].vpnPrivateIp", "10.0.0.10")}),
	pair("terminalPrivateIp b", "10.1.1.40 -> 10.1.1.41", "10.1.1.41 -> 10.1.1.40",
		[]Edit{set("sites[1].terminalPrivateIp", "10.1.1.41")}, []Edit{set("sites[1].terminalPrivateIp", "10.1.1.40")}),
	{Name: "vpnPrivateIp a to an address AWS reserves", Steps: []Step{
		{Name: "vpnPrivateIp a: 10.0.0.10 -> 10.0.0.1 (reserved)", Edits: []Edit{set("sites[0].vpnPrivateIp", "10.0.0.1")}, Refused: "vpclink:sites[0].vpnPrivateIp"},
	}},
	pair("ami (both sites)", "looked up -> pinned to the image in use", "pinned -> looked up",
		[]Edit{set("sites[0].ami", "{ami:a}"), set("sites[1].ami", "{ami:b}")}, []Edit{rm("sites[0].ami"), rm("sites[1].ami")}),
	pair("os (all sites)", "ubuntu-24.04 -> ubuntu-26.04", "ubuntu-26.04 -> ubuntu-24.04",
		[]Edit{set("os", "ubuntu-26.04")}, []Edit{rm("os")}),
	pair("terminal b", "on -> off", "off -> on",
		[]Edit{set("sites[1].terminal", "false")}, []Edit{rm("sites[1].terminal")}),
	pair("site c (us-east-1, links to a and b)", "added", "removed",
		siteC, []Edit{rm("links[2]"), rm("links[1]"), rm("sites[2]")}),
	pair("link port", "1194 -> 1200", "1200 -> 1194",
		[]Edit{set("links[0].port", "1200")}, []Edit{set("links[0].port", "1194")}),
	pair("link tunnelAddresses", "10.254.0.1/.2 -> 10.254.100.1/.2", "10.254.100.1/.2 -> 10.254.0.1/.2",
		[]Edit{set("links[0].tunnelAddresses[0]", "10.254.100.1"), set("links[0].tunnelAddresses[1]", "10.254.100.2")},
		[]Edit{set("links[0].tunnelAddresses[0]", "10.254.0.1"), set("links[0].tunnelAddresses[1]", "10.254.0.2")}),
	pair("link mode", "tls -> static", "static -> tls",
		[]Edit{set("links[0].mode", "static")}, []Edit{rm("links[0].mode")}),
	pair("tunnelMtu", "1400 -> 1300", "1300 -> 1400",
		[]Edit{set("tunnelMtu", "1300")}, []Edit{rm("tunnelMtu")}),
	pair("sshAllowedCidrs", "+ 192.0.2.0/24", "- 192.0.2.0/24",
		[]Edit{set("sshAllowedCidrs[1]", "192.0.2.0/24")}, []Edit{rm("sshAllowedCidrs[1]")}),
	pair("SSH key pair", "generated -> operator's own", "operator's own -> generated",
		[]Edit{set("sshPublicKey", "{sshPublicKey}"), secret("sshPrivateKey", "{sshPrivateKey}")},
		[]Edit{rm("sshPublicKey"), rm("sshPrivateKey")}),
	pair("postDeployCheck", "true -> false", "false -> true",
		[]Edit{set("postDeployCheck", "false")}, []Edit{rm("postDeployCheck")}),
}

// SelectChanges returns the changes with a step (or the change itself)
// whose name matches re; nil re selects all.
func SelectChanges(all []Change, re *regexp.Regexp) []Change {
	if re == nil {
		return all
	}
	var out []Change
	for _, c := range all {
		match := re.MatchString(c.Name)
		for _, s := range c.Steps {
			match = match || re.MatchString(s.Name)
		}
		if match {
			out = append(out, c)
		}
	}
	return out
}

// Outcomes of a step.
const (
	Converged = "converged"
	Refused   = "refused"
	Failed    = "FAILED"
	Skipped   = "skipped"
)

// MatrixResult is one row of the matrix.
type MatrixResult struct {
	Change, Step string
	// What the preview announced: replaced resources by name, and counts.
	Replaced                  []string
	Updated, Created, Deleted int
	// Up is the wall time of `pulumi up`.
	Up time.Duration
	// Ping is what the pinger saw during the up (nil: none ran, see Note).
	Ping *PingStats
	// Warnings counts lines with "warning:" in the up's output.
	Warnings int
	// Outcome is Converged, Refused, Failed or Skipped; Err the first line
	// of the error when Failed.
	Outcome, Err string
	Note         string
}

// OK reports whether the step did what the matrix expects of it: it
// converged (checks and `up --expect-no-changes` passed) or was refused
// as expected.
func (r MatrixResult) OK() bool { return r.Outcome == Converged || r.Outcome == Refused }

func (r *MatrixResult) fail(format string, args ...any) {
	r.Outcome, r.Err = Failed, fmt.Sprintf(format, args...)
}

func (r *MatrixResult) note(s string) {
	if r.Note != "" {
		r.Note += "; "
	}
	r.Note += s
}

// PingInterval is the matrix pinger's interval.
const PingInterval = 200 * time.Millisecond

// UpTimeout bounds each `pulumi up` of the matrix (interrupted after it).
var UpTimeout = 10 * time.Minute

// Matrix runs changes one after the other on a lab that is up with the
// reference topology and returns a row per step. Progress and the CLI's
// output go to the lab's log, a line per finished step to log. The error
// is for what stops the matrix itself (the lab unusable), not for a step
// that fails: that is a row.
func (l *Lab) Matrix(ctx context.Context, changes []Change, log io.Writer) ([]MatrixResult, error) {
	reference, err := os.ReadFile(l.ConfigFile())
	if err != nil {
		return nil, err
	}
	m := &matrixRun{l: l, reference: reference}
	defer m.cleanup()
	var results []MatrixResult
	for _, c := range changes {
		deployed, failed, refused := false, false, false
		for _, s := range c.Steps {
			if failed {
				results = append(results, MatrixResult{Change: c.Name, Step: s.Name, Outcome: Skipped, Note: "an earlier step of the group failed"})
				continue
			}
			start := time.Now()
			r := m.step(ctx, c.Name, s)
			deployed = deployed || s.Refused == ""
			refused = refused || s.Refused != ""
			failed = !r.OK()
			fmt.Fprintf(log, "[matrix] %s: %s %s (%.0f s)\n", s.Name, r.Outcome, r.Err, time.Since(start).Seconds())
			results = append(results, r)
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
		}
		// Back to the reference configuration (and stack) for the next group.
		same, err := m.configIsReference()
		if err != nil {
			return results, err
		}
		if same && !failed {
			continue
		}
		if !same && !failed && !refused {
			results[len(results)-1].note("the group did not end at the reference configuration (the matrix's data is wrong)")
		}
		if err := os.WriteFile(l.ConfigFile(), reference, 0o600); err != nil {
			return results, err
		}
		if deployed {
			start := time.Now()
			note := "reference restored"
			if err := m.restore(ctx); err != nil {
				note = "RESTORE FAILED (later rows may fail for it): " + err.Error()
			}
			results[len(results)-1].note(fmt.Sprintf("%s in %.0f s", note, time.Since(start).Seconds()))
			fmt.Fprintf(log, "[matrix] %s: %s\n", c.Name, note)
		}
	}
	return results, nil
}

type matrixRun struct {
	l         *Lab
	reference []byte
	keyDir    string
}

func (m *matrixRun) cleanup() {
	if m.keyDir != "" {
		os.RemoveAll(m.keyDir)
	}
}

// configIsReference tells whether the lab's stack configuration holds the
// reference's values (the file's form may differ).
func (m *matrixRun) configIsReference() (bool, error) {
	now, err := os.ReadFile(m.l.ConfigFile())
	if err != nil {
		return false, err
	}
	var a, b any
	if err := yaml.Unmarshal(now, &a); err != nil {
		return false, err
	}
	if err := yaml.Unmarshal(m.reference, &b); err != nil {
		return false, err
	}
	return reflect.DeepEqual(a, b), nil
}

// restore brings the stack back to the reference configuration after a
// failed step: `up`, and if that fails, release the lock, refresh and up.
func (m *matrixRun) restore(ctx context.Context) error {
	if _, err := m.l.pulumiTimeout(ctx, UpTimeout, "up", "--yes", "--skip-preview"); err == nil {
		return nil
	}
	return m.l.Converge(ctx)
}

// step runs one row: edits, preview, up with the pinger, checks, and
// `up --expect-no-changes`.
func (m *matrixRun) step(ctx context.Context, change string, s Step) MatrixResult {
	l := m.l
	r := MatrixResult{Change: change, Step: s.Name}
	l.logf("matrix: %s", s.Name)
	before := -1
	if s.Refused != "" {
		before, _ = l.resourceCount(ctx)
	}
	for _, e := range s.Edits {
		if err := m.apply(ctx, e); err != nil {
			r.fail("%v", err)
			return r
		}
	}
	if err := l.regionImages(ctx); err != nil {
		r.fail("%v", err)
		return r
	}

	out, err := l.previewJSON(ctx)
	p, perr := ParsePreview(out)
	if s.Refused != "" {
		after, _ := l.resourceCount(ctx)
		msg := p.Error
		switch {
		case err == nil:
			r.fail("preview accepted the change; want a refusal naming %s", s.Refused)
		case !strings.Contains(msg, s.Refused):
			r.fail("preview failed without naming %s: %s", s.Refused, FirstError(msg+"\n"+string(out)))
		case before != after || before < 0:
			r.fail("the stack had %d resources before the refused change and %d after", before, after)
		default:
			r.Outcome, r.Err = Refused, FirstError(msg)
		}
		return r
	}
	if err != nil || perr != nil {
		r.fail("preview: %s", FirstError(p.Error+"\n"+string(out)+fmt.Sprint(perr)))
		return r
	}
	r.Replaced, r.Updated, r.Created, r.Deleted = p.Replaced, p.Updated, p.Created, p.Deleted

	// The pinger runs from terminal a to terminal b of the first link,
	// unless the change replaces or removes either of them.
	var pinger *bgPing
	from, to, why := l.pingEnds(ctx, p)
	if why != "" {
		r.note("no pinger: " + why)
	} else if pinger, err = startPing(from, to.PrivateIP); err != nil {
		r.note("no pinger: " + err.Error())
		pinger = nil
	}

	start := time.Now()
	upOut, upErr := l.pulumiTimeout(ctx, UpTimeout, "up", "--yes", "--skip-preview")
	r.Up = time.Since(start)
	upEnd := time.Now()
	r.Warnings = CountWarnings(upOut)
	if pinger != nil {
		st, err := pinger.stop()
		if err != nil {
			r.note("pinger: " + err.Error())
		} else {
			r.Ping = &st
		}
	}
	if upErr != nil {
		r.fail("up: %s", FirstError(upOut))
		return r
	}

	probes, _, err := l.Probes(ctx)
	if err != nil {
		r.fail("checks: %v", err)
		return r
	}
	var report strings.Builder
	if failed := checks.Report(&report, probes); failed > 0 {
		l.logf("matrix: %s: walk-through checks:\n%s", s.Name, report.String())
		r.fail("walk-through: %d of %d checks failed: %s", failed, len(probes), firstFailedProbe(probes))
		// Does the tunnel come back by itself, later than `up` returned?
		for _, p := range probes {
			if !p.OK() {
				if d, err := checks.TimeToFirstPing(p.From, p.To.PrivateIP, upEnd, time.Minute); err == nil {
					r.note(fmt.Sprintf("%s -> %s: first reply %.1f s after up returned", p.From.Name, p.To.Name, d.Seconds()))
				} else {
					r.note(fmt.Sprintf("%s -> %s: %v after up returned", p.From.Name, p.To.Name, err))
				}
				break
			}
		}
		return r
	}
	if len(probes) == 0 {
		r.note("no link joins two terminals: no walk-through check")
	}
	if out, err := l.pulumiTimeout(ctx, UpTimeout, "up", "--yes", "--skip-preview", "--expect-no-changes"); err != nil {
		r.fail("up --expect-no-changes: %s", FirstError(out))
		if ch := ChangedResources(out); len(ch) > 0 {
			r.Err += " (" + strings.Join(ch, ", ") + ")"
		}
		return r
	}
	r.Outcome = Converged
	return r
}

func firstFailedProbe(probes []checks.Probe) string {
	for _, p := range probes {
		if !p.OK() {
			ping := p.PingSummary
			if ping == "" {
				ping = "no reply"
			}
			return fmt.Sprintf("%s -> %s: ping %s, traceroute %s (want %s)", p.From.Name, p.To.Name, ping,
				strings.Join(p.Hops, " "), strings.Join(p.WantHops, " "))
		}
	}
	return ""
}

// apply runs one edit as `pulumi config`.
func (m *matrixRun) apply(ctx context.Context, e Edit) error {
	if e.Remove {
		_, err := m.l.Pulumi(ctx, "config", "rm", "--path", e.Path)
		return err
	}
	v, err := m.resolve(ctx, e.Value)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	if e.Secret {
		cmd := m.l.Command(ctx, "config", "set", "--secret", "--path", e.Path)
		cmd.Stdin = strings.NewReader(v)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pulumi config set --secret %s: %w: %s", e.Path, err, out)
		}
		return nil
	}
	_, err = m.l.Pulumi(ctx, "config", "set", "--path", e.Path, v)
	return err
}

// resolve replaces a placeholder value: {ami:SITE} is the image the
// site's VPN instance runs, {sshPublicKey} and {sshPrivateKey} a key pair
// made for this run.
func (m *matrixRun) resolve(ctx context.Context, v string) (string, error) {
	if !strings.HasPrefix(v, "{") {
		return v, nil
	}
	switch name := strings.Trim(v, "{}"); {
	case strings.HasPrefix(name, "ami:"):
		res, err := m.l.resources(ctx)
		if err != nil {
			return "", err
		}
		for _, r := range res {
			if r.Type == "aws:ec2/instance:Instance" && strings.HasSuffix(r.URN, "::"+strings.TrimPrefix(name, "ami:")+"-vpn") {
				if ami, _ := r.Outputs["ami"].(string); ami != "" {
					return ami, nil
				}
			}
		}
		return "", fmt.Errorf("no VPN instance of site %s with an ami in the state", strings.TrimPrefix(name, "ami:"))
	case name == "sshPublicKey" || name == "sshPrivateKey":
		if m.keyDir == "" {
			dir, err := os.MkdirTemp("", "vpclink-matrix-key")
			if err != nil {
				return "", err
			}
			m.keyDir = dir
			if out, err := world.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", filepath.Join(dir, "key")); err != nil {
				return "", fmt.Errorf("ssh-keygen: %w %s", err, out)
			}
		}
		file := filepath.Join(m.keyDir, "key")
		if name == "sshPublicKey" {
			file += ".pub"
		}
		b, err := os.ReadFile(file)
		return strings.TrimSpace(string(b)) + map[bool]string{true: "", false: "\n"}[name == "sshPublicKey"], err
	}
	return "", fmt.Errorf("unknown placeholder %s", v)
}

// pulumiTimeout is Pulumi with a time limit, after which the CLI gets
// SIGINT (and 60 s later SIGKILL), as a user's Ctrl-C.
func (l *Lab) pulumiTimeout(ctx context.Context, limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var out bytes.Buffer
	cmd := l.Command(ctx, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	cmd.Stdout = io.MultiWriter(&out, l.Log)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	l.logf("pulumi %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("interrupted after %s: %w", limit, err)
		}
		return out.String(), fmt.Errorf("pulumi %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// previewJSON runs `pulumi preview --json` and returns its standard output
// (the JSON), with an error when the preview failed.
func (l *Lab) previewJSON(ctx context.Context) ([]byte, error) {
	cmd := l.Command(ctx, "preview", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	l.logf("pulumi preview --json: %.1fs", time.Since(start).Seconds())
	if err != nil {
		l.logf("preview failed: %v\n%s", err, stderr.String())
		return append(out, stderr.Bytes()...), fmt.Errorf("pulumi preview: %w", err)
	}
	return out, nil
}

type stateResource struct {
	URN, Type string
	Outputs   map[string]any
}

// resources returns the resources of the stack's state.
func (l *Lab) resources(ctx context.Context) ([]stateResource, error) {
	out, err := l.Command(ctx, "stack", "export").Output()
	if err != nil {
		return nil, fmt.Errorf("pulumi stack export: %w", err)
	}
	var d struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, err
	}
	return d.Deployment.Resources, nil
}

func (l *Lab) resourceCount(ctx context.Context) (int, error) {
	r, err := l.resources(ctx)
	return len(r), err
}

// regionImages gives every region of the lab's stack configuration an
// image, for a site added after the lab came up (Prepare set one for the
// regions of the stack file only).
func (l *Lab) regionImages(ctx context.Context) error {
	b, err := os.ReadFile(l.ConfigFile())
	if err != nil {
		return err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	sites, _ := doc.Config["vpclink:sites"].([]any)
	m, err := l.World.Load()
	if err != nil {
		return err
	}
	var missing []string
	for _, s := range sites {
		site, _ := s.(map[string]any)
		if r, _ := site["region"].(string); r != "" && m.Flavour(r) == "" {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	set, err := image.Build(ctx, image.Options{Log: l.Log})
	if err != nil {
		return fmt.Errorf("lab images: %w", err)
	}
	lower, err := set.Lower(image.Trixie)
	if err != nil {
		return err
	}
	return l.World.Update(func(m *world.Model) error {
		for _, r := range missing {
			m.SetImage(r, image.Trixie, lower)
			l.logf("region %s: instances boot Debian %s", r, image.Trixie)
		}
		return nil
	})
}

// pingEnds returns the first link's terminals, or why the pinger cannot
// run through this change.
func (l *Lab) pingEnds(ctx context.Context, p Preview) (*world.Host, *world.Host, string) {
	outs, err := l.Outputs(ctx)
	if err != nil {
		return nil, nil, err.Error()
	}
	m, err := l.World.Load()
	if err != nil {
		return nil, nil, err.Error()
	}
	links, err := checks.Links(m, outs)
	if err != nil {
		return nil, nil, err.Error()
	}
	if len(links) == 0 || links[0].Terminals[0] == nil || links[0].Terminals[1] == nil {
		return nil, nil, "the first link has no terminal at one end"
	}
	from, to := links[0].Terminals[0], links[0].Terminals[1]
	// A terminal updated in place is stopped and started (an instance
	// type): its pings would measure its own restart, not the tunnel.
	for _, h := range []*world.Host{from, to} {
		if op := p.Ops[h.Name]; op != "" {
			return nil, nil, fmt.Sprintf("the change %s %s", map[string]string{"replace": "replaces", "delete": "deletes", "create": "creates", "update": "updates (restarts)"}[op], h.Name)
		}
	}
	return from, to, ""
}

// Preview is what `pulumi preview --json` announced.
type Preview struct {
	// Ops is the operation per resource name (replace, update, create,
	// delete), steps that change nothing left out.
	Ops                       map[string]string
	Replaced                  []string
	Updated, Created, Deleted int
	// Error holds the preview's error diagnostics.
	Error string
}

// ParsePreview reads the output of `pulumi preview --json`.
// urnParts is a URN's name and its resource type (the last type of its
// parent chain).
func urnParts(urn string) (name, typ string) {
	i := strings.LastIndex(urn, "::")
	types := urn[:i]
	typ = types[strings.LastIndex(types, "::")+2:]
	typ = typ[strings.LastIndex(typ, "$")+1:]
	return urn[i+2:], typ
}

// previewDoc is what `pulumi preview --json` prints that the lab reads:
// each step's operation and resource, and the diagnostics.
type previewDoc struct {
	Steps []struct {
		Op  string `json:"op"`
		URN string `json:"urn"`
	} `json:"steps"`
	Diagnostics []struct {
		Message  string `json:"message"`
		Severity string `json:"severity"`
	} `json:"diagnostics"`
}

func ParsePreview(out []byte) (Preview, error) {
	p := Preview{Ops: map[string]string{}}
	var doc previewDoc
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return p, errors.New("preview printed no JSON")
	}
	if err := json.NewDecoder(bytes.NewReader(out[i:])).Decode(&doc); err != nil {
		return p, fmt.Errorf("preview's JSON: %w", err)
	}
	for _, d := range doc.Diagnostics {
		if d.Severity == "error" {
			p.Error += d.Message + "\n"
		}
	}
	// A resource is named by its URN's last part; where two resources of
	// different types share it (a subnet and its route table
	// association), each also by its type.
	names := map[string]map[string]bool{}
	for _, s := range doc.Steps {
		name, typ := urnParts(s.URN)
		if names[name] == nil {
			names[name] = map[string]bool{}
		}
		names[name][typ] = true
	}
	for _, s := range doc.Steps {
		name, typ := urnParts(s.URN)
		if len(names[name]) > 1 {
			name += " (" + typ[strings.LastIndex(typ, ":")+1:] + ")"
		}
		op := s.Op
		switch op {
		case "same", "read", "refresh":
			continue
		case "create-replacement", "delete-replaced", "replace", "discard-replaced", "import-replacement":
			op = "replace"
		}
		if prev := p.Ops[name]; prev == "replace" || prev == op {
			continue
		}
		p.Ops[name] = op
	}
	for name, op := range p.Ops {
		switch op {
		case "replace":
			p.Replaced = append(p.Replaced, name)
		case "update":
			p.Updated++
		case "create":
			p.Created++
		case "delete":
			p.Deleted++
		}
	}
	sort.Strings(p.Replaced)
	return p, nil
}

// CountWarnings counts the lines of CLI output that carry a warning.
func CountWarnings(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "warning:") {
			n++
		}
	}
	return n
}

var (
	resourceHeader = regexp.MustCompile(`^[\w-]+:[\w/-]*:[\w/-]+ \((.+)\):$`)
	genericError   = regexp.MustCompile(`^(an unhandled error occurred|\d+ errors? occurred|update failed|preview failed|destroy failed|program failed)\b`)
)

// FirstError is the line of CLI output (or of an error message) that says
// what went wrong: in the Diagnostics section when there is one, the first
// error line that is not a header or a generic "update failed", prefixed
// with the resource it is about. A resource's error comes before the
// stack's, which only reports its consequences ("resource monitor shut
// down").
func FirstError(out string) string {
	text := out
	if i := strings.Index(out, "Diagnostics:"); i >= 0 {
		text = out[i:]
	}
	var stackErr string
	resource, inError := "", false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if m := resourceHeader.FindStringSubmatch(t); m != nil {
			resource, inError = m[1], false
			if strings.HasPrefix(t, "pulumi:pulumi:Stack ") {
				resource = ""
			}
			continue
		}
		if strings.HasPrefix(t, "error:") {
			inError = true
			t = strings.TrimSpace(strings.TrimPrefix(t, "error:"))
		}
		if !inError {
			continue
		}
		t = strings.TrimSpace(strings.TrimPrefix(t, "* "))
		if t == "" || strings.HasSuffix(t, ":") || genericError.MatchString(t) {
			continue
		}
		if resource != "" {
			return resource + ": " + t
		}
		if stackErr == "" {
			stackErr = t
		}
	}
	if stackErr != "" {
		return stackErr
	}
	// No error line: the last non-empty line says the most.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

var changedLine = regexp.MustCompile(`^\s*([~+-]|\+-|-\+)\s+\S+:\S+\s+(\S+)\s`)

// ChangedResources names the resources an `up` output shows changing.
func ChangedResources(out string) []string {
	seen := map[string]bool{}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if m := changedLine.FindStringSubmatch(line); m != nil && !seen[m[2]] {
			seen[m[2]] = true
			names = append(names, m[1]+m[2])
		}
	}
	return names
}

// PingStats is what the matrix pinger saw.
type PingStats struct {
	Sent, Received int
	// LongestLoss is the longest run of probes without a reply.
	LongestLoss int
}

// Downtime is the longest run of lost probes times the interval.
func (s PingStats) Downtime() time.Duration { return time.Duration(s.LongestLoss) * PingInterval }

var (
	replySeq = regexp.MustCompile(`bytes from .*icmp_seq=(\d+)`)
	sentLine = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (packets )?received`)
)

// ParsePing reads the output of `ping` (stopped with SIGINT): the probes
// sent and answered and the longest run of unanswered ones. The last probe
// is in flight when ping stops: unanswered, it is not counted as sent.
func ParsePing(out string) (PingStats, error) {
	var s PingStats
	got := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		if m := replySeq.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			got[n] = true
		}
		if m := sentLine.FindStringSubmatch(line); m != nil {
			s.Sent, _ = strconv.Atoi(m[1])
			s.Received, _ = strconv.Atoi(m[2])
		}
	}
	if s.Sent == 0 {
		return s, fmt.Errorf("ping printed no summary: %s", lastLines(out, 3))
	}
	if !got[s.Sent] && s.Sent > 1 {
		s.Sent--
	}
	run := 0
	for seq := 1; seq <= s.Sent; seq++ {
		if got[seq] {
			run = 0
			continue
		}
		run++
		if run > s.LongestLoss {
			s.LongestLoss = run
		}
	}
	return s, nil
}

// bgPing pings from a host until stopped; unlike checks.Pinger it needs no
// length up front (an up's length is not known before), and it stops ping
// by its own process id.
type bgPing struct {
	h      *world.Host
	cmd    *exec.Cmd
	cancel context.CancelFunc
	pid    string
	done   chan struct{}
	out    bytes.Buffer
}

const pingPidFile = "/run/vpclink-matrix-ping.pid"

func startPing(h *world.Host, dst string) (*bgPing, error) {
	ctx, cancel := context.WithCancel(context.Background())
	// The deadline (-w) only bounds a ping whose stop failed.
	script := fmt.Sprintf("echo $$ > %s; exec ping -n -W 1 -i %.1f -w 1800 %s", pingPidFile, PingInterval.Seconds(), dst)
	cmd, err := boot.Command(ctx, h.Dir, "sh", "-c", script)
	if err != nil {
		cancel()
		return nil, err
	}
	p := &bgPing{h: h, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(p.done)
		cmd.Wait()
	}()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, err := h.Exec("cat", pingPidFile); err == nil && strings.TrimSpace(out) != "" {
			p.pid = strings.TrimSpace(out)
			return p, nil
		}
	}
	p.kill()
	return nil, fmt.Errorf("ping on %s did not start", h.Name)
}

// kill ends the nsenter this process started (SIGKILL: a host stopped
// under it can leave it stopped itself) and waits for it.
func (p *bgPing) kill() {
	p.cancel()
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends ping SIGINT (it prints its summary and exits) and parses what
// it printed.
func (p *bgPing) stop() (PingStats, error) {
	defer p.cancel()
	p.h.Exec("kill", "-INT", p.pid)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
		return PingStats{}, fmt.Errorf("ping on %s did not stop (was the host restarted?)", p.h.Name)
	}
	p.h.Exec("rm", "-f", pingPidFile)
	return ParsePing(p.out.String())
}

// MatrixTable prints the results as a Markdown table, with the notes below.
func MatrixTable(w io.Writer, results []MatrixResult) {
	fmt.Fprintln(w, "| change | replaced | updated | created/deleted | up time | tunnel downtime (lost/sent) | warnings | result |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	var notes []string
	for i, r := range results {
		cells := []string{r.Step, "—", "—", "—", "—", "—", "—", ""}
		if r.Outcome == Converged || r.Outcome == Failed && r.Up > 0 {
			cells[1] = strconv.Itoa(len(r.Replaced))
			if len(r.Replaced) > 0 {
				cells[1] += ": " + strings.Join(r.Replaced, ", ")
			}
			cells[2] = strconv.Itoa(r.Updated)
			cells[3] = fmt.Sprintf("%d/%d", r.Created, r.Deleted)
			cells[4] = fmt.Sprintf("%.1f s", r.Up.Seconds())
			cells[6] = strconv.Itoa(r.Warnings)
		}
		if r.Ping != nil {
			cells[5] = fmt.Sprintf("%.1f s (%d/%d)", r.Ping.Downtime().Seconds(), r.Ping.Sent-r.Ping.Received, r.Ping.Sent)
		} else if r.Up > 0 {
			cells[5] = "no pinger"
		}
		switch r.Outcome {
		case Failed:
			cells[7] = "**FAILED**: " + r.Err
		case Refused:
			cells[7] = "refused: " + r.Err
		default:
			cells[7] = r.Outcome
		}
		if r.Note != "" {
			cells[7] += fmt.Sprintf(" [%d]", i+1)
			notes = append(notes, fmt.Sprintf("[%d] %s: %s", i+1, r.Step, r.Note))
		}
		for j := range cells {
			cells[j] = strings.ReplaceAll(strings.ReplaceAll(cells[j], "|", `\|`), "\n", " ")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n+"  ")
		}
	}
}

// RunMatrix is `lab matrix`: a fresh lab, up, the changes, down (always).
func RunMatrix(ctx context.Context, o Options, changes []Change, w io.Writer) ([]MatrixResult, error) {
	l, err := Open(o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := l.Down(); err != nil {
			fmt.Fprintf(w, "[matrix] lab down: %v\n", err)
		}
	}()
	start := time.Now()
	if out, err := l.Up(ctx); err != nil {
		return nil, fmt.Errorf("the reference stack did not come up: %s", FirstError(out))
	}
	fmt.Fprintf(w, "[matrix] reference stack up in %.0f s\n", time.Since(start).Seconds())
	if probes, _, err := l.Probes(ctx); err != nil || len(probes) == 0 {
		return nil, fmt.Errorf("the reference stack's walk-through: %v (%d probes)", err, len(probes))
	}
	return l.Matrix(ctx, changes, w)
}
