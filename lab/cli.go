package lab

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/stackfile"
)

const usage = `usage: lab up|check|down|bench [flags]

  up     build the emulated regions, run the program against them, then check
  check  ping and traceroute between the terminals, as the walk-through does
  down   remove every namespace, mount, file and process of the lab
  bench  repeat up/measure/down and print timings

flags:
  -stack FILE   stack file to read (default Pulumi.dev.yaml)
  -prefix NAME  namespace prefix, so several labs can coexist (default vlab)
  -runs N       bench only: number of runs (default 5)

Needs root, and: iproute2 nftables openvpn openssh-server openssh-client
iputils-ping traceroute sudo systemd (apt-get install -y ...).
`

// Main is the lab's command line; program is the Pulumi program to run.
func Main(args []string, program pulumi.RunFunc) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("lab "+args[0], flag.ContinueOnError)
	stack := fs.String("stack", "Pulumi.dev.yaml", "stack file")
	prefix := fs.String("prefix", "vlab", "namespace prefix")
	runs := fs.Int("runs", 5, "bench runs")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	opts := Options{Prefix: *prefix, Log: os.Stdout}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "lab %s: %v\n", args[0], err)
		return 1
	}
	switch args[0] {
	case "up":
		start := time.Now()
		run, err := upFromFile(program, *stack, opts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "lab up: %v\nThe lab is left as it is for inspection; `lab down -prefix %s` removes it.\n", err, *prefix)
			return 1
		}
		fmt.Printf("lab up: %.1fs wall time\n\n", time.Since(start).Seconds())
		return report(os.Stdout, run.State)
	case "check":
		s, err := LoadState(opts)
		if err != nil {
			return fail(err)
		}
		return report(os.Stdout, s)
	case "down":
		if err := Down(opts); err != nil {
			return fail(err)
		}
		fmt.Printf("lab %s: down, nothing left\n", *prefix)
		return 0
	case "bench":
		if err := bench(program, *stack, opts, *runs, os.Stdout); err != nil {
			return fail(err)
		}
		return 0
	}
	fmt.Fprint(os.Stderr, usage)
	return 2
}

func upFromFile(program pulumi.RunFunc, path string, opts Options) (*Run, error) {
	cfg, err := stackfile.Load(path)
	if err != nil {
		return nil, err
	}
	return Up(program, StackName(path), cfg, opts, Hooks{})
}

// StackName is the stack a stack file belongs to: Pulumi.<stack>.yaml.
func StackName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".yaml"), ".yml")
}

func report(w io.Writer, s *State) int {
	probes, err := Check(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab check: %v\n", err)
		return 1
	}
	if len(probes) == 0 {
		fmt.Fprintln(w, "no link joins two sites with terminals: nothing to check")
		return 0
	}
	if failed := Report(w, probes); failed > 0 {
		fmt.Fprintf(w, "\n%d of %d checks FAILED\n", failed, len(probes))
		return 1
	}
	fmt.Fprintf(w, "\nall %d checks match the walk-through\n", len(probes))
	return 0
}

// bench runs the lab several times, without the program's own ping check,
// and reports the wall time of up and the time from the last setup to the
// first cross-site ping reply.
func bench(program pulumi.RunFunc, path string, opts Options, runs int, w io.Writer) error {
	cfg, err := stackfile.Load(path)
	if err != nil {
		return err
	}
	cfg["vpclink:postDeployCheck"] = "false"
	opts.Log = io.Discard
	var ups, firsts []float64
	for i := 1; i <= runs; i++ {
		start := time.Now()
		run, err := Up(program, StackName(path), cfg, opts, Hooks{})
		wall := time.Since(start)
		if err != nil {
			Down(opts)
			return err
		}
		var first time.Duration
		if len(run.State.Links) > 0 {
			link := run.State.Links[0]
			from, to := run.State.Terminal(run.State.Host(link.Ends[0])), run.State.Terminal(run.State.Host(link.Ends[1]))
			if from != nil && to != nil {
				first, err = TimeToFirstPing(from, to.PrivateIP, run.SetupsDone, time.Minute)
			}
		}
		if derr := Down(opts); derr != nil {
			return derr
		}
		if err != nil {
			return err
		}
		ups, firsts = append(ups, wall.Seconds()), append(firsts, first.Seconds()*1000)
		fmt.Fprintf(w, "run %d: up %.2f s, setup done -> first cross ping %.0f ms\n", i, wall.Seconds(), first.Seconds()*1000)
	}
	fmt.Fprintf(w, "median of %d: up %.2f s, setup done -> first cross ping %.0f ms\n", runs, median(ups), median(firsts))
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
