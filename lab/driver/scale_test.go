package driver

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// engineConfig turns a stack file's config into what the engine hands the
// program: each key's text, lists and objects as JSON.
func engineConfig(t *testing.T, stackFile []byte) map[string]string {
	t.Helper()
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(stackFile, &doc); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for k, v := range doc.Config {
		if s, ok := v.(string); ok {
			values[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		values[k] = string(b)
	}
	return values
}

// The generated stacks are what the program accepts, with the links the
// table says: every pair of a mesh, hub to spoke for a hub. Until the
// program knows vpclink:hub, a hub stack must be refused for that key
// alone.
func TestScaleConfigIsAValidStack(t *testing.T) {
	for _, r := range []ScaleRow{{"mesh", 2, false}, {"mesh", 10, false}, {"mesh", 50, false}, {"hub", 10, false}, {"hub", 50, false},
		{"hub+summary", 2, false}, {"hub+summary", 10, false}, {"hub+summary", 50, false}, {"mesh+summary", 10, false}, {"hub+summary", 128, false}} {
		t.Run(r.Stack(), func(t *testing.T) {
			b, err := ScaleConfig(r)
			if err != nil {
				t.Fatal(err)
			}
			values := engineConfig(t, b)
			if hub, ok := values["vpclink:hub"]; r.hub() != ok || ok && hub != ScaleSiteName(0, r.Sites) {
				t.Fatalf("vpclink:hub = %q (set %v) in a %s", hub, ok, r.Topology)
			}
			if _, ok := values["vpclink:summaryCidr"]; r.summary() != ok {
				t.Fatalf("vpclink:summaryCidr set %v in a %s", ok, r.Topology)
			}
			c, err := topology.Decode(values, nil)
			if err != nil {
				t.Fatal(err)
			}
			c = topology.Normalize(c)
			if err := topology.Validate(c); err != nil {
				t.Fatal(err)
			}
			if len(c.Sites) != r.Sites || len(c.Links) != r.Links() {
				t.Fatalf("%d sites and %d links, want %d and %d", len(c.Sites), len(c.Links), r.Sites, r.Links())
			}
			if r.hub() {
				for _, l := range c.Links {
					if !slices.Contains(l.Sites, ScaleSiteName(0, r.Sites)) {
						t.Errorf("link %v does not join the hub", l.Sites)
					}
				}
			}
			for i, s := range c.Sites {
				if s.Name != fmt.Sprintf("s%0*d", max(2, len(fmt.Sprint(r.Sites-1))), i) || s.Region != ScaleRegions[i%len(ScaleRegions)] || s.VpcCidr != fmt.Sprintf("10.%d.0.0/16", i) {
					t.Errorf("site %d: %s in %s, %s", i, s.Name, s.Region, s.VpcCidr)
				}
			}
		})
	}
}

// The generated 10-site mesh is the issue's (testdata/Pulumi.lab-ten-sites.yaml,
// 974 resources) but for the sites' names.
func TestScaleTenSiteMeshIsTheIssues(t *testing.T) {
	b, err := ScaleConfig(ScaleRow{"mesh", 10, false})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../testdata/Pulumi.lab-ten-sites.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sites := func(values map[string]string) []map[string]string {
		var s []map[string]string
		if err := json.Unmarshal([]byte(values["vpclink:sites"]), &s); err != nil {
			t.Fatal(err)
		}
		for _, m := range s {
			delete(m, "name")
		}
		return s
	}
	got, exp := engineConfig(t, b), engineConfig(t, want)
	if len(got) != len(exp) {
		t.Fatalf("keys %v, want those of %v", got, exp)
	}
	if g, e := fmt.Sprint(sites(got)), fmt.Sprint(sites(exp)); g != e {
		t.Fatalf("sites\n%s\nwant\n%s", g, e)
	}
}

func TestScaleConfigRefusesWhatItCannotMake(t *testing.T) {
	for _, r := range []ScaleRow{{"mesh", 1, false}, {"hub", MaxScaleSites + 1, false}, {"star", 10, false}, {"hub+summary", 129, false}} {
		if _, err := ScaleConfig(r); err == nil {
			t.Errorf("%v: no error", r)
		}
	}
	var sums []string
	for _, n := range []int{2, 10, 16, 17, 50, 128} {
		s, err := ScaleSummary(n)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	if got := strings.Join(sums, " "); got != "10.0.0.0/15 10.0.0.0/12 10.0.0.0/12 10.0.0.0/11 10.0.0.0/10 10.0.0.0/9" {
		t.Errorf("summaries %s", got)
	}
	if got := ScaleSiteName(49, 50) + " " + ScaleSiteName(7, 150); got != "s49 s007" {
		t.Errorf("names %s", got)
	}
}

func TestScaleRows(t *testing.T) {
	str := func(rows []ScaleRow) string {
		var s []string
		for _, r := range rows {
			s = append(s, r.String())
		}
		return strings.Join(s, ", ")
	}
	for _, tc := range []struct {
		sites, topologies string
		before            bool
		want              string
	}{
		{"", "", false, "2-site mesh (now), 10-site mesh (before), 10-site mesh (now), 10-site hub (now), 50-site hub (now), " +
			"10-site hub+summary (now), 50-site hub+summary (now), 10-site mesh (before), 10-site mesh (now)"},
		{"", "", true, "2-site mesh (before), 2-site mesh (now), 10-site mesh (before), 10-site mesh (now), 10-site hub (before), 10-site hub (now), " +
			"50-site hub (before), 50-site hub (now), 10-site hub+summary (before), 10-site hub+summary (now), " +
			"50-site hub+summary (before), 50-site hub+summary (now), 10-site mesh (before), 10-site mesh (now)"},
		{"10", "hub+summary", false, "10-site mesh (now), 10-site hub+summary (now), 10-site mesh (now)"},
		{"10,50", "hub", false, "10-site mesh (now), 10-site hub (now), 50-site hub (now), 10-site mesh (now)"},
		{"2,10", "", false, "2-site mesh (now), 10-site mesh (now), 10-site mesh (now)"},
		{"10", "mesh,hub", true, "10-site mesh (before), 10-site mesh (now), 10-site hub (before), 10-site hub (now), 10-site mesh (before), 10-site mesh (now)"},
	} {
		rows, err := ScaleRows(tc.sites, tc.topologies, tc.before)
		if err != nil {
			t.Fatal(err)
		}
		if got := str(rows); got != tc.want {
			t.Errorf("-sites %q -topology %q -before=%v:\n got %s\nwant %s", tc.sites, tc.topologies, tc.before, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"1", ""}, {"ten", ""}, {"10", "star"}, {"10,", "mesh"}, {"10", "hub+sum"}} {
		if _, err := ScaleRows(bad[0], bad[1], false); err == nil {
			t.Errorf("-sites %q -topology %q: no error", bad[0], bad[1])
		}
	}
}

// A preview of a new 2-site stack, trimmed to what ParseScalePreview reads.
const previewNewStack = `Previewing update (scale-mesh-2):
{
  "steps": [
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::pulumi:pulumi:Stack::vpclink-scale-mesh-2"},
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::pulumi:providers:aws::s00"},
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::vpclink:index:Site::s00"},
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::vpclink:index:Site$aws:ec2/vpc:Vpc::s00-vpc"},
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::vpclink:index:Link::s00-s01"},
    {"op": "create", "urn": "urn:pulumi:scale-mesh-2::vpclink::vpclink:index:Link$command:remote:Command::s00-s01-s00-setup"},
    {"op": "same", "urn": "urn:pulumi:scale-mesh-2::vpclink::vpclink:index:Link::elsewhere"}
  ],
  "diagnostics": [{"message": "a quota warning", "severity": "warning"}],
  "changeSummary": {"create": 6}
}`

func TestParseScalePreview(t *testing.T) {
	p, err := ParseScalePreview([]byte(previewNewStack), false)
	if err != nil {
		t.Fatal(err)
	}
	if p != (ScalePreview{Resources: 6, Links: 1}) {
		t.Errorf("got %+v, want 6 resources, 1 link", p)
	}
	// Refused by the program: its first error, whether the CLI exited
	// non-zero or not.
	for _, failed := range []bool{true, false} {
		p, err = ParseScalePreview([]byte(previewRefused), failed)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Refused, `config vpclink:sites[0].vpnPrivateIp = "10.0.0.1": is reserved`) || p.Resources != 0 {
			t.Errorf("refused (exit failed %v): %+v", failed, p)
		}
	}
	// Refused by the CLI before any JSON.
	p, err = ParseScalePreview([]byte("error: no stack named 'scale-hub-10' found\n"), true)
	if err != nil || p.Refused != "no stack named 'scale-hub-10' found" {
		t.Errorf("CLI refusal: %+v, %v", p, err)
	}
	if _, err := ParseScalePreview([]byte("nothing\n"), false); err == nil {
		t.Error("a preview without JSON that did not fail parsed")
	}
	if _, err := ParseScalePreview([]byte(`{"steps": [{"op": "same", "urn": "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"}]}`), false); err == nil {
		t.Error("a preview of a new stack that creates nothing parsed")
	}
}

func TestScaleTable(t *testing.T) {
	res := func(r ScaleRow, resources, links int, secs ...float64) ScaleResult {
		return ScaleResult{Row: r, ScalePreview: ScalePreview{Resources: resources, Links: links}, Seconds: secs}
	}
	results := []ScaleResult{
		res(ScaleRow{"mesh", 2, false}, 70, 1, 0.8, 0.7, 0.9),
		res(ScaleRow{"mesh", 10, true}, 974, 45, 16, 17, 18),
		res(ScaleRow{"mesh", 10, false}, 974, 45, 2, 2.2, 1.9),
		res(ScaleRow{"hub", 10, false}, 500, 9, 1.2, 1.1, 1.3),
		res(ScaleRow{"hub", 50, false}, 2420, 49, 4.4, 4.0, 4.9),
		res(ScaleRow{"hub+summary", 10, false}, 400, 9, 1.0, 1.0, 1.0),
		res(ScaleRow{"hub+summary", 50, false}, 1920, 49, 3.0, 3.0, 3.0),
		{Row: ScaleRow{"hub", 60, false}, ScalePreview: ScalePreview{Refused: "config vpclink:hub = \"s00\": is | not a key\nof this program"}},
		res(ScaleRow{"mesh", 10, true}, 974, 45, 18, 19, 17),
		res(ScaleRow{"mesh", 10, false}, 974, 45, 2.2, 2.4, 2.3),
	}
	var b strings.Builder
	ScaleTable(&b, results, 3)
	got := b.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"| mesh | 2 | 1 | 70 | now | 0.80 (0.70) | 11.4 | 0.40x |",
		"| mesh | 10 | 45 | 974 | before | 17.00 (16.00) | 17.5 | 1.00x |",
		"| mesh | 10 | 45 | 974 | now | 2.00 (1.90) | 2.1 | 1.00x |",
		"| hub | 10 | 9 | 500 | now | 1.20 (1.10) | 2.4 | 0.60x |",
		"| hub | 50 | 49 | 2420 | now | 4.40 (4.00) | 1.8 | 2.20x |",
		"| hub | 60 | — | — | now | refused: config vpclink:hub = \"s00\": is \\| not a key of this program | — | — |",
		"| mesh | 10 | 45 | 974 | before | 18.00 (17.00) | 18.5 | 1.06x |",
		"- 10-site hub / 10-site mesh as before the cuts: 1.20 / 17.00 s = 0.07x (goal: at most 0.4x)",
		"- 10-site hub / 10-site mesh, both now: 0.60x",
		"- 50-site hub / 10-site hub: 4.40 / 1.20 s = 3.67x (goal: at most 5x)",
		"- 10-site hub+summary / 10-site mesh as before the cuts: 1.00 / 17.00 s = 0.06x (goal: at most 0.4x)",
		"- 50-site hub+summary / 10-site hub+summary: 3.00 / 1.00 s = 3.00x (goal: at most 5x)",
		"| hub+summary | 50 | 49 | 1920 | now | 3.00 (3.00) | 1.6 | 1.50x |",
		"- hub, 10 -> 50 sites: 48 resources per added spoke (40 links)",
		"- hub+summary, 10 -> 50 sites: 38 resources per added spoke (40 links)",
		"- drift: the 10-site mesh (now) first 2.00 s, last 2.30 s (+15 %)",
		"- drift: the 10-site mesh (before) first 17.00 s, last 18.00 s (+6 %)",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("the table lacks the line\n%s", want)
		}
	}
}

// An OTLP JSON-lines trace as `pulumi preview --otel-traces file://...`
// writes it, two exports, trimmed to the spans ParseTrace reads (times in
// ms from 0 below, in ns in the file).
func otelLines(t *testing.T) []byte {
	type sp struct {
		service, name string
		start, end    int64
	}
	spans := []sp{
		{"pulumi-cli", "pulumi", 0, 2000},
		{"pulumi-cli", "pulumirpc.LanguageRuntime/GetRequiredPackages", 150, 280},
		{"pulumi-cli", "pulumirpc.LanguageRuntime/Run", 300, 1900},
		{"pulumi-cli", "pulumirpc.ResourceMonitor/GetDeploymentInfo", 500, 501},
		{"pulumi-cli", "newPlugin", 510, 540},
		{"pulumi-cli", "newPlugin", 520, 560},
		{"pulumi-cli", "pulumirpc.ResourceProvider/Handshake", 540, 541},
		{"pulumi-cli", "pulumirpc.ResourceMonitor/Invoke", 600, 610},
		{"pulumi-cli", "pulumirpc.ResourceMonitor/Invoke", 580, 590},
		{"pulumi-cli", "pulumirpc.ResourceMonitor/RegisterResource", 502, 900},
		{"pulumi-cli", "pulumirpc.ResourceMonitor/RegisterResource", 700, 1800},
		{"pulumi-cli", "pulumirpc.ResourceProvider/Check", 710, 712},
		{"pulumi-cli", "pulumirpc.ResourceProvider/Create", 712, 716},
		{"aws", "pulumirpc.ResourceProvider/Check", 710, 711},
		{"aws", "pulumirpc.ResourceProvider/Create", 713, 714},
		{"aws", "pulumirpc.ResourceProvider/Configure", 545, 546},
	}
	var out []byte
	for half := range 2 {
		bySvc := map[string][]map[string]any{}
		var order []string
		for i, s := range spans {
			if i%2 != half {
				continue
			}
			if bySvc[s.service] == nil {
				order = append(order, s.service)
			}
			bySvc[s.service] = append(bySvc[s.service], map[string]any{"name": s.name, "traceId": "ab", "spanId": fmt.Sprint(i),
				"startTimeUnixNano": fmt.Sprint(1796032980000000000 + s.start*1e6), "endTimeUnixNano": fmt.Sprint(1796032980000000000 + s.end*1e6)})
		}
		var rs []any
		for _, svc := range order {
			rs = append(rs, map[string]any{
				"resource":   map[string]any{"attributes": []any{map[string]any{"key": "service.name", "value": map[string]any{"stringValue": svc}}}},
				"scopeSpans": []any{map[string]any{"scope": map[string]any{"name": "pulumi-cli"}, "spans": bySvc[svc]}},
			})
		}
		b, err := json.Marshal(map[string]any{"resourceSpans": rs})
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, b...), '\n')
	}
	return out
}

func TestParseTrace(t *testing.T) {
	got, err := ParseTrace(otelLines(t))
	if err != nil {
		t.Fatal(err)
	}
	want := TraceBreakdown{Total: 2, BeforeProgram: 0.3, RequiredPackages: 0.13, ProgramStart: 0.2, ProgramRun: 1.4,
		Registrations: 2, Invokes: 2, InvokeWindow: 0.03, PluginStarts: 2, PluginStart: 0.07,
		ProviderCalls: 2, ProviderCallTime: 0.006, InPlugins: 0.002, AfterProgram: 0.1}
	if fmt.Sprintf("%.4v", got) != fmt.Sprintf("%.4v", want) {
		t.Errorf("breakdown\n got %+.4v\nwant %+.4v", got, want)
	}
	if _, err := ParseTrace([]byte(`{"resourceSpans": []}` + "\n")); err == nil {
		t.Error("a trace without the CLI's root span parsed")
	}
	if _, err := ParseTrace([]byte("{not json\n")); err == nil {
		t.Error("a broken trace parsed")
	}
	var b strings.Builder
	got.Row, got.Wall = ScaleRow{"mesh", 10, false}, 2.1
	BreakdownTable(&b, []TraceBreakdown{got})
	if line := "| 10-site mesh (now) | 2.10 | 0.30 (0.13) | 0.20 | 1.40 (2 registrations, 700.00 ms each) | 2 (0.03) | 2 (0.07) | 2 (0.01 / 0.00) | 0.10 |\n"; !strings.Contains(b.String(), line) {
		t.Errorf("breakdown table\n%s\nlacks\n%s", b.String(), line)
	}
}
