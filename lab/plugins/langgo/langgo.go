// Package langgo is the lab's own Go language host: the LanguageRuntime
// service (github.com/pulumi/pulumi/sdk/v3/proto/go) that the Pulumi engine
// starts as `pulumi-language-go` to run a Go program. Pulumi's own host
// cannot be built from the registries this project uses, so the lab runs
// this one; with it, `pulumi up` in the lab's project directory runs the
// project's program exactly as a user's CLI would: the engine asks for the
// program's plugins, then for each preview or update the host compiles the
// program and runs it with the engine's settings in its environment.
//
// What differs from Pulumi's host (sdk/go/pulumi-language-go 3.274.1):
//   - Plugins: Pulumi's host lists every module of the build (go list -m)
//     and reads each one's pulumi-plugin.json; this one lists the packages
//     the program actually imports (go list -deps) and reads the
//     pulumi-plugin.json in their directories. For SDKs that ship the file
//     (aws, command, random all do) the answer is the same; a module that
//     lacks it is not guessed from its path here.
//   - Compiling: both run `go build` for each run (so `up` builds twice,
//     preview and update, as the real one does), using the machine's Go
//     build cache; this one does not add -trimpath, so it shares the cache
//     with `go test` and `go vet`. Pulumi's host links into a temporary
//     file every time (~2.4 s for this program on 2 cores, most of a small
//     preview); with ProgramCache set (the lab sets EnvProgramCache) this
//     one links into a kept file, which `go build` relinks only when the
//     program or a dependency changed, and runs a hard link of it.
//   - Options: runtime option `binary` (a prebuilt program) is honoured;
//     `buildTarget`, `goc` debugging and `pulumi new` templates are not.
//   - Plugins written in Go (a directory with PulumiPlugin.yaml, `runtime:
//     go`, such as this repository's provider/): RunPlugin builds the
//     directory with `go build` (into the kept file with ProgramCache, as
//     for programs; Pulumi's host builds into a temporary file every
//     time) and runs it with the engine's arguments, environment and
//     directory, streaming its output back; InstallDependencies and
//     GetRequiredPackages serve plugin directories as they serve programs.
//     That is what `pulumi package add <dir>` and a project's `packages:`
//     entry need.
//   - `pulumi about`, `pulumi convert`, package generation and the other
//     calls of the service are refused as not implemented.
package langgo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is the pulumi-language-go version this host stands in for: the
// CLI's own (pulumi/pkg/v3 v3.274.1).
const Version = "3.274.1"

// ExitStatusLoggedError is the exit status of a Go program whose error the
// SDK has already reported to the engine (pulumi.Run): the engine is told
// to bail without printing it again.
const ExitStatusLoggedError = 32

// Host implements the LanguageRuntime service for Go programs.
type Host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	// Engine is the engine's gRPC address, given as the host's argument.
	Engine string
	// Go is the go command (default: "go" on PATH, then /usr/local/go/bin/go).
	Go string
	// Stdout and Stderr receive the program's output (default: the host's,
	// which the engine shows).
	Stdout, Stderr io.Writer
	// ProgramCache, when set, is a directory where the program is linked
	// into a kept file (one per program directory and entry point), so that
	// an unchanged program is not linked again; empty: a temporary file
	// per run, as Pulumi's host does.
	ProgramCache string
}

// EnvProgramCache names the directory the host's main takes for
// Host.ProgramCache.
const EnvProgramCache = "VPCLAB_GO_PROGRAM_CACHE"

func (h *Host) goCmd() string {
	if h.Go != "" {
		return h.Go
	}
	return GoCommand()
}

// GoCommand is the go command: "go" on PATH, else /usr/local/go/bin/go
// (sudo's secure_path drops Go's directory).
func GoCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Handshake takes the engine's address (newer engines send it here too).
func (h *Host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if a := req.GetEngineAddress(); a != "" {
		h.Engine = a
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports Version.
func (h *Host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// Plugin is what an SDK's pulumi-plugin.json says of the plugin it needs.
type Plugin struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server,omitempty"`
}

// RequiredPlugins lists the resource plugins of the Go packages that the
// program in dir (entry point target, "." by default) imports: each
// imported package directory holding a pulumi-plugin.json with
// "resource": true, sorted by name. Errors carry go list's output.
func (h *Host) RequiredPlugins(ctx context.Context, dir, target string) ([]Plugin, error) {
	if target == "" {
		target = "."
	}
	cmd := exec.CommandContext(ctx, h.goCmd(), "list", "-deps", "-f", "{{.Dir}}", target)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s in %s: %w\n%s", target, dir, err, stderr.String())
	}
	seen := map[string]bool{}
	var plugins []Plugin
	for _, d := range strings.Fields(string(out)) {
		b, err := os.ReadFile(filepath.Join(d, "pulumi-plugin.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		var p Plugin
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(d, "pulumi-plugin.json"), err)
		}
		if p.Resource && p.Name != "" && !seen[p.Name] {
			seen[p.Name] = true
			plugins = append(plugins, p)
		}
	}
	sort.Slice(plugins, func(i, j int) bool { return plugins[i].Name < plugins[j].Name })
	return plugins, nil
}

func programDir(info *pulumirpc.ProgramInfo, pwd string) (dir, target string) {
	dir, target = info.GetProgramDirectory(), info.GetEntryPoint()
	if dir == "" {
		dir = pwd
	}
	return dir, target
}

// GetRequiredPackages answers with RequiredPlugins.
func (h *Host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	dir, target := programDir(req.GetInfo(), "")
	plugins, err := h.RequiredPlugins(ctx, dir, target)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range plugins {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{Kind: "resource", Name: p.Name, Version: p.Version, Server: p.Server})
	}
	return resp, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages.
func (h *Host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir, target := programDir(req.GetInfo(), req.GetPwd())
	plugins, err := h.RequiredPlugins(ctx, dir, target)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range plugins {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{Kind: "resource", Name: p.Name, Version: p.Version, Server: p.Server})
	}
	return resp, nil
}

// Environment is what the Go SDK reads to connect a program to the engine
// (the PULUMI_* names of pulumi.Run: EnvProject, EnvConfig, ...), for one
// run request; it is added to the host's own environment.
func (h *Host) Environment(req *pulumirpc.RunRequest) ([]string, error) {
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := []string{
		"PULUMI_MONITOR=" + req.GetMonitorAddress(),
		"PULUMI_ENGINE=" + h.Engine,
		"PULUMI_PROJECT=" + req.GetProject(),
		"PULUMI_STACK=" + req.GetStack(),
		"PULUMI_ORGANIZATION=" + req.GetOrganization(),
		"PULUMI_ROOT_DIRECTORY=" + req.GetInfo().GetRootDirectory(),
		"PULUMI_CONFIG=" + string(config),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(keys),
		"PULUMI_DRY_RUN=" + strconv.FormatBool(req.GetDryRun()),
		"PULUMI_PARALLEL=" + strconv.Itoa(int(req.GetParallel())),
	}
	return env, nil
}

// Build compiles the program in dir (package target) to out. The error
// carries the compiler's output.
func (h *Host) Build(ctx context.Context, dir, target, out string) error {
	if target == "" {
		target = "."
	}
	cmd := exec.CommandContext(ctx, h.goCmd(), "build", "-o", out, target)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("unable to run `go build`: %w\n%s", err, b)
	}
	return nil
}

// buildCached builds the program in dir (package target) into its kept
// file under ProgramCache and hard-links it to out. `go build -o` of a file
// it built before relinks only when the build's inputs changed; when it
// does, it replaces the file (rename, or remove and write), so a link taken
// earlier, maybe of a program still running, keeps the old one. A lock
// file serialises two hosts building the same program.
func (h *Host) buildCached(ctx context.Context, dir, target, out string) error {
	if target == "" {
		target = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(abs + "\x00" + target))
	kept := filepath.Join(h.ProgramCache, "program-"+hex.EncodeToString(sum[:8]))
	lock, err := os.OpenFile(kept+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if err := h.Build(ctx, dir, target, kept); err != nil {
		return err
	}
	return os.Link(kept, out)
}

// Run compiles the program (or takes the runtime option `binary`) and runs
// it with Environment in the request's working directory. A program that
// exits ExitStatusLoggedError has reported its error itself: Bail. Any
// other failure is the response's Error.
func (h *Host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir, target := programDir(req.GetInfo(), req.GetPwd())
	program := ""
	if opts := req.GetInfo().GetOptions(); opts != nil {
		if b := opts.GetFields()["binary"].GetStringValue(); b != "" {
			program = b
			if !filepath.IsAbs(program) {
				program = filepath.Join(dir, program)
			}
		}
	}
	if program == "" {
		if h.ProgramCache != "" {
			if err := os.MkdirAll(h.ProgramCache, 0o700); err != nil {
				return nil, err
			}
		}
		// In the cache's directory, so that the program can be a hard link.
		tmp, err := os.MkdirTemp(h.ProgramCache, "pulumi-go.")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		program = filepath.Join(tmp, "program")
		if h.ProgramCache != "" {
			err = h.buildCached(ctx, dir, target, program)
		} else {
			err = h.Build(ctx, dir, target, program)
		}
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
	}
	env, err := h.Environment(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, program, req.GetArgs()...)
	cmd.Dir = req.GetPwd()
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = h.Stdout, h.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == ExitStatusLoggedError:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exit.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("running program %s: %v", program, err)}, nil
	}
}

// RunPlugin builds the plugin in the request's program directory (as Run
// builds a program: the kept file with ProgramCache, else a temporary
// file) and runs it with the request's arguments, environment (only
// that: the engine sends the plugin's whole environment) and working
// directory, streaming its stdout and stderr to the engine, then its exit
// code. A build failure is the call's error, with the compiler's output.
func (h *Host) RunPlugin(req *pulumirpc.RunPluginRequest, stream pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := stream.Context()
	dir, target := programDir(req.GetInfo(), req.GetPwd())
	if h.ProgramCache != "" {
		if err := os.MkdirAll(h.ProgramCache, 0o700); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp(h.ProgramCache, "pulumi-go-plugin.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	plugin := filepath.Join(tmp, "plugin")
	if h.ProgramCache != "" {
		err = h.buildCached(ctx, dir, target, plugin)
	} else {
		err = h.Build(ctx, dir, target, plugin)
	}
	if err != nil {
		return fmt.Errorf("building the plugin in %s: %w", dir, err)
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(stream, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd := exec.CommandContext(ctx, plugin, req.GetArgs()...)
	cmd.Dir = req.GetPwd()
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	cmd.Env = req.GetEnv()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("running plugin %s: %w", dir, err)
		}
		code = exit.ExitCode()
	}
	// Everything the plugin wrote is sent before its exit code.
	if err := closer.Close(); err != nil {
		return err
	}
	return stream.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

// InstallDependencies downloads the program's modules (`go mod download`),
// streaming the output.
func (h *Host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, stream pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	dir, _ := programDir(req.GetInfo(), req.GetDirectory())
	cmd := exec.CommandContext(stream.Context(), h.goCmd(), "mod", "download")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		if serr := stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: out}); serr != nil {
			return serr
		}
	}
	if err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	return nil
}

// Cancel has nothing to stop: a running program ends with the engine.
func (h *Host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
