package main

// The change matrix (lab/driver/matrix.go) under the real Pulumi CLI and
// engine: configuration changes a user makes to a deployed stack, each
// followed by its reverse, must converge (walk-through checks pass, then
// `up --expect-no-changes` is clean) or be refused by preview naming the
// key. Needs root, as the other lab tests.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/driver"
)

// matrixSubset selects the changes TestLabChangeMatrix runs (a regular
// expression on change and step names): the rows the issue names as
// broken, the in-place instanceType change (the tunnel must be back when
// `up` returns), plus tunnelMtu as a control that is known to work. The
// environment variable VPCLINK_MATRIX overrides it: "all" runs every row,
// anything else is taken as the expression.
var matrixSubset = `instanceType|availabilityZone|terminalSubnetCidr|vpnPrivateIp a$|terminalPrivateIp|^terminal b$|tunnelMtu`

func TestLabChangeMatrix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network and mount namespaces); CI runs them as root")
	}
	t.Parallel() // beside TestLabReferenceTopology, on a lab of its own
	var log strings.Builder
	if err := driver.Preflight(&matrixLog{t, &log}); err != nil {
		t.Skipf("the lab cannot run here: %v", err)
	}
	sel := matrixSubset
	if v := os.Getenv("VPCLINK_MATRIX"); v == "all" {
		sel = ""
	} else if v != "" {
		sel = v
	}
	changes := driver.Changes
	if sel != "" {
		changes = driver.SelectChanges(changes, regexp.MustCompile(sel))
	}
	if len(changes) == 0 {
		t.Fatalf("no change of the matrix matches %q", sel)
	}

	b := make([]byte, 2)
	rand.Read(b)
	l, err := driver.Open(driver.Options{Prefix: "vlmx" + hex.EncodeToString(b), StackFile: "Pulumi.dev.yaml", Log: &matrixLog{t, &log}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab down: %v", err)
		}
		assertNothingLeft(t, l.World)
	})
	ctx := context.Background()
	if out, err := l.Up(ctx); err != nil {
		t.Fatalf("the reference stack did not come up: %v\n%s", err, lastLines(out, 20))
	}
	results, err := l.Matrix(ctx, changes, &matrixLog{t, &log})
	var table strings.Builder
	driver.MatrixTable(&table, results)
	t.Logf("change matrix (%d changes):\n%s", len(changes), table.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK() {
			t.Errorf("%s: %s %s %s", r.Step, r.Outcome, r.Err, r.Note)
		}
	}
}

// matrixLog sends the lab's progress and the CLI's output to the test log.
type matrixLog struct {
	t   *testing.T
	all *strings.Builder
}

func (l *matrixLog) Write(p []byte) (int, error) {
	l.all.Write(p)
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
