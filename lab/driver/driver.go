// Package driver runs the real Pulumi CLI and engine on the project's own
// program with the lab's stand-ins for everything else Pulumi would load:
// the Go language host and the aws, command and random provider plugins
// (lab/plugins), built from this repository and declared as project
// plugins of the lab's project directory, so the CLI loads exactly these
// whatever else is on the machine. The backend is a file backend under the
// lab's state directory, secrets use a passphrase kept there, and the CLI
// runs inside the operator's namespace on the emulated internet, so
// remote.Command reaches the instances' Elastic IPs over real SSH, as from a
// laptop.
package driver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	awsplugin "github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/aws"
	commandplugin "github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/command"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/langgo"
	randomplugin "github.com/vpclink/pulumi-vpc-openvpn/lab/plugins/random"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// Lab is one lab: an emulated world and a stack of the program in it.
type Lab struct {
	World *world.World
	// Repo is the project's directory (Pulumi.yaml, main.go).
	Repo string
	// StackFile is the stack configuration the lab deploys; Stack its name.
	StackFile, Stack string
	// Log receives the CLI's output and the lab's progress.
	Log io.Writer
	// Toolchain is the directory of the pulumi CLI.
	Toolchain string
	opts      Options
}

// Options configure a lab.
type Options struct {
	// Prefix names every namespace of the lab (default vlab).
	Prefix string
	// Repo is the project directory (default: found from the working dir).
	Repo string
	// StackFile is the stack file to deploy (default Pulumi.dev.yaml).
	StackFile string
	// Log gets progress (default os.Stdout).
	Log io.Writer
	// Flavours pins the image of a region's instances (image.Trixie,
	// image.Sid, image.TrixieNoOVPN); by default the stack's regions
	// alternate between OpenVPN 2.6 (trixie) and 2.7 (sid), in site order.
	Flavours map[string]string
	// PreviewOnly prepares a lab that can preview but not deploy: no
	// images, no package repository (a preview creates nothing).
	PreviewOnly bool
	// Project, when set, is the directory of another Pulumi project to
	// deploy instead of the repository's program, e.g. examples/yaml (a
	// YAML program using the vpclink package); StackFile then defaults to
	// its Pulumi.dev.yaml. See writeOtherProject.
	Project string
}

// Open returns the lab of opts, up or not.
func Open(o Options) (*Lab, error) {
	if o.Prefix == "" {
		o.Prefix = "vlab"
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	if o.Repo == "" {
		var err error
		if o.Repo, err = FindRepo(); err != nil {
			return nil, err
		}
	}
	if o.StackFile == "" {
		o.StackFile = filepath.Join(o.Repo, "Pulumi.dev.yaml")
		if o.Project != "" {
			o.StackFile = filepath.Join(o.Project, "Pulumi.dev.yaml")
		}
	}
	w, err := world.New(o.Prefix, "")
	if err != nil {
		return nil, err
	}
	base := filepath.Base(o.StackFile)
	stack := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".yaml"), ".yml")
	return &Lab{World: w, Repo: o.Repo, StackFile: o.StackFile, Stack: stack, Log: o.Log, opts: o}, nil
}

// FindRepo finds the project directory from the working directory up.
func FindRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "lab", "cmd", "pulumi-resource-aws")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "Pulumi.yaml")); err == nil {
				return d, nil
			}
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("not inside the vpclink repository (no Pulumi.yaml and lab/ above %s)", dir)
		}
	}
}

func (l *Lab) logf(format string, args ...any) {
	fmt.Fprintf(l.Log, "[lab] "+format+"\n", args...)
}

// Paths inside the lab's state directory.
func (l *Lab) project() string    { return filepath.Join(l.World.Dir, "project") }
func (l *Lab) bin() string        { return filepath.Join(l.World.Dir, "bin") }
func (l *Lab) backend() string    { return filepath.Join(l.World.Dir, "backend") }
func (l *Lab) home() string       { return filepath.Join(l.World.Dir, "pulumi-home") }
func (l *Lab) passphrase() string { return filepath.Join(l.World.Dir, "passphrase") }

// ConfigFile is the lab's copy of the stack configuration.
func (l *Lab) ConfigFile() string {
	return filepath.Join(l.project(), "Pulumi."+l.Stack+".yaml")
}

// BackendDir is the file backend's directory (state, history, backups).
func (l *Lab) BackendDir() string { return l.backend() }

// Up builds the world, deploys the stack with `pulumi up` and returns the
// CLI's output. On failure the lab stays for inspection; Down removes it.
func (l *Lab) Up(ctx context.Context, upArgs ...string) (string, error) {
	if err := l.Prepare(ctx); err != nil {
		return "", err
	}
	return l.Pulumi(ctx, append([]string{"up", "--yes", "--skip-preview"}, upArgs...)...)
}

// Prepare builds the world and initialises the stack, without deploying.
func (l *Lab) Prepare(ctx context.Context) error {
	if err := Preflight(l.Log); err != nil {
		return err
	}
	tc, err := Toolchain(l.Repo, l.Log)
	if err != nil {
		return err
	}
	l.Toolchain = tc
	start := time.Now()
	if err := l.World.Base(); err != nil {
		return fmt.Errorf("lab: base network: %w", err)
	}
	if err := l.buildPlugin(ctx); err != nil {
		return err
	}
	// IMDS and the EC2 API, for the instances' own calls (issue 16).
	if err := l.World.StartEndpoints(filepath.Join(l.bin(), world.EndpointsCommand)); err != nil {
		return err
	}
	// The language host lists the program's modules from inside the lab,
	// which has no way out: have them all in the module cache first.
	if out, err := exec.CommandContext(ctx, langgo.GoCommand(), "mod", "download").CombinedOutput(); err != nil {
		return fmt.Errorf("go mod download: %w\n%s", err, out)
	}
	if !l.opts.PreviewOnly {
		if err := l.images(ctx); err != nil {
			return err
		}
	}
	if err := l.writeProject(); err != nil {
		return err
	}
	for _, d := range []string{l.backend(), l.home()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	pass := make([]byte, 24)
	rand.Read(pass)
	if err := os.WriteFile(l.passphrase(), []byte(hex.EncodeToString(pass)), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.World.Dir, "lab.json"), l.describe(), 0o600); err != nil {
		return err
	}
	if _, err := l.Pulumi(ctx, "stack", "init", l.Stack, "--secrets-provider", "passphrase", "--non-interactive"); err != nil {
		return err
	}
	if l.opts.Project != "" {
		if err := l.installPackagePlugins(ctx); err != nil {
			return err
		}
	}
	l.logf("stack %s ready in %.1fs (world %s, backend %s)", l.Stack, time.Since(start).Seconds(), l.World.Dir, l.backend())
	return nil
}

type description struct {
	Repo, StackFile, Stack, Toolchain string
	Project                           string `json:",omitempty"`
}

func (l *Lab) describe() []byte {
	b, _ := json.Marshal(description{l.Repo, l.StackFile, l.Stack, l.Toolchain, l.opts.Project})
	return b
}

// Load returns the lab that is up under a prefix, as Up left it.
func Load(prefix string, log io.Writer) (*Lab, error) {
	l, err := Open(Options{Prefix: prefix, Log: log, Repo: "-"})
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(l.World.Dir, "lab.json"))
	if err != nil {
		return nil, fmt.Errorf("no lab %q is up (%v): run `scripts/lab up` first", prefix, err)
	}
	var d description
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	l.Repo, l.StackFile, l.Stack, l.Toolchain, l.opts.Project = d.Repo, d.StackFile, d.Stack, d.Toolchain, d.Project
	return l, nil
}

// labCommands are built into the lab's bin directory: the stand-in
// plugins and the lab's package repository server.
var labCommands = []string{"vpclab-language-go", "pulumi-resource-aws", "pulumi-resource-command", "pulumi-resource-random", "vpclab-repo", world.EndpointsCommand}

// renamed are commands whose binary takes the name the CLI looks for: the
// language host's source directory is not named pulumi-language-go, which
// is the name of Pulumi's own host's source tree, so that nobody mistakes
// this one for a copy of it.
var renamed = map[string]string{"vpclab-language-go": "pulumi-language-go"}

func (l *Lab) buildPlugin(ctx context.Context) error {
	if err := os.MkdirAll(l.bin(), 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", l.bin() + "/"}
	for _, c := range labCommands {
		args = append(args, "./lab/cmd/"+c)
	}
	cmd := exec.CommandContext(ctx, langgo.GoCommand(), args...)
	cmd.Dir = l.Repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the lab's plugins (go %s): %w\n%s", strings.Join(args, " "), err, out)
	}
	for from, to := range renamed {
		if err := os.Rename(filepath.Join(l.bin(), from), filepath.Join(l.bin(), to)); err != nil {
			return err
		}
	}
	return nil
}

// ProjectPlugins is the `plugins:` section the lab adds to its project's
// Pulumi.yaml: the stand-ins in dir, each provider with the version its
// SDK asks for. Project plugins come before anything on PATH, next to the
// CLI or in the plugin cache, so an old pulumi-language-go or
// pulumi-resource-* elsewhere on the machine is never run; a provider whose
// SDK asks another version is not matched, and the CLI fails rather than
// run something else.
func ProjectPlugins(dir string) workspace.Plugins {
	return workspace.Plugins{
		Languages: []workspace.PluginOptions{{Name: "go", Path: dir}},
		Providers: []workspace.PluginOptions{
			{Name: "aws", Path: dir, Version: awsplugin.Version},
			{Name: "command", Path: dir, Version: commandplugin.Version},
			{Name: "random", Path: dir, Version: randomplugin.Version},
		},
	}
}

// writeProject makes the lab's project directory: the project's own
// Pulumi.yaml with `main` pointing at the repository (so the language host
// builds and runs the project's program) and the stack file, with SSH
// admitted from the operator (`pulumi up` connects from there).
func (l *Lab) writeProject() error {
	if err := os.MkdirAll(l.project(), 0o700); err != nil {
		return err
	}
	sshKey := "vpclink:sshAllowedCidrs"
	if l.opts.Project != "" {
		// The project's own config key, which it passes to the package.
		name, err := ProjectName(l.opts.Project)
		if err != nil {
			return err
		}
		if err := l.writeOtherProject(); err != nil {
			return err
		}
		return l.writeStack(name + ":sshAllowedCidrs")
	}
	proj, err := os.ReadFile(filepath.Join(l.Repo, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(proj, &doc); err != nil {
		return fmt.Errorf("Pulumi.yaml: %w", err)
	}
	for _, k := range []string{"main", "plugins"} {
		if _, ok := doc[k]; ok {
			return fmt.Errorf("Pulumi.yaml sets %s: the lab cannot set its own", k)
		}
	}
	rel, err := filepath.Rel(l.project(), l.Repo)
	if err != nil {
		return err
	}
	plugins, err := yaml.Marshal(map[string]any{"plugins": ProjectPlugins(l.bin())})
	if err != nil {
		return err
	}
	proj = append(proj, []byte("\n# Added by the vpclink lab: the program is the repository's, the language\n# host and provider plugins are the lab's stand-ins.\nmain: "+rel+"\n")...)
	proj = append(proj, plugins...)
	if err := os.WriteFile(filepath.Join(l.project(), "Pulumi.yaml"), proj, 0o600); err != nil {
		return err
	}
	return l.writeStack(sshKey)
}

// writeStack copies the stack file with SSH admitted from the operator
// only, under the config key sshKey.
func (l *Lab) writeStack(sshKey string) error {
	stack, err := os.ReadFile(l.StackFile)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(stack, &cfg); err != nil {
		return fmt.Errorf("%s: %w", l.StackFile, err)
	}
	values, _ := cfg["config"].(map[string]any)
	if values == nil {
		values = map[string]any{}
	}
	values[sshKey] = []string{world.OperatorIP + "/32"}
	cfg["config"] = values
	delete(cfg, "encryptionsalt")
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	l.logf("stack %s from %s: SSH admitted from the operator %s only", l.Stack, l.StackFile, world.OperatorIP)
	return os.WriteFile(l.ConfigFile(), out, 0o600)
}

// Env is the environment of every pulumi command of the lab.
func (l *Lab) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k := kv[:strings.IndexByte(kv, '=')]
		// Nothing of a real AWS or Pulumi account reaches the lab.
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "PULUMI_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	path := strings.Join([]string{l.bin(), l.Toolchain, filepath.Dir(langgo.GoCommand()), os.Getenv("PATH")}, ":")
	return append(env,
		"PATH="+path,
		"PULUMI_HOME="+l.home(),
		"PULUMI_BACKEND_URL=file://"+l.backend(),
		"PULUMI_CONFIG_PASSPHRASE_FILE="+l.passphrase(),
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		// Nothing on PATH is taken for a plugin: only the project plugins.
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
		"PULUMI_SUPPRESS_COPILOT_LINK=true",
		"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true",
		awsplugin.EnvState+"="+l.World.Dir,
		awsplugin.EnvPrefix+"="+l.World.Prefix,
		// The language host links the program into a kept file, again
		// only when it changed (Pulumi's host links every run: ~2.4 s).
		langgo.EnvProgramCache+"="+filepath.Join(l.World.Dir, "program"),
	)
}

// previewEnv is what a preview adds to Env. The engine (3.274) gives a
// preview a snapshot manager that discards what it saves, yet serialises
// and verifies the whole snapshot after every step: quadratic in the
// stack's resources (a 10-site mesh: 12 of 16 s). PULUMI_SKIP_CHECKPOINTS
// makes it save once, at the end, into the same discarding persister: what
// the preview shows and does is unchanged. Not for up, refresh or destroy,
// whose checkpoints are the state an interrupted run recovers from.
var previewEnv = []string{"PULUMI_SKIP_CHECKPOINTS=true"}

// noStackCommands take no --stack.
var noStackCommands = map[string]bool{"plugin": true, "package": true}

// configFileCommands take --config-file.
var configFileCommands = map[string]bool{"up": true, "preview": true, "destroy": true, "refresh": true, "config": true, "import": true}

// Command returns a pulumi command of the lab, run in the operator's
// namespace with the lab's environment, in the lab's project directory,
// on the lab's stack.
func (l *Lab) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := []string{"--net=/run/netns/" + l.World.NS("op"), "--", filepath.Join(l.Toolchain, "pulumi")}
	full = append(full, args...)
	if len(args) > 0 && args[0] != "stack" && !noStackCommands[args[0]] || len(args) > 1 && args[0] == "stack" && args[1] != "init" {
		full = append(full, "--stack", l.Stack)
	}
	if len(args) > 0 && configFileCommands[args[0]] {
		full = append(full, "--config-file", l.ConfigFile())
	}
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Dir = l.project()
	cmd.Env = l.Env()
	if len(args) > 0 && args[0] == "preview" {
		cmd.Env = append(cmd.Env, previewEnv...)
	}
	return cmd
}

// Pulumi runs a pulumi command of the lab; its output goes to the lab's
// log and is returned. The error names the command.
func (l *Lab) Pulumi(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := l.Command(ctx, args...)
	cmd.Stdout = io.MultiWriter(&out, l.Log)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	l.logf("pulumi %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		return out.String(), fmt.Errorf("pulumi %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// Outputs returns the stack outputs (secrets masked).
func (l *Lab) Outputs(ctx context.Context) (map[string]any, error) {
	var out bytes.Buffer
	cmd := l.Command(ctx, "stack", "output", "--json")
	cmd.Stdout = &out
	cmd.Stderr = l.Log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pulumi stack output: %w", err)
	}
	var m map[string]any
	return m, json.Unmarshal(out.Bytes(), &m)
}

// Down removes the whole lab: every host, namespace, mount and file,
// including the stack's backend. It works whatever state the stack is in.
func (l *Lab) Down() error {
	err := l.World.Down()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
