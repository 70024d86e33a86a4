package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/langgo"
)

// The scale table (`scripts/lab scale`): `pulumi preview` of generated
// stacks of growing size, on a lab of its own that deploys nothing (no
// images, no hosts: a preview creates nothing in the emulated world). Each
// row is a topology and a site count; every run previews every row once,
// in order, so a slow minute of the machine falls on all rows alike, and the
// 10-site mesh is measured again last so that drift shows.

// ScaleRow is one row of the scale table.
type ScaleRow struct {
	// Topology is "mesh" (the program's default links: every pair) or
	// "hub" (vpclink:hub set to the first site: hub-to-spoke links), either
	// with "+summary" (vpclink:summaryCidr: the smallest network that
	// covers every VPC).
	Topology string
	Sites    int
	// Before previews as the lab did before the cuts of issue 14: the
	// engine saving its (discarded) snapshot after every step, and the
	// program linked into a temporary file on every run.
	Before bool
}

// Stack is the row's stack name.
func (r ScaleRow) Stack() string {
	return fmt.Sprintf("scale-%s-%d", strings.ReplaceAll(r.Topology, "+", "-"), r.Sites)
}

// ScaleTopologies are the topologies a row can have.
var ScaleTopologies = []string{"mesh", "hub", "mesh+summary", "hub+summary"}

func (r ScaleRow) hub() bool     { return strings.HasPrefix(r.Topology, "hub") }
func (r ScaleRow) summary() bool { return strings.HasSuffix(r.Topology, "+summary") }

// Links is the number of links the program makes by default: every pair
// of a mesh, one per spoke of a hub.
func (r ScaleRow) Links() int {
	if r.hub() {
		return r.Sites - 1
	}
	return r.Sites * (r.Sites - 1) / 2
}

// Setup names how the lab previews the row.
func (r ScaleRow) Setup() string {
	if r.Before {
		return "before"
	}
	return "now"
}

func (r ScaleRow) String() string {
	return fmt.Sprintf("%d-site %s (%s)", r.Sites, r.Topology, r.Setup())
}

// baseline is the row the others are compared with.
func (r ScaleRow) baseline() bool { return r.Topology == "mesh" && r.Sites == 10 }

// ScaleRegions are the regions the sites are spread over, in turn: those
// of testdata/Pulumi.lab-ten-sites.yaml (the emulated AWS accepts any
// region; these are real ones).
var ScaleRegions = []string{"eu-west-1", "sa-east-1", "us-east-1", "us-west-2", "ap-northeast-1",
	"ap-southeast-2", "eu-central-1", "ca-central-1", "ap-south-1", "eu-north-1"}

// MaxScaleSites keeps every VPC (10.<i>.0.0/16) below 10.254.0.0/16, the
// default tunnel network.
const MaxScaleSites = 200

// ScaleSiteName is the name of site i of a row: s00, s01, ... (s000 from
// 100 sites on), so that names sort in site order.
func ScaleSiteName(i, sites int) string {
	width := len(strconv.Itoa(sites - 1))
	if width < 2 {
		width = 2
	}
	return fmt.Sprintf("s%0*d", width, i)
}

// ScaleSummary is the smallest network that covers the VPCs of n sites
// (10.0.0.0/16 to 10.<n-1>.0.0/16); it must leave out the default tunnel
// network 10.254.0.0/16, so n is at most 128.
func ScaleSummary(n int) (string, error) {
	if n < 2 || n > 128 {
		return "", fmt.Errorf("%d sites: a summary of their VPCs that leaves out the tunnel network 10.254.0.0/16 covers 2 to 128", n)
	}
	return fmt.Sprintf("10.0.0.0/%d", 16-bits.Len(uint(n-1))), nil
}

// ScaleConfig is the stack file of a row: sites s00, s01, ... with VPC
// 10.<i>.0.0/16 (VPN subnet 10.<i>.0.0/24 with the VPN instance at .10,
// terminal subnet 10.<i>.1.0/24 with the terminal at .30), regions taken
// in turn from ScaleRegions, no links (the program's default), for a hub
// `vpclink:hub: s00`, with a summary `vpclink:summaryCidr` (ScaleSummary).
func ScaleConfig(r ScaleRow) ([]byte, error) {
	if r.Sites < 2 || r.Sites > MaxScaleSites {
		return nil, fmt.Errorf("%d sites: the scale rows have 2 to %d", r.Sites, MaxScaleSites)
	}
	if !slices.Contains(ScaleTopologies, r.Topology) {
		return nil, fmt.Errorf("topology %q: one of %s", r.Topology, strings.Join(ScaleTopologies, ", "))
	}
	type site struct {
		Name               string `yaml:"name"`
		Region             string `yaml:"region"`
		VpcCidr            string `yaml:"vpcCidr"`
		VpnSubnetCidr      string `yaml:"vpnSubnetCidr"`
		TerminalSubnetCidr string `yaml:"terminalSubnetCidr"`
		VpnPrivateIP       string `yaml:"vpnPrivateIp"`
		TerminalPrivateIP  string `yaml:"terminalPrivateIp"`
	}
	var sites []site
	for i := range r.Sites {
		sites = append(sites, site{
			Name:               ScaleSiteName(i, r.Sites),
			Region:             ScaleRegions[i%len(ScaleRegions)],
			VpcCidr:            fmt.Sprintf("10.%d.0.0/16", i),
			VpnSubnetCidr:      fmt.Sprintf("10.%d.0.0/24", i),
			TerminalSubnetCidr: fmt.Sprintf("10.%d.1.0/24", i),
			VpnPrivateIP:       fmt.Sprintf("10.%d.0.10", i),
			TerminalPrivateIP:  fmt.Sprintf("10.%d.1.30", i),
		})
	}
	config := map[string]any{"vpclink:sites": sites}
	if r.hub() {
		config["vpclink:hub"] = sites[0].Name
	}
	if r.summary() {
		sum, err := ScaleSummary(r.Sites)
		if err != nil {
			return nil, err
		}
		config["vpclink:summaryCidr"] = sum
	}
	out, err := yaml.Marshal(map[string]any{"config": config})
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Generated by `scripts/lab scale`: %d sites, %s (%d links by default).\n", r.Sites, r.Topology, r.Links())
	return append([]byte(head), out...), nil
}

// ScaleRows are the rows of the table. With neither sites nor topologies
// given: the 2-site stack, the 10-site mesh as the lab previewed it before
// the cuts (the baseline), the 10-site mesh, the 10- and 50-site
// hubs without and with summary, and both 10-site meshes again. Otherwise every topology of
// the comma-separated list times every site count (default: mesh; 10),
// with the 10-site mesh added first when absent; before adds each row's
// twin previewed as before the cuts. The 10-site mesh rows are repeated
// last, so that drift shows.
func ScaleRows(sites, topologies string, before bool) ([]ScaleRow, error) {
	if sites == "" && topologies == "" {
		rows := []ScaleRow{{"mesh", 2, false}, {"mesh", 10, true}, {"mesh", 10, false}, {"hub", 10, false}, {"hub", 50, false},
			{"hub+summary", 10, false}, {"hub+summary", 50, false}}
		if before {
			var twins []ScaleRow
			for _, r := range rows {
				if !r.Before && !r.baseline() {
					twins = append(twins, ScaleRow{r.Topology, r.Sites, true})
				}
				twins = append(twins, r)
			}
			rows = twins
		}
		return appendBaselines(rows), nil
	}
	if sites == "" {
		sites = "10"
	}
	if topologies == "" {
		topologies = "mesh"
	}
	var rows []ScaleRow
	for _, t := range strings.Split(topologies, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(ScaleTopologies, t) {
			return nil, fmt.Errorf("-topology %q: %s, comma-separated", t, strings.Join(ScaleTopologies, ", "))
		}
		for _, s := range strings.Split(sites, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 2 || n > MaxScaleSites {
				return nil, fmt.Errorf("-sites %q: site counts from 2 to %d, comma-separated", s, MaxScaleSites)
			}
			if before {
				rows = append(rows, ScaleRow{t, n, true})
			}
			rows = append(rows, ScaleRow{t, n, false})
		}
	}
	if !slices.ContainsFunc(rows, ScaleRow.baseline) {
		base := []ScaleRow{{"mesh", 10, false}}
		if before {
			base = []ScaleRow{{"mesh", 10, true}, {"mesh", 10, false}}
		}
		rows = append(base, rows...)
	}
	return appendBaselines(rows), nil
}

// appendBaselines repeats the 10-site mesh rows last.
func appendBaselines(rows []ScaleRow) []ScaleRow {
	for _, r := range slices.Clone(rows) {
		if r.baseline() {
			rows = append(rows, r)
		}
	}
	return rows
}

// ScalePreview is what one `pulumi preview --json` of a new stack said.
type ScalePreview struct {
	// Resources is the number of "create" steps (the stack, components,
	// providers and resources: what `up` would create); Links the number of
	// the program's vpclink:index:Link components among them.
	Resources, Links int
	// Refused is the first error of a preview that failed.
	Refused string
}

// ParseScalePreview reads the output of `pulumi preview --json` of a new
// stack; out may hold the CLI's other output around the JSON. failed says
// the CLI exited non-zero: the row is refused, with the preview's first
// error (or the output's, when it printed no JSON).
func ParseScalePreview(out []byte, failed bool) (ScalePreview, error) {
	var p ScalePreview
	var doc previewDoc
	i := bytes.IndexByte(out, '{')
	if i < 0 || json.NewDecoder(bytes.NewReader(out[i:])).Decode(&doc) != nil {
		if failed {
			p.Refused = FirstError(string(out))
			if p.Refused == "" {
				p.Refused = "preview failed, printed no JSON"
			}
			return p, nil
		}
		return p, errors.New("preview printed no JSON")
	}
	var errs string
	for _, d := range doc.Diagnostics {
		if d.Severity == "error" {
			errs += d.Message + "\n"
		}
	}
	if failed || errs != "" {
		p.Refused = FirstError(errs + string(out[:i]))
		if p.Refused == "" {
			p.Refused = "preview failed"
		}
		return p, nil
	}
	for _, s := range doc.Steps {
		if s.Op != "create" {
			continue
		}
		p.Resources++
		if _, typ := urnParts(s.URN); typ == "vpclink:index:Link" {
			p.Links++
		}
	}
	if p.Resources == 0 {
		return p, errors.New("preview of a new stack creates nothing")
	}
	return p, nil
}

// ScaleResult is a row's measurements.
type ScaleResult struct {
	Row ScaleRow
	ScalePreview
	// Seconds are the wall times of the row's previews, in run order.
	Seconds []float64
}

// Median and Min of the row's preview times.
func (r ScaleResult) Median() float64 { return Median(r.Seconds) }

// Min is the fastest of the row's previews.
func (r ScaleResult) Min() float64 {
	if len(r.Seconds) == 0 {
		return 0
	}
	return slices.Min(r.Seconds)
}

// scaleBase is the first measured 10-site mesh previewed the same way.
func scaleBase(results []ScaleResult, before bool) (ScaleResult, bool) {
	for _, r := range results {
		if r.Row.baseline() && r.Row.Before == before && r.Refused == "" && len(r.Seconds) > 0 {
			return r, true
		}
	}
	return ScaleResult{}, false
}

// ScaleTable prints the table, Markdown: one line per row in measuring
// order, the ratio to the first 10-site mesh previewed the same way, then
// the goals as measured.
func ScaleTable(w io.Writer, results []ScaleResult, runs int) {
	fmt.Fprintf(w, "| topology | sites | links | resources | lab | preview s, median (min) of %d | ms per resource | vs 10-site mesh |\n", runs)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		links := "—"
		if r.Refused == "" {
			links = strconv.Itoa(r.Links)
		}
		if r.Refused != "" {
			fmt.Fprintf(w, "| %s | %d | %s | — | %s | refused: %s | — | — |\n", r.Row.Topology, r.Row.Sites, links, r.Row.Setup(), tableCell(r.Refused))
			continue
		}
		ratio := "—"
		if base, ok := scaleBase(results, r.Row.Before); ok && base.Median() > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Median()/base.Median())
		}
		fmt.Fprintf(w, "| %s | %d | %s | %d | %s | %.2f (%.2f) | %.1f | %s |\n", r.Row.Topology, r.Row.Sites, links, r.Resources,
			r.Row.Setup(), r.Median(), r.Min(), 1000*r.Median()/float64(r.Resources), ratio)
	}
	fmt.Fprintln(w)
	for _, l := range ScaleGoals(results) {
		fmt.Fprintln(w, l)
	}
}

// tableCell keeps a message on one table line.
func tableCell(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", "\\|")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// find returns the first measured row of a topology, size and setup.
func find(results []ScaleResult, topology string, sites int, before bool) (ScaleResult, bool) {
	for _, r := range results {
		if r.Row == (ScaleRow{topology, sites, before}) && r.Refused == "" && len(r.Seconds) > 0 {
			return r, true
		}
	}
	return ScaleResult{}, false
}

// ScaleGoals are the goals as the results measure them (those
// whose rows were measured), for a hub with and without summary: a 10-site
// hub in at most 0.4x the time of the 10-site mesh as the lab previewed it
// before the cuts, a 50-site hub in at most 5x the 10-site hub; the
// resources each added site costs, per topology; and the drift of the
// 10-site mesh between its first and last measurement.
func ScaleGoals(results []ScaleResult) []string {
	var out []string
	for _, t := range []string{"hub", "hub+summary"} {
		hub10, ok := find(results, t, 10, false)
		if !ok {
			continue
		}
		if before, ok := find(results, "mesh", 10, true); ok {
			out = append(out, fmt.Sprintf("- 10-site %s / 10-site mesh as before the cuts: %.2f / %.2f s = %.2fx (goal: at most 0.4x)",
				t, hub10.Median(), before.Median(), hub10.Median()/before.Median()))
		}
		if mesh, ok := find(results, "mesh", 10, false); ok {
			out = append(out, fmt.Sprintf("- 10-site %s / 10-site mesh, both now: %.2fx", t, hub10.Median()/mesh.Median()))
		}
		if hub50, ok := find(results, t, 50, false); ok {
			out = append(out, fmt.Sprintf("- 50-site %s / 10-site %s: %.2f / %.2f s = %.2fx (goal: at most 5x)",
				t, t, hub50.Median(), hub10.Median(), hub50.Median()/hub10.Median()))
		}
	}
	// Resources per added site, between the two largest measured sizes of
	// each topology.
	for _, t := range ScaleTopologies {
		var rs []ScaleResult
		for _, r := range results {
			if r.Row.Topology == t && !r.Row.Before && r.Refused == "" && len(r.Seconds) > 0 && !slices.ContainsFunc(rs, func(o ScaleResult) bool { return o.Row.Sites == r.Row.Sites }) {
				rs = append(rs, r)
			}
		}
		slices.SortFunc(rs, func(a, b ScaleResult) int { return a.Row.Sites - b.Row.Sites })
		if len(rs) >= 2 {
			a, b := rs[len(rs)-2], rs[len(rs)-1]
			what := "added spoke"
			if !a.Row.hub() {
				what = "added site (a mesh's links grow with the square)"
			}
			out = append(out, fmt.Sprintf("- %s, %d -> %d sites: %d resources per %s (%d links)", t, a.Row.Sites, b.Row.Sites,
				(b.Resources-a.Resources)/(b.Row.Sites-a.Row.Sites), what, b.Links-a.Links))
		}
	}
	for _, before := range []bool{false, true} {
		var base []ScaleResult
		for _, r := range results {
			if r.Row.baseline() && r.Row.Before == before && r.Refused == "" && len(r.Seconds) > 0 {
				base = append(base, r)
			}
		}
		if len(base) >= 2 {
			first, last := base[0], base[len(base)-1]
			out = append(out, fmt.Sprintf("- drift: the 10-site mesh (%s) first %.2f s, last %.2f s (%+.0f %%)", first.Row.Setup(),
				first.Median(), last.Median(), 100*(last.Median()/first.Median()-1)))
		}
	}
	return out
}

// beforeEnv is the environment of a row previewed as before the cuts:
// Env and previewEnv without the cuts.
func beforeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if slices.Contains(previewEnv, kv) || strings.HasPrefix(kv, langgo.EnvProgramCache+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// ScaleTimeout bounds one preview.
const ScaleTimeout = 15 * time.Minute

// scalePreview runs one `pulumi preview --json` of the row's stack and
// returns its wall time. With trace, the CLI writes its OpenTelemetry
// spans there (file, JSON lines).
func (l *Lab) scalePreview(ctx context.Context, r ScaleRow, trace string) (ScalePreview, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, ScaleTimeout)
	defer cancel()
	args := []string{"preview", "--json"}
	if trace != "" {
		args = append(args, "--otel-traces", "file://"+trace)
	}
	s := *l
	s.StackFile, s.Stack = "", r.Stack()
	cmd := s.Command(ctx, args...)
	if r.Before {
		cmd.Env = beforeEnv(cmd.Env)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	if ctx.Err() != nil {
		return ScalePreview{}, secs, fmt.Errorf("%s: preview: %w", r, ctx.Err())
	}
	var exit interface{ ExitCode() int }
	if err != nil && !errors.As(err, &exit) {
		return ScalePreview{}, secs, fmt.Errorf("%s: preview: %w", r, err)
	}
	p, perr := ParseScalePreview(append(out.Bytes(), stderr.Bytes()...), err != nil)
	if perr != nil {
		return p, secs, fmt.Errorf("%s: %w\n%s", r, perr, stderr.String())
	}
	return p, secs, nil
}

// addStack writes a row's stack into the lab's project and creates it.
func (l *Lab) addStack(ctx context.Context, dir string, r ScaleRow) error {
	b, err := ScaleConfig(r)
	if err != nil {
		return err
	}
	s := *l
	s.StackFile, s.Stack = filepath.Join(dir, "Pulumi."+r.Stack()+".yaml"), r.Stack()
	if err := os.WriteFile(s.StackFile, b, 0o600); err != nil {
		return err
	}
	if err := s.writeProject(); err != nil {
		return err
	}
	_, err = s.Pulumi(ctx, "stack", "init", s.Stack, "--secrets-provider", "passphrase", "--non-interactive")
	return err
}

// ScaleOptions configure RunScale.
type ScaleOptions struct {
	Options
	Rows []ScaleRow
	// Runs is the number of previews of each row.
	Runs int
	// TraceDir, when set, gets one more preview of each distinct row with
	// the CLI's OpenTelemetry trace, whose breakdown is printed.
	TraceDir string
}

// RunScale measures the rows on a lab of its own (created, then removed
// even on failure) and returns the results in row order. A refused row
// (the program rejects its configuration) is previewed once and reported;
// the others go on. Progress goes to w.
func RunScale(ctx context.Context, o ScaleOptions, w io.Writer) ([]ScaleResult, []TraceBreakdown, error) {
	o.PreviewOnly = true
	l, err := Open(o.Options)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err := l.Down(); err != nil {
			fmt.Fprintf(w, "[scale] down: %v\n", err)
		}
	}()
	dir, err := os.MkdirTemp("", "vpclink-scale-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	// The lab's own stack is the first row's.
	first, err := ScaleConfig(o.Rows[0])
	if err != nil {
		return nil, nil, err
	}
	l.StackFile, l.Stack = filepath.Join(dir, "Pulumi."+o.Rows[0].Stack()+".yaml"), o.Rows[0].Stack()
	if err := os.WriteFile(l.StackFile, first, 0o600); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	if err := l.Prepare(ctx); err != nil {
		return nil, nil, err
	}
	made := map[string]bool{l.Stack: true}
	for _, r := range o.Rows {
		if !made[r.Stack()] {
			if err := l.addStack(ctx, dir, r); err != nil {
				return nil, nil, err
			}
			made[r.Stack()] = true
		}
	}
	fmt.Fprintf(w, "[scale] lab %s with %d stacks in %.1f s\n", l.World.Prefix, len(made), time.Since(start).Seconds())
	// Warm up: the program compiled and linked once, the CLI and the
	// plugins read once, before anything is measured.
	if _, secs, err := l.scalePreview(ctx, ScaleRow{o.Rows[0].Topology, o.Rows[0].Sites, false}, ""); err != nil {
		return nil, nil, err
	} else {
		fmt.Fprintf(w, "[scale] warm-up preview of %s: %.2f s (not counted)\n", o.Rows[0].Stack(), secs)
	}
	results := make([]ScaleResult, len(o.Rows))
	for i, r := range o.Rows {
		results[i].Row = r
	}
	for run := 1; run <= o.Runs; run++ {
		for i := range results {
			res := &results[i]
			if res.Refused != "" {
				continue
			}
			p, secs, err := l.scalePreview(ctx, res.Row, "")
			if err != nil {
				return results, nil, err
			}
			if p.Refused != "" {
				res.ScalePreview = p
				fmt.Fprintf(w, "[scale] run %d: %s refused: %s\n", run, res.Row, p.Refused)
				continue
			}
			if len(res.Seconds) > 0 && (p.Resources != res.Resources || p.Links != res.Links) {
				return results, nil, fmt.Errorf("%s: run %d counted %d resources and %d links, run 1 %d and %d", res.Row, run, p.Resources, p.Links, res.Resources, res.Links)
			}
			res.ScalePreview = p
			res.Seconds = append(res.Seconds, secs)
			fmt.Fprintf(w, "[scale] run %d: %s: %d resources, %d links, %.2f s\n", run, res.Row, p.Resources, p.Links, secs)
		}
	}
	if o.TraceDir == "" {
		return results, nil, nil
	}
	var traces []TraceBreakdown
	traced := map[ScaleRow]bool{}
	for _, res := range results {
		if res.Refused != "" || traced[res.Row] {
			continue
		}
		traced[res.Row] = true
		file := filepath.Join(o.TraceDir, res.Row.Stack()+"-"+res.Row.Setup()+".otel.json")
		os.Remove(file)
		_, secs, err := l.scalePreview(ctx, res.Row, file)
		if err != nil {
			return results, traces, err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return results, traces, err
		}
		t, err := ParseTrace(b)
		if err != nil {
			return results, traces, fmt.Errorf("%s: %w", file, err)
		}
		t.Row, t.Wall, t.File = res.Row, secs, file
		traces = append(traces, t)
		fmt.Fprintf(w, "[scale] traced %s: %.2f s, %s\n", res.Row, secs, file)
	}
	return results, traces, nil
}
