package driver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Where a preview's time goes, from the CLI's OpenTelemetry trace
// (`pulumi preview --otel-traces file://FILE`: JSON lines, each an OTLP
// export of spans). The engine's spans are the CLI's ("pulumi-cli"); the
// spans of the provider plugins' servers carry the plugin's name.

// TraceBreakdown is one traced preview, in seconds.
type TraceBreakdown struct {
	Row  ScaleRow
	File string
	// Wall is the traced preview's wall time as the lab measured it; Total
	// the CLI's root span ("pulumi").
	Wall, Total float64
	// BeforeProgram is the CLI's work before it asks the language host to
	// run the program (start, stack, secrets, the program's plugins);
	// RequiredPackages the language host's part of it (go list).
	BeforeProgram, RequiredPackages float64
	// ProgramStart is from the run request to the program's first call to
	// the engine: the language host's `go build` and the program's start.
	ProgramStart float64
	// ProgramRun is from the program's first call to the end of the run:
	// invokes, registrations, and the engine's steps for them.
	ProgramRun float64
	// Registrations counts RegisterResource calls; Invokes the invokes,
	// InvokeWindow from the first invoke's start to the last one's end.
	Registrations, Invokes int
	InvokeWindow           float64
	// PluginStarts counts the plugins the engine started; PluginStart sums
	// their start-up (they overlap).
	PluginStarts int
	PluginStart  float64
	// ProviderCalls counts the engine's calls to providers (Check, Create,
	// Diff, ...); ProviderCallTime sums them as the engine waited for them
	// (in parallel); InPlugins sums the same calls as the plugins' servers
	// saw them.
	ProviderCalls               int
	ProviderCallTime, InPlugins float64
	// AfterProgram is from the end of the run to the CLI's end.
	AfterProgram float64
}

type otelSpan struct {
	Name  string `json:"name"`
	Start string `json:"startTimeUnixNano"`
	End   string `json:"endTimeUnixNano"`
}

type span struct {
	service    string
	name       string
	start, end int64
}

func (s span) secs() float64 { return float64(s.end-s.start) / 1e9 }

// ParseTrace reads an OTLP JSON-lines trace of `pulumi preview`.
func ParseTrace(b []byte) (TraceBreakdown, error) {
	var t TraceBreakdown
	var spans []span
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var doc struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []struct {
						Key   string `json:"key"`
						Value struct {
							StringValue string `json:"stringValue"`
						} `json:"value"`
					} `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []otelSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			return t, fmt.Errorf("trace: %w", err)
		}
		for _, rs := range doc.ResourceSpans {
			service := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.StringValue
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					start, err1 := strconv.ParseInt(s.Start, 10, 64)
					end, err2 := strconv.ParseInt(s.End, 10, 64)
					if err := errors.Join(err1, err2); err != nil {
						return t, fmt.Errorf("trace: span %s: %w", s.Name, err)
					}
					spans = append(spans, span{service, s.Name, start, end})
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	cli := func(name string) (span, bool) {
		for _, s := range spans {
			if s.service == "pulumi-cli" && s.name == name {
				return s, true
			}
		}
		return span{}, false
	}
	root, ok1 := cli("pulumi")
	run, ok2 := cli("pulumirpc.LanguageRuntime/Run")
	if !ok1 || !ok2 {
		return t, errors.New("trace: no root span \"pulumi\" or no program run (pulumirpc.LanguageRuntime/Run) of the CLI")
	}
	t.Total = root.secs()
	t.BeforeProgram = float64(run.start-root.start) / 1e9
	t.AfterProgram = float64(root.end-run.end) / 1e9
	if p, ok := cli("pulumirpc.LanguageRuntime/GetRequiredPackages"); ok {
		t.RequiredPackages = p.secs()
	}
	firstCall, firstInvoke, lastInvoke := run.end, int64(0), int64(0)
	for _, s := range spans {
		switch {
		case s.service == "pulumi-cli" && strings.HasPrefix(s.name, "pulumirpc.ResourceMonitor/"):
			firstCall = min(firstCall, s.start)
			switch s.name {
			case "pulumirpc.ResourceMonitor/RegisterResource":
				t.Registrations++
			case "pulumirpc.ResourceMonitor/Invoke":
				if t.Invokes == 0 || s.start < firstInvoke {
					firstInvoke = s.start
				}
				lastInvoke = max(lastInvoke, s.end)
				t.Invokes++
			}
		case s.service == "pulumi-cli" && s.name == "newPlugin":
			t.PluginStarts++
			t.PluginStart += s.secs()
		case strings.HasPrefix(s.name, "pulumirpc.ResourceProvider/") && !providerSetup[strings.TrimPrefix(s.name, "pulumirpc.ResourceProvider/")]:
			if s.service == "pulumi-cli" {
				t.ProviderCalls++
				t.ProviderCallTime += s.secs()
			} else {
				t.InPlugins += s.secs()
			}
		}
	}
	t.ProgramStart = float64(firstCall-run.start) / 1e9
	t.ProgramRun = float64(run.end-firstCall) / 1e9
	if t.Invokes > 0 {
		t.InvokeWindow = float64(lastInvoke-firstInvoke) / 1e9
	}
	return t, nil
}

// providerSetup are the provider calls of a plugin's start and end, not of
// a resource.
var providerSetup = map[string]bool{"Handshake": true, "GetPluginInfo": true, "CheckConfig": true, "DiffConfig": true,
	"Configure": true, "Cancel": true, "Attach": true, "GetSchema": true}

// BreakdownTable prints the traced previews, Markdown.
func BreakdownTable(w io.Writer, ts []TraceBreakdown) {
	fmt.Fprintln(w, "| row | traced preview s | CLI before the program (of which go list) | go build and program start | program run: invokes and registrations | invokes (window s) | plugins started (summed s) | provider calls (engine side s / in plugins s) | after the program |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, t := range ts {
		fmt.Fprintf(w, "| %s | %.2f | %.2f (%.2f) | %.2f | %.2f (%d registrations, %.2f ms each) | %d (%.2f) | %d (%.2f) | %d (%.2f / %.2f) | %.2f |\n",
			t.Row, t.Wall, t.BeforeProgram, t.RequiredPackages, t.ProgramStart, t.ProgramRun, t.Registrations,
			1000*t.ProgramRun/float64(max(t.Registrations, 1)), t.Invokes, t.InvokeWindow, t.PluginStarts, t.PluginStart,
			t.ProviderCalls, t.ProviderCallTime, t.InPlugins, t.AfterProgram)
	}
}
