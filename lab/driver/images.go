package driver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/lab/image"
	"github.com/vpclink/pulumi-vpc-openvpn/lab/world"
)

// regions lists the stack's site regions in order.
func (l *Lab) regions() ([]string, error) {
	if l.opts.Project != "" {
		return projectRegions(filepath.Join(l.opts.Project, "Pulumi.yaml"))
	}
	b, err := os.ReadFile(l.StackFile)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", l.StackFile, err)
	}
	sites, _ := doc.Config["vpclink:sites"].([]any)
	var out []string
	seen := map[string]bool{}
	for _, s := range sites {
		m, _ := s.(map[string]any)
		if r, ok := m["region"].(string); ok && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// images builds (or reuses) the lab's Debian images, assigns one to each
// region and starts the lab's package repository on the emulated internet.
func (l *Lab) images(ctx context.Context) error {
	regions, err := l.regions()
	if err != nil {
		return err
	}
	flavours := map[string]string{}
	for i, r := range regions {
		flavours[r] = []string{image.Trixie, image.Sid}[i%2]
		if f, ok := l.opts.Flavours[r]; ok {
			flavours[r] = f
		}
	}
	set, err := image.Build(ctx, image.Options{Log: l.Log})
	if err != nil {
		return fmt.Errorf("lab images: %w", err)
	}
	err = l.World.Update(func(m *world.Model) error {
		for r, f := range flavours {
			lower, err := set.Lower(f)
			if err != nil {
				return err
			}
			m.SetImage(r, f, lower)
			v, _ := set.Version(f)
			l.logf("region %s: instances boot Debian %s (OpenVPN %s)", r, f, orNone(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	repo, err := set.Repo()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(l.World.Dir, "repo.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", "--net=/run/netns/"+l.World.NS("repo"), "--", filepath.Join(l.bin(), "vpclab-repo"), repo, world.RepoIP+":80")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab package repository: %w", err)
	}
	// Down stops it with every process of the lab's namespaces.
	return cmd.Process.Release()
}

func orNone(v string) string {
	if v == "" {
		return "none installed"
	}
	return v
}

// projectRegions are the regions another project (Options.Project) names:
// every `region:` value in its project file, in order of appearance (the
// sites of a Network written in YAML).
func projectRegions(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	seen := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "region" && i+1 < len(n.Content) {
				if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && !seen[v.Value] {
					seen[v.Value] = true
					out = append(out, v.Value)
				}
			}
			walk(c)
		}
	}
	walk(&doc)
	return out, nil
}
