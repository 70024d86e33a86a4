package driver

import (
	"context"
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
)

// A lab deploys the repository's Go program unless Options.Project names
// another Pulumi project, such as examples/yaml: a program that uses the
// vpclink package (provider/) instead of being the program. Its
// Pulumi.yaml is copied with the lab's plugins added (and the toolchain's
// YAML language host for runtime yaml), its relative `packages:` paths
// made absolute; the package's plugin, a Go plugin directory, is built and
// run by the lab's Go language host (RunPlugin), as `pulumi package add`
// and `pulumi up` would with Pulumi's own.

// YAMLHostDir is where scripts/build-yaml-host.sh installs
// pulumi-language-yaml.
func YAMLHostDir() string {
	if d := os.Getenv("PULUMI_YAML_DIR"); d != "" {
		return filepath.Join(d, "bin")
	}
	return "/opt/pulumi-toolchain/yaml/bin"
}

// YAMLHost returns the directory of the YAML language host, building it
// from the Go module proxy with the repository's recipe when missing (once
// per machine: ~4 min cold, ~45 s with the CLI's modules cached).
func YAMLHost(repo string, log io.Writer) (string, error) {
	dir := YAMLHostDir()
	if st, err := os.Stat(filepath.Join(dir, "pulumi-language-yaml")); err == nil && !st.IsDir() {
		return dir, nil
	}
	recipe := filepath.Join(repo, "scripts", "build-yaml-host.sh")
	fmt.Fprintf(log, "[lab] no pulumi-language-yaml in %s: building it with %s (once per machine)\n", dir, recipe)
	start := time.Now()
	cmd := exec.Command("bash", recipe)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the YAML language host: %w", err)
	}
	fmt.Fprintf(log, "[lab] YAML language host built in %s\n", time.Since(start).Round(time.Second))
	return dir, nil
}

// projectDoc reads a project file and refuses what the lab sets itself.
func projectDoc(path string, refuse ...string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range refuse {
		if _, ok := doc[k]; ok {
			return nil, fmt.Errorf("%s sets %s: the lab cannot set its own", path, k)
		}
	}
	return doc, nil
}

// ProjectName is the `name:` of the project file in dir.
func ProjectName(dir string) (string, error) {
	doc, err := projectDoc(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return "", err
	}
	name, _ := doc["name"].(string)
	if name == "" {
		return "", fmt.Errorf("%s has no name", filepath.Join(dir, "Pulumi.yaml"))
	}
	return name, nil
}

// packageDirs are the local directories of the project's `packages:`,
// absolute.
func packageDirs(project string, doc map[string]any) map[string]string {
	dirs := map[string]string{}
	pkgs, _ := doc["packages"].(map[string]any)
	for name, v := range pkgs {
		src, _ := v.(string)
		if src == "" {
			if m, ok := v.(map[string]any); ok {
				src, _ = m["source"].(string)
			}
		}
		if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
			if !filepath.IsAbs(src) {
				src = filepath.Join(project, src)
			}
			dirs[name] = filepath.Clean(src)
		}
	}
	return dirs
}

// writeOtherProject is writeProject for Options.Project: the project's
// Pulumi.yaml with absolute package paths and the lab's plugins.
func (l *Lab) writeOtherProject() error {
	project := l.opts.Project
	doc, err := projectDoc(filepath.Join(project, "Pulumi.yaml"), "main", "plugins")
	if err != nil {
		return err
	}
	if dirs := packageDirs(project, doc); len(dirs) > 0 {
		pkgs := map[string]any{}
		for name, dir := range dirs {
			pkgs[name] = dir
		}
		doc["packages"] = pkgs
	}
	plugins := ProjectPlugins(l.bin())
	if rt, _ := doc["runtime"].(string); rt == "yaml" || isMap(doc["runtime"], "name", "yaml") {
		yamlDir, err := YAMLHost(l.Repo, l.Log)
		if err != nil {
			return err
		}
		plugins.Languages = append(plugins.Languages, workspace.PluginOptions{Name: "yaml", Path: yamlDir})
	}
	doc["plugins"] = plugins
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	out = append([]byte("# "+filepath.Join(project, "Pulumi.yaml")+", as the vpclink lab runs it: package paths\n# made absolute, the lab's language hosts and plugins added.\n"), out...)
	return os.WriteFile(filepath.Join(l.project(), "Pulumi.yaml"), out, 0o600)
}

func isMap(v any, k, want string) bool {
	m, ok := v.(map[string]any)
	return ok && m[k] == want
}

// installPackagePlugins prepares what the project's local packages need
// from inside the lab (which has no way out): each Go package directory's
// modules in the module cache, and the stand-in providers in the lab's
// plugin cache at their SDK versions, since the CLI installs a package's
// required plugins (GetRequiredPackages: aws, command, random) before it
// asks for its schema and would otherwise try to download them; and the
// lab's Go language host in the plugin cache too: the CLI starts a Go
// plugin directory's host for `package add` without reading the
// project's `plugins:` (which it does for programs), and with ambient
// plugins ignored the cache is where it looks after the CLI's own
// directory (`pulumi plugin install` refuses bundled hosts: the file is
// linked in place, as the CLI lays its cache out).
func (l *Lab) installPackagePlugins(ctx context.Context) error {
	doc, err := projectDoc(filepath.Join(l.opts.Project, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	dirs := packageDirs(l.opts.Project, doc)
	if len(dirs) == 0 {
		return nil
	}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			continue
		}
		cmd := exec.CommandContext(ctx, langgo.GoCommand(), "mod", "download")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go mod download in %s: %w\n%s", dir, err, out)
		}
	}
	host := filepath.Join(l.home(), "plugins", "language-go-v"+langgo.Version)
	if err := os.MkdirAll(host, 0o700); err != nil {
		return err
	}
	if err := os.Link(filepath.Join(l.bin(), "pulumi-language-go"), filepath.Join(host, "pulumi-language-go")); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.WriteFile(host+".lock", nil, 0o600); err != nil {
		return err
	}
	for name, version := range map[string]string{"aws": awsplugin.Version, "command": commandplugin.Version, "random": randomplugin.Version} {
		if _, err := l.Pulumi(ctx, "plugin", "install", "resource", name, version, "-f", filepath.Join(l.bin(), "pulumi-resource-"+name)); err != nil {
			return err
		}
	}
	return nil
}
