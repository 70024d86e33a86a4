package main

// Tests of the vpclink package (provider/, its own Go module, which `go
// test ./...` from the repository root does not enter) and of its
// consumers that this machine can check without running them:
// examples/typescript against the generated Node.js SDK (tsc), the
// generated Python SDK (py_compile). examples/yaml runs in the lab
// (TestLabYAMLPackage); examples/twosites is the Go consumer.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/langgo"
)

// inDir runs a command in dir and returns its combined output.
func inDir(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestProviderModule vets, tests and builds provider/: among its tests,
// that every input and output of the schema has a description, type,
// default and secrecy, that the inputs are exactly the configuration's
// keys, and that schema.json is what the provider serves.
func TestProviderModule(t *testing.T) {
	t.Parallel()
	goCmd := langgo.GoCommand()
	for _, args := range [][]string{
		{"vet", "./..."},
		{"test", "-count=1", "./..."},
		{"build", "-o", filepath.Join(t.TempDir(), "pulumi-resource-vpclink"), "."},
	} {
		start := time.Now()
		out, err := inDir(t, "provider", goCmd, args...)
		if err != nil {
			t.Fatalf("go %s in provider/: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s in provider/: %.1fs\n%s", strings.Join(args, " "), time.Since(start).Seconds(), out)
	}
}

// generateSDK writes the package's SDK for lang into a new directory, as
// `pulumi package add` would (local), and returns it.
func generateSDK(t *testing.T, lang string) string {
	t.Helper()
	out := t.TempDir()
	start := time.Now()
	if o, err := inDir(t, "provider", langgo.GoCommand(), "run", "./cmd/sdkgen", "-schema", "schema.json", "-lang", lang, "-out", out, "-local"); err != nil {
		t.Fatalf("sdkgen %s: %v\n%s", lang, err, o)
	}
	t.Logf("%s SDK generated in %.1fs", lang, time.Since(start).Seconds())
	return filepath.Join(out, lang)
}

// TestPythonSDK byte-compiles every file of the generated Python SDK (it
// cannot be imported or run here: PyPI, and so the pulumi package, is out
// of reach, and so is the Python language host).
func TestPythonSDK(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (.ci/run installs it): the generated Python SDK is not byte-compiled")
	}
	sdk := generateSDK(t, "python")
	var files []string
	filepath.Walk(sdk, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".py") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 5 {
		t.Fatalf("the Python SDK has %d .py files: %v", len(files), files)
	}
	if out, err := inDir(t, sdk, py, append([]string{"-m", "py_compile"}, files...)...); err != nil {
		t.Fatalf("py_compile: %v\n%s", err, out)
	}
	t.Logf("py_compile: %d files", len(files))
}

// TestTypeScriptExample type-checks examples/typescript/index.ts against
// the generated Node.js SDK with the pinned toolchain of its package-lock
// (scripts/npm-toolchain.sh, cached outside the clone), strict, the SDK's
// own sources included; and checks that a wrong program fails.
func TestTypeScriptExample(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs nodejs and npm): examples/typescript is not type-checked", tool)
		}
	}
	out, err := inDir(t, ".", "bash", "scripts/npm-toolchain.sh")
	if err != nil {
		if os.Geteuid() != 0 && strings.Contains(out, "ermission denied") {
			t.Skipf("cannot install the TypeScript toolchain into the npm cache as a user (run as root, or set VPCLINK_NPM_DIR): %s", lastLine(out))
		}
		t.Fatalf("scripts/npm-toolchain.sh: %v\n%s", err, out)
	}
	modules := lastLine(out)
	sdk := generateSDK(t, "nodejs")
	example, err := filepath.Abs("examples/typescript")
	if err != nil {
		t.Fatal(err)
	}
	tsc := func(t *testing.T, file string) (string, error) {
		t.Helper()
		// The example's own compiler options; resolution as after `pulumi
		// package add` and `npm install`: the SDK as @vpclink/vpclink,
		// everything else from the cached node_modules.
		var base map[string]any
		b, err := os.ReadFile(filepath.Join(example, "tsconfig.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &base); err != nil {
			t.Fatal(err)
		}
		opts := base["compilerOptions"].(map[string]any)
		opts["noEmit"] = true
		opts["baseUrl"] = "."
		opts["typeRoots"] = []string{filepath.Join(modules, "@types")}
		opts["paths"] = map[string][]string{
			"@vpclink/vpclink": {sdk},
			"*":                {filepath.Join(modules, "*"), filepath.Join(modules, "@types", "*")},
		}
		cfg := filepath.Join(t.TempDir(), "tsconfig.json")
		b, _ = json.Marshal(map[string]any{"compilerOptions": opts, "files": []string{file}})
		if err := os.WriteFile(cfg, b, 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := inDir(t, filepath.Dir(cfg), "node", filepath.Join(modules, "typescript", "bin", "tsc"), "-p", cfg)
		t.Logf("tsc %s: %.1fs", filepath.Base(file), time.Since(start).Seconds())
		return out, err
	}
	if out, err := tsc(t, filepath.Join(example, "index.ts")); err != nil {
		t.Fatalf("tsc examples/typescript/index.ts: %v\n%s", err, out)
	}
	out, err = tsc(t, filepath.Join(example, "testdata", "wrong.ts"))
	if err == nil {
		t.Fatalf("tsc accepted testdata/wrong.ts")
	}
	for _, want := range []string{"Property 'vpcCidr' is missing", "wrong.ts(11,5): error TS2322: Type 'string' is not assignable to type 'number'"} {
		if !strings.Contains(out, want) {
			t.Errorf("tsc on wrong.ts does not say %q:\n%s", want, out)
		}
	}
}
