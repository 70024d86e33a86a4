package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/driver"
)

// TestLabYAMLPackage deploys examples/yaml, a Pulumi YAML program that
// creates the reference topology as one vpclink:index:Network from the
// vpclink package (provider/), under the real CLI and the YAML language
// host built from the Go module proxy: `pulumi package add` of the
// provider directory (the lab's Go host builds and runs it), up, the
// walk-through's ping and traceroute between the terminals, a second up
// that changes nothing, and destroy.
func TestLabYAMLPackage(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := newLabWith(t, driver.Options{Project: filepath.Join(repo, "examples", "yaml")})

	start := time.Now()
	out := runPulumi(t, l, "package", "add", filepath.Join(repo, "provider"))
	t.Logf("pulumi package add %s: %.1fs", filepath.Join(repo, "provider"), time.Since(start).Seconds())
	if !strings.Contains(out, "Added package vpclink") {
		t.Fatalf("package add said:\n%s", out)
	}

	start = time.Now()
	out = runPulumi(t, l, "up", "--yes", "--skip-preview")
	t.Logf("YAML up: %.1fs", time.Since(start).Seconds())
	assertNoWarnings(t, "the YAML program's up", out)
	walkthrough(t, l, 2)

	outs, err := l.Outputs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if outs["sshPrivateKey"] != "[secret]" {
		t.Errorf("sshPrivateKey output = %v, want [secret]", outs["sshPrivateKey"])
	}
	if key, _ := outs["sshPublicKey"].(string); !strings.HasPrefix(key, "ssh-ed25519 ") {
		t.Errorf("sshPublicKey output = %q", key)
	}

	runPulumi(t, l, "up", "--yes", "--skip-preview", "--expect-no-changes")

	start = time.Now()
	assertNoWarnings(t, "destroy", runPulumi(t, l, "destroy", "--yes", "--skip-preview"))
	t.Logf("YAML destroy: %.1fs", time.Since(start).Seconds())
	assertDestroyed(t, l)
}
