package langgo

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// The repository's own program needs exactly the plugins of the SDKs in
// go.mod, at their versions.
func TestRequiredPluginsOfTheProgram(t *testing.T) {
	h := &Host{}
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: repo, ProgramDirectory: repo, EntryPoint: "."},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.GetPackages() {
		got = append(got, p.GetKind()+":"+p.GetName()+"@"+p.GetVersion())
	}
	want := "resource:aws@6.83.4 resource:command@1.2.1 resource:random@4.21.2"
	if strings.Join(got, " ") != want {
		t.Fatalf("required packages = %v, want %s", got, want)
	}
}

// program writes a Go module with main.go = src into a new directory.
func program(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module example.com/prog\n\ngo 1.26\n", "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, dir string, req *pulumirpc.RunRequest) *pulumirpc.RunResponse {
	t.Helper()
	if req.Info == nil {
		req.Info = &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."}
	}
	req.Pwd = dir
	var out strings.Builder
	h := &Host{Engine: "127.0.0.1:1", Stdout: &out, Stderr: &out}
	resp, err := h.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("program output: %s", out.String())
	return resp
}

// The program sees the engine's settings as the Go SDK reads them.
func TestRunEnvironment(t *testing.T) {
	dir := program(t, `package main

import (
	"encoding/json"
	"os"
)

func main() {
	env := map[string]string{}
	for _, k := range []string{"PULUMI_MONITOR", "PULUMI_ENGINE", "PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_CONFIG",
		"PULUMI_CONFIG_SECRET_KEYS", "PULUMI_DRY_RUN", "PULUMI_PARALLEL", "PULUMI_ROOT_DIRECTORY", "PULUMI_ORGANIZATION"} {
		env[k] = os.Getenv(k)
	}
	b, _ := json.Marshal(env)
	os.WriteFile("env.json", b, 0o600)
}
`)
	resp := run(t, dir, &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:2", Project: "vpclink", Stack: "dev", Organization: "organization",
		Config: map[string]string{"vpclink:tunnelMtu": "1300"}, ConfigSecretKeys: []string{"vpclink:sshPrivateKey"},
		DryRun: true, Parallel: 16,
	})
	if resp.GetError() != "" || resp.GetBail() {
		t.Fatalf("run: %v", resp)
	}
	b, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PULUMI_MONITOR": "127.0.0.1:2", "PULUMI_ENGINE": "127.0.0.1:1", "PULUMI_PROJECT": "vpclink", "PULUMI_STACK": "dev",
		"PULUMI_CONFIG": `{"vpclink:tunnelMtu":"1300"}`, "PULUMI_CONFIG_SECRET_KEYS": `["vpclink:sshPrivateKey"]`,
		"PULUMI_DRY_RUN": "true", "PULUMI_PARALLEL": "16", "PULUMI_ROOT_DIRECTORY": dir, "PULUMI_ORGANIZATION": "organization",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

// Exit status 32 means the SDK reported the error already: bail. Any other
// failure, including a compile error, is the run's error.
func TestRunFailures(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		bail      bool
		err       string
	}{
		{"error already logged", "package main\nimport \"os\"\nfunc main() { os.Exit(32) }\n", true, ""},
		{"other exit status", "package main\nimport \"os\"\nfunc main() { os.Exit(3) }\n", false, "program exited with non-zero exit code: 3"},
		{"compile error", "package main\nfunc main() { undefinedThing() }\n", false, "undefined: undefinedThing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := run(t, program(t, tc.src), &pulumirpc.RunRequest{Project: "p", Stack: "s"})
			if resp.GetBail() != tc.bail || !strings.Contains(resp.GetError(), tc.err) || (tc.err == "") != (resp.GetError() == "") {
				t.Fatalf("run = bail %v error %q, want bail %v error containing %q", resp.GetBail(), resp.GetError(), tc.bail, tc.err)
			}
		})
	}
}

// The runtime option `binary` runs a prebuilt program without compiling.
func TestRunBinaryOption(t *testing.T) {
	dir := program(t, "package main\nimport \"os\"\nfunc main() { os.WriteFile(\"ran\", []byte(os.Args[0]), 0o600) }\n")
	h := &Host{}
	bin := filepath.Join(dir, "prebuilt")
	if err := h.Build(context.Background(), dir, ".", bin); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { does not compile }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, _ := structpb.NewStruct(map[string]any{"binary": "prebuilt"})
	resp := run(t, dir, &pulumirpc.RunRequest{Project: "p", Stack: "s",
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: ".", Options: opts}})
	if resp.GetError() != "" {
		t.Fatalf("run: %s", resp.GetError())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ran")); string(b) != bin {
		t.Fatalf("ran %q, want %q", b, bin)
	}
}

// With ProgramCache the program is linked into a kept file: an unchanged
// program runs without being linked again, a changed one is rebuilt, a
// compile error is reported as without the cache, and nothing of a run is
// left behind but the kept file and its lock.
func TestRunProgramCache(t *testing.T) {
	src := func(v string) string {
		return "package main\nimport \"os\"\nfunc main() { os.WriteFile(\"ran\", []byte(\"" + v + "\"), 0o600) }\n"
	}
	dir := program(t, src("v1"))
	cache := filepath.Join(t.TempDir(), "cache")
	runCached := func() *pulumirpc.RunResponse {
		t.Helper()
		req := &pulumirpc.RunRequest{Project: "p", Stack: "s", Pwd: dir,
			Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."}}
		resp, err := (&Host{Engine: "127.0.0.1:1", ProgramCache: cache}).Run(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	kept := func() os.FileInfo {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(cache, "program-*[^k]"))
		if len(m) != 1 {
			t.Fatalf("kept programs %v, want one", m)
		}
		fi, err := os.Stat(m[0])
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	ran := func(want string) {
		t.Helper()
		if b, _ := os.ReadFile(filepath.Join(dir, "ran")); string(b) != want {
			t.Fatalf("the program wrote %q, want %q", b, want)
		}
	}
	if resp := runCached(); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	ran("v1")
	first := kept()
	if resp := runCached(); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	ran("v1")
	if !os.SameFile(first, kept()) {
		t.Error("an unchanged program was linked again")
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp := runCached(); resp.GetError() != "" {
		t.Fatal(resp.GetError())
	}
	ran("v2")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp := runCached(); !strings.Contains(resp.GetError(), "undefined: undefinedThing") {
		t.Fatalf("compile error = %q", resp.GetError())
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.HasSuffix(names[1], ".lock") {
		t.Errorf("left in the cache: %v, want the kept program and its lock", names)
	}
}

// pluginStream collects what RunPlugin sends.
type pluginStream struct {
	pulumirpc.LanguageRuntime_RunPluginServer
	stdout, stderr strings.Builder
	exit           []int32
}

func (s *pluginStream) Context() context.Context { return context.Background() }

func (s *pluginStream) Send(r *pulumirpc.RunPluginResponse) error {
	switch o := r.GetOutput().(type) {
	case *pulumirpc.RunPluginResponse_Stdout:
		s.stdout.Write(o.Stdout)
	case *pulumirpc.RunPluginResponse_Stderr:
		s.stderr.Write(o.Stderr)
	case *pulumirpc.RunPluginResponse_Exitcode:
		s.exit = append(s.exit, o.Exitcode)
	}
	return nil
}

// RunPlugin builds a Go plugin directory and runs it with exactly the
// engine's arguments, environment and directory, streaming its output and
// then its exit code; with ProgramCache it is linked into the kept file.
func TestRunPlugin(t *testing.T) {
	dir := program(t, `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Println("port 12345")
	fmt.Fprintln(os.Stderr, "on stderr")
	os.WriteFile("seen", []byte(strings.Join(os.Args[1:], ",")+"|"+os.Getenv("FROM_ENGINE")+"|"+os.Getenv("HOME")+"|"+wd), 0o600)
	os.Exit(3)
}
`)
	for _, cache := range []string{"", filepath.Join(t.TempDir(), "cache")} {
		s := &pluginStream{}
		err := (&Host{ProgramCache: cache}).RunPlugin(&pulumirpc.RunPluginRequest{
			Pwd: dir, Args: []string{"127.0.0.1:9", "-x"}, Env: []string{"FROM_ENGINE=yes"}, Kind: "resource",
			Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
		}, s)
		if err != nil {
			t.Fatal(err)
		}
		if s.stdout.String() != "port 12345\n" || s.stderr.String() != "on stderr\n" || len(s.exit) != 1 || s.exit[0] != 3 {
			t.Fatalf("cache %q: stdout %q stderr %q exit %v", cache, s.stdout.String(), s.stderr.String(), s.exit)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "seen"))
		if want := "127.0.0.1:9,-x|yes||" + dir; string(b) != want {
			t.Fatalf("the plugin saw %q, want %q", b, want)
		}
		if cache != "" {
			if m, _ := filepath.Glob(filepath.Join(cache, "program-*")); len(m) != 2 {
				t.Errorf("cache holds %v, want the kept plugin and its lock", m)
			}
		}
	}
}

// A plugin that does not compile fails the call with the compiler's words.
func TestRunPluginCompileError(t *testing.T) {
	dir := program(t, "package main\nfunc main() { undefinedThing() }\n")
	err := (&Host{}).RunPlugin(&pulumirpc.RunPluginRequest{Pwd: dir,
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."}}, &pluginStream{})
	if err == nil || !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Fatalf("err = %v", err)
	}
}

// The repository's provider (the vpclink package) needs the plugins of
// the component's children: aws, command and random, at the program's
// versions.
func TestRequiredPluginsOfTheProvider(t *testing.T) {
	dir, err := filepath.Abs("../../../provider")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&Host{}).GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{
		Info: &pulumirpc.ProgramInfo{RootDirectory: dir, ProgramDirectory: dir, EntryPoint: "."},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.GetPackages() {
		got = append(got, p.GetKind()+":"+p.GetName()+"@"+p.GetVersion())
	}
	if want := "resource:aws@6.83.4 resource:command@1.2.1 resource:random@4.21.2"; strings.Join(got, " ") != want {
		t.Fatalf("required packages = %v, want %s", got, want)
	}
}
