package driver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/checks"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

const usage = `usage: lab up|prepare|check|faults|matrix|scale|down|bench|throughput|stop|start|cut|restore|pulumi [flags] [-- PULUMI ARGS...]

  up      build the emulated regions, run ` + "`pulumi up`" + ` of the program against
          them with the real Pulumi CLI, then the walk-through checks
  prepare build the emulated regions and the stack, deploy nothing
  check   ping and traceroute between the terminals, as the walk-through does
  pulumi  run any pulumi command on the lab's stack:  lab pulumi -- stack output
  down    remove every host, namespace, mount, file and process of the lab
          (works whatever state the stack is in)
  faults  on a lab that is up (reference topology): cut the internet path,
          20% loss, reboot a VPN instance, replace the peer (new EIP),
          interrupt an up, two ups at once; print recovery per fault
  matrix  on a fresh lab (prefix vlmx unless given): up, then each
          configuration change of the change matrix and its reverse
          (preview, up with a pinger through the tunnel, walk-through,
          up --expect-no-changes), then down, even on failure; prints a
          Markdown table. -only REGEX runs the changes whose names match
  scale   on a fresh lab that deploys nothing (prefix vlsc unless given):
          ` + "`pulumi preview`" + ` of generated stacks (sites s00, s01, ...), every
          row once per run; prints a Markdown table (resources, links,
          seconds, ms per resource, ratio to the 10-site mesh) and the
          issue's goals. Default rows: 2 sites, the 10-site mesh as the lab
          previewed it before the cuts, 10-site mesh, 10- and 50-site hubs
          without and with vpclink:summaryCidr, then both 10-site meshes
          again (drift)
  bench   repeat up/measure/down and print timings, then the throughput
          table on a lab of its own
  throughput  the throughput table (iperf3) on a lab that is up
  stop NAME, start NAME   stop or start an instance (resource name or id)
          as EC2 does: host off, interface down, routes to it blackholed
  cut IP IP, restore IP IP   drop (or again pass) every packet between two
          public addresses on the emulated internet, both directions

flags (every verb):
  -stack FILE   stack file to deploy (default Pulumi.dev.yaml)
  -prefix NAME  namespace prefix, so several labs can coexist (default vlab)
  -project DIR  up, prepare: deploy another Pulumi project instead of the
                program, e.g. examples/yaml (the vpclink package from YAML;
                stack file: its Pulumi.dev.yaml unless -stack is given)
  -runs N       bench: number of up/down runs; scale: previews per row
                (default 3)
  -sites LIST, -topology LIST   scale only: rows of every topology (mesh,
                hub, mesh+summary, hub+summary) times every site count
                (e.g. -sites 10,50 -topology hub,hub+summary)
  -before       scale only: also preview each row as before the cuts
                (engine checkpoint after every step, program linked every run)
  -trace DIR    scale only: one more preview per row with the CLI's
                OpenTelemetry trace in DIR, and where its time went
  -throughput-runs N, -seconds S   bench and throughput: iperf3 runs per
                variant and their length (default 3 runs of 5 s, one stream
                and four), interleaved: each round measures every variant once;
                the shipped TLS configuration twice, as controls whose
                disagreement is the noise differences must exceed
  -no-throughput  bench only: skip the throughput table
  -only REGEX   matrix only: run the changes whose (step) names match

Needs root. Installs missing Debian packages; finds the Pulumi CLI on PATH
or in /opt/pulumi-toolchain/bin (and builds it there when missing); builds
the lab's own Go language host and aws, command and random plugins
(lab/plugins) into the lab's directory. See README.md, "The lab".
`

// Main is the lab's command line.
func Main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("lab "+verb, flag.ContinueOnError)
	stack := fs.String("stack", "Pulumi.dev.yaml", "stack file")
	prefix := fs.String("prefix", "vlab", "namespace prefix")
	runs := fs.Int("runs", 3, "bench runs")
	tpRuns := fs.Int("throughput-runs", 3, "bench, throughput: iperf3 runs per variant (interleaved rounds)")
	tpSecs := fs.Int("seconds", 5, "bench, throughput: seconds per iperf3 run")
	noThroughput := fs.Bool("no-throughput", false, "bench: timings only")
	only := fs.String("only", "", "matrix: changes whose names match")
	sites := fs.String("sites", "", "scale: site counts, comma-separated")
	topologies := fs.String("topology", "", "scale: mesh, hub, mesh+summary, hub+summary, comma-separated")
	before := fs.Bool("before", false, "scale: also preview each row as before the cuts")
	trace := fs.String("trace", "", "scale: directory for a traced preview of each row")
	project := fs.String("project", "", "up, prepare: deploy another Pulumi project (e.g. examples/yaml) instead of the program")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "lab %s: %v\n", verb, err)
		return 1
	}
	stackFile, err := filepath.Abs(*stack)
	if err != nil {
		return fail(err)
	}
	projectDir := ""
	if *project != "" {
		if projectDir, err = filepath.Abs(*project); err != nil {
			return fail(err)
		}
		stackSet := false
		fs.Visit(func(f *flag.Flag) { stackSet = stackSet || f.Name == "stack" })
		if !stackSet {
			stackFile = "" // the project's Pulumi.dev.yaml
		}
	}
	switch verb {
	case "up":
		l, err := Open(Options{Prefix: *prefix, StackFile: stackFile, Project: projectDir})
		if err != nil {
			return fail(err)
		}
		start := time.Now()
		if _, err := l.Up(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "lab up: %v\nThe lab is left as it is for inspection; `scripts/lab down -prefix %s` removes it.\n", err, *prefix)
			return 1
		}
		fmt.Printf("lab up: %.1fs wall time (pulumi up included)\n\n", time.Since(start).Seconds())
		rc := report(ctx, l, os.Stdout)
		if hc, err := HandCheck(l.Repo, *prefix); err == nil {
			// The README's block is the reference stack's; this stack's
			// sites and addresses may differ.
			if outs, err := l.Outputs(ctx); err == nil {
				if hc = ForStack(hc, outs); hc != "" {
					fmt.Printf("\nCheck by hand (README.md, \"The same in the lab\"), from %s:\n%s", l.Repo, hc)
				}
			}
		}
		return rc
	case "prepare":
		l, err := Open(Options{Prefix: *prefix, StackFile: stackFile, Project: projectDir})
		if err != nil {
			return fail(err)
		}
		if err := l.Prepare(ctx); err != nil {
			return fail(err)
		}
		fmt.Printf("lab %s: stack %s ready, nothing deployed; `scripts/lab pulumi -prefix %s -- up` deploys it\n", *prefix, l.Stack, *prefix)
		return 0
	case "check":
		l, err := Load(*prefix, os.Stdout)
		if err != nil {
			return fail(err)
		}
		return report(ctx, l, os.Stdout)
	case "pulumi":
		l, err := Load(*prefix, io.Discard)
		if err != nil {
			return fail(err)
		}
		cmd := l.Command(ctx, fs.Args()...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(interface{ ExitCode() int }); ok && ee.ExitCode() > 0 {
				return ee.ExitCode()
			}
			return fail(err)
		}
		return 0
	case "stop", "start", "cut", "restore":
		// Failover drills (issue 16): stop NAME, start NAME, cut IP IP,
		// restore IP IP.
		want := map[string]int{"stop": 1, "start": 1, "cut": 2, "restore": 2}[verb]
		if fs.NArg() != want {
			return fail(fmt.Errorf("want %d argument(s) after the flags, got %q", want, fs.Args()))
		}
		w, err := world.New(*prefix, "")
		if err != nil {
			return fail(err)
		}
		switch verb {
		case "stop":
			err = w.StopInstance(fs.Arg(0))
		case "start":
			err = w.StartInstance(fs.Arg(0))
		case "cut":
			err = w.CutPath(fs.Arg(0), fs.Arg(1))
		default:
			err = w.RestorePath(fs.Arg(0), fs.Arg(1))
		}
		if err != nil {
			return fail(err)
		}
		switch verb {
		case "stop":
			fmt.Printf("lab %s: %s stopped (host off; routes to it black-holed)\n", *prefix, fs.Arg(0))
		case "start":
			fmt.Printf("lab %s: %s running\n", *prefix, fs.Arg(0))
		case "cut":
			fmt.Printf("lab %s: path %s <-> %s cut\n", *prefix, fs.Arg(0), fs.Arg(1))
		default:
			fmt.Printf("lab %s: path %s <-> %s restored\n", *prefix, fs.Arg(0), fs.Arg(1))
		}
		return 0
	case "down":
		l, err := Open(Options{Prefix: *prefix, Repo: "-"})
		if err != nil {
			return fail(err)
		}
		if err := l.Down(); err != nil {
			return fail(err)
		}
		fmt.Printf("lab %s: down, nothing left\n", *prefix)
		return 0
	case "faults":
		l, err := Load(*prefix, os.Stdout)
		if err != nil {
			return fail(err)
		}
		results, err := l.Faults(ctx, os.Stdout)
		fmt.Println()
		FaultTable(os.Stdout, results)
		if err != nil {
			return fail(err)
		}
		for _, r := range results {
			if !r.Recovered {
				return 1
			}
		}
		return 0
	case "matrix":
		return matrixVerb(ctx, fs, stackFile, *only)
	case "scale":
		return scaleVerb(ctx, fs, *runs, *sites, *topologies, *before, *trace)
	case "throughput":
		l, err := Load(*prefix, io.Discard)
		if err != nil {
			return fail(err)
		}
		if err := throughput(ctx, l, *tpRuns, *tpSecs); err != nil {
			return fail(err)
		}
		return 0
	case "bench":
		if err := Bench(ctx, Options{Prefix: *prefix, StackFile: stackFile}, *runs, os.Stdout); err != nil {
			return fail(err)
		}
		if *noThroughput {
			return 0
		}
		// Throughput on a lab of its own, removed afterwards.
		l, err := Open(Options{Prefix: *prefix, StackFile: stackFile, Log: io.Discard})
		if err != nil {
			return fail(err)
		}
		defer l.Down()
		if _, err := l.Up(ctx); err != nil {
			return fail(err)
		}
		if err := throughput(ctx, l, *tpRuns, *tpSecs); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprint(os.Stderr, usage)
	return 2
}

// throughput measures every variant on a lab that is up and prints the table.
func throughput(ctx context.Context, l *Lab, runs, secs int) error {
	rs, err := l.BenchThroughput(ctx, Variants, runs, secs, os.Stdout)
	fmt.Println()
	ThroughputTable(os.Stdout, rs, runs, secs)
	return err
}

// Probes runs the walk-through checks of a lab that is up.
func (l *Lab) Probes(ctx context.Context) ([]checks.Probe, []checks.Link, error) {
	outs, err := l.Outputs(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := l.World.Load()
	if err != nil {
		return nil, nil, err
	}
	links, err := checks.Links(m, outs)
	if err != nil {
		return nil, nil, err
	}
	probes, err := checks.Check(links)
	if hub, _ := outs["hub"].(string); hub != "" && err == nil {
		// Spoke to spoke, through the hub.
		more, herr := checks.CheckThroughHub(links, hub)
		probes, err = append(probes, more...), herr
	}
	return probes, links, err
}

func report(ctx context.Context, l *Lab, w io.Writer) int {
	probes, _, err := l.Probes(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab check: %v\n", err)
		return 1
	}
	if len(probes) == 0 {
		fmt.Fprintln(w, "no link joins two sites with terminals: nothing to check")
		return 0
	}
	if failed := checks.Report(w, probes); failed > 0 {
		fmt.Fprintf(w, "\n%d of %d checks FAILED\n", failed, len(probes))
		return 1
	}
	fmt.Fprintf(w, "\nall %d checks match the walk-through\n", len(probes))
	return 0
}

// Bench runs up/measure/down several times without the program's own ping
// check and prints the wall times and the time from the end of `up` to the
// first cross-site reply.
func Bench(ctx context.Context, o Options, runs int, w io.Writer) error {
	o.Log = io.Discard
	var ups, firsts []float64
	for i := 1; i <= runs; i++ {
		l, err := Open(o)
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = l.Up(ctx, "--config", "vpclink:postDeployCheck=false")
		wall := time.Since(start)
		if err != nil {
			l.Down()
			return err
		}
		var first time.Duration
		_, links, err := l.Probes(ctx)
		if err == nil && len(links) > 0 && links[0].Terminals[0] != nil && links[0].Terminals[1] != nil {
			first, err = checks.TimeToFirstPing(links[0].Terminals[0], links[0].Terminals[1].PrivateIP, time.Now(), time.Minute)
		}
		if derr := l.Down(); derr != nil {
			return derr
		}
		if err != nil {
			return err
		}
		ups, firsts = append(ups, wall.Seconds()), append(firsts, first.Seconds()*1000)
		fmt.Fprintf(w, "run %d: up %.2f s, end of up -> first cross ping %.0f ms\n", i, wall.Seconds(), first.Seconds()*1000)
	}
	fmt.Fprintf(w, "median of %d: up %.2f s, end of up -> first cross ping %.0f ms\n", runs, Median(ups), Median(firsts))
	return nil
}

// Median of v (0 when empty).
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	if len(s) == 0 {
		return 0
	}
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// matrixVerb runs the change matrix on a lab of its own (prefix vlmx unless
// -prefix is given), the CLI's output to a log file, and prints the table.
func matrixVerb(ctx context.Context, fs *flag.FlagSet, stackFile, only string) int {
	prefix := "vlmx"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "prefix" {
			prefix = f.Value.String()
		}
	})
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			fmt.Fprintf(os.Stderr, "lab matrix: -only: %v\n", err)
			return 2
		}
	}
	changes := SelectChanges(Changes, re)
	if len(changes) == 0 {
		fmt.Fprintf(os.Stderr, "lab matrix: no change matches %q\n", only)
		return 2
	}
	logf, err := os.CreateTemp("", "vpclink-matrix-*.log")
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab matrix: %v\n", err)
		return 1
	}
	defer logf.Close()
	fmt.Printf("[matrix] %d changes on lab %s; the CLI's output goes to %s\n", len(changes), prefix, logf.Name())
	start := time.Now()
	results, err := RunMatrix(ctx, Options{Prefix: prefix, StackFile: stackFile, Log: logf}, changes, os.Stdout)
	fmt.Println()
	MatrixTable(os.Stdout, results)
	fmt.Printf("\n[matrix] %d rows in %.1f min (lab up and down included)\n", len(results), time.Since(start).Minutes())
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab matrix: %v\n", err)
		return 1
	}
	for _, r := range results {
		if !r.OK() {
			return 1
		}
	}
	return 0
}

// scaleVerb prints the scale table, measured on a lab of its own (prefix
// vlsc unless -prefix is given), removed afterwards.
func scaleVerb(ctx context.Context, fs *flag.FlagSet, runs int, sites, topologies string, before bool, trace string) int {
	prefix := "vlsc"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "prefix" {
			prefix = f.Value.String()
		}
	})
	rows, err := ScaleRows(sites, topologies, before)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab scale: %v\n", err)
		return 2
	}
	if runs < 1 {
		fmt.Fprintln(os.Stderr, "lab scale: -runs must be at least 1")
		return 2
	}
	if trace != "" {
		if trace, err = filepath.Abs(trace); err == nil {
			err = os.MkdirAll(trace, 0o755)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "lab scale: -trace: %v\n", err)
			return 2
		}
	}
	logf, err := os.CreateTemp("", "vpclink-scale-*.log")
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab scale: %v\n", err)
		return 1
	}
	defer logf.Close()
	fmt.Printf("[scale] %d rows x %d runs on lab %s; the lab's log goes to %s\n", len(rows), runs, prefix, logf.Name())
	start := time.Now()
	results, traces, err := RunScale(ctx, ScaleOptions{Options: Options{Prefix: prefix, Log: logf}, Rows: rows, Runs: runs, TraceDir: trace}, os.Stdout)
	fmt.Println()
	ScaleTable(os.Stdout, results, runs)
	if len(traces) > 0 {
		fmt.Println()
		BreakdownTable(os.Stdout, traces)
	}
	fmt.Printf("\n[scale] %.1f min (lab prepared and removed included)\n", time.Since(start).Minutes())
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab scale: %v\n", err)
		return 1
	}
	return 0
}
