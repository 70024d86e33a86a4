// Command configschema writes the configuration schema of components/topology
// (schema.go) into the two documents that describe it to users: the config
// section of Pulumi.yaml, which the Pulumi CLI also checks `pulumi config set`
// values against, and the README's configuration tables, between the lines
// <!-- config-table --> and <!-- /config-table -->. Everything else in both
// files is left as it is.
//
// Run it from anywhere in the repository after changing the schema:
//
//	go run ./components/topology/cmd/configschema
//
// (or `go generate ./components/topology`). With -check it changes nothing and
// exits 1 when a file differs from what the schema generates. The package's
// tests fail in the same case.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// regenerate is the command that rewrites the generated parts, for messages.
const regenerate = "go run ./components/topology/cmd/configschema"

// The README's generated part lies between these lines.
const (
	readmeStart = "<!-- config-table -->"
	readmeEnd   = "<!-- /config-table -->"
)

func main() {
	check := flag.Bool("check", false, "change nothing; exit 1 when Pulumi.yaml or README.md differs from the schema")
	flag.Parse()
	root, err := repoRoot()
	if err == nil {
		err = run(root, *check)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "configschema:", err)
		os.Exit(1)
	}
}

// repoRoot is the nearest directory above the working directory holding
// go.mod and Pulumi.yaml (go generate runs in the package's directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		_, errMod := os.Stat(filepath.Join(dir, "go.mod"))
		_, errProj := os.Stat(filepath.Join(dir, "Pulumi.yaml"))
		if errMod == nil && errProj == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the repository (no go.mod and Pulumi.yaml above the working directory)")
		}
		dir = parent
	}
}

// run rewrites (or, with check, compares) the generated parts of the two
// files under root.
func run(root string, check bool) error {
	var stale []string
	for _, f := range []struct {
		name   string
		update func([]byte) ([]byte, error)
	}{
		{"Pulumi.yaml", updateProject},
		{"README.md", updateReadme},
	} {
		path := filepath.Join(root, f.name)
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		updated, err := f.update(old)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if bytes.Equal(old, updated) {
			continue
		}
		if check {
			stale = append(stale, f.name)
			continue
		}
		if err := os.WriteFile(path, updated, 0o644); err != nil {
			return err
		}
		fmt.Println("configschema: wrote", f.name)
	}
	if len(stale) > 0 {
		verb := "differs"
		if len(stale) > 1 {
			verb = "differ"
		}
		return fmt.Errorf("%s %s from what components/topology/schema.go generates; run %s", strings.Join(stale, " and "), verb, regenerate)
	}
	return nil
}

// updateProject replaces the config section of Pulumi.yaml (from the line
// "config:" to the next top-level key or the end) with the generated one.
func updateProject(doc []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(doc), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == "config:" {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, errors.New(`no line "config:" to put the generated section at`)
	}
	end := start + 1
	for end < len(lines) && !topLevel(lines[end]) {
		end++
	}
	// Blank lines before the next key stay with it.
	for end > start+1 && strings.TrimSpace(lines[end-1]) == "" && end < len(lines) {
		end--
	}
	out := strings.Join(lines[:start], "") + projectConfig(topology.InputSchema()) + strings.Join(lines[end:], "")
	return []byte(out), nil
}

// topLevel reports whether a line of Pulumi.yaml starts a top-level key.
func topLevel(l string) bool {
	return l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '\n' && l[0] != '\r'
}

// updateReadme replaces what lies between the README's markers.
func updateReadme(doc []byte) ([]byte, error) {
	s := string(doc)
	i := strings.Index(s, readmeStart+"\n")
	j := strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return nil, fmt.Errorf("no lines %s ... %s to put the generated tables between", readmeStart, readmeEnd)
	}
	i += len(readmeStart) + 1
	return []byte(s[:i] + readmeTables(topology.InputSchema()) + s[j:]), nil
}

// --- Pulumi.yaml ---

// projectConfig renders the config section of Pulumi.yaml.
func projectConfig(schema []topology.KeyDoc) string {
	var b strings.Builder
	b.WriteString("config:\n")
	b.WriteString("  # Generated from components/topology/schema.go by\n")
	b.WriteString("  # `" + regenerate + "`:\n")
	b.WriteString("  # edit the schema there, not this section.\n")
	for _, k := range schema {
		if k.Secret {
			// The CLI would apply secret: true to the default too, and
			// refuse the empty one as not encrypted: the program itself
			// refuses a plain-text value instead.
			b.WriteString("  # Secret (a plain-text value is refused by the program; `secret: true` would make\n")
			b.WriteString("  # the CLI refuse the empty default as well).\n")
		}
		fmt.Fprintf(&b, "  %s:%s:\n", topology.ConfigNamespace, k.Name)
		fmt.Fprintf(&b, "    type: %s\n", k.Type)
		if k.Type == topology.TypeArray {
			fmt.Fprintf(&b, "    items:\n      type: %s\n", k.Items)
		}
		b.WriteString("    description: >-\n")
		for n, p := range strings.Split(projectDescription(k), "\n") {
			if n > 0 {
				b.WriteString("\n")
			}
			for _, l := range wrap(p, 74) {
				b.WriteString("      " + l + "\n")
			}
		}
		if d, ok := projectDefault(k); ok {
			fmt.Fprintf(&b, "    default: %s\n", yamlValue(d))
		}
	}
	return b.String()
}

// projectDescription is a key's description in Pulumi.yaml: for a list of
// objects, followed by one paragraph per field (Pulumi.yaml has no schema for
// the fields of an object).
func projectDescription(k topology.KeyDoc) string {
	parts := []string{k.Description}
	for _, f := range k.Fields {
		parts = append(parts, fmt.Sprintf("%s[i].%s (%s; %s): %s", k.Name, f.Name, typeText(f, plain), defaultText(f, plain), f.Description))
	}
	return strings.Join(parts, "\n")
}

// projectDefault is the default Pulumi.yaml declares. The CLI requires every
// key without one, so an optional key the program fills in itself gets its
// type's empty value ("" or []), which the program reads as left out.
func projectDefault(k topology.KeyDoc) (any, bool) {
	switch {
	case k.Required:
		return nil, false
	case k.Default != nil:
		return k.Default, true
	case k.Type == topology.TypeArray:
		return []string{}, true
	case k.Type == topology.TypeString:
		return "", true
	}
	panic(fmt.Sprintf("configschema: %s: an optional %s without a default has no empty value in Pulumi.yaml", k.Name, k.Type))
}

// yamlValue renders a default in flow style: plain where YAML reads the
// text back as the same string, JSON (valid YAML) otherwise.
func yamlValue(v any) string {
	if s, ok := v.(string); ok && s != "" {
		var back any
		if err := yaml.Unmarshal([]byte(s), &back); err == nil && back == s && !strings.ContainsAny(s, ":#'\"[]{},&*!|>%@`") {
			return s
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(out), `","`, `", "`)
}

// wrap cuts a paragraph into lines of at most width bytes at spaces (a
// longer word stays whole). Folded back by YAML, the lines are the
// paragraph again: every cut is at one space.
func wrap(p string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Split(p, " ") {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

// --- README ---

// style says how a value is marked up: as Markdown code in the README, as
// it is in Pulumi.yaml.
type style int

const (
	plain style = iota
	markdown
)

func (s style) code(v string) string {
	if s == markdown {
		return "`" + v + "`"
	}
	return v
}

// typeText names a key's type for a reader: "string", "list of strings",
// "`tls` or `static`", with ", secret".
func typeText(k topology.KeyDoc, s style) string {
	t := string(k.Type)
	if k.Type == topology.TypeArray {
		t = "list of " + string(k.Items) + "s"
	}
	if len(k.Allowed) > 0 {
		var vals []string
		for _, a := range k.Allowed {
			vals = append(vals, s.code(a))
		}
		t += ": " + strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
	}
	if k.Secret {
		t += ", secret"
	}
	return t
}

// defaultText says what leaving a key out means.
func defaultText(k topology.KeyDoc, s style) string {
	switch {
	case k.Required:
		return "required"
	case k.Default != nil:
		v := fmt.Sprint(k.Default)
		if _, ok := k.Default.([]string); ok {
			b, _ := json.Marshal(k.Default)
			v = string(b)
		}
		if s == plain {
			return "default " + v
		}
		return s.code(v)
	case s == plain:
		return "default: " + strings.ReplaceAll(k.Unset, "`", "")
	}
	return k.Unset
}

// readmeTables renders the README's tables of keys and of fields.
func readmeTables(schema []topology.KeyDoc) string {
	var b strings.Builder
	b.WriteString("<!-- Generated from components/topology/schema.go by `" + regenerate + "`: edit the schema there, not these tables. -->\n\n")
	b.WriteString("| key | type | default | |\n|---|---|---|---|\n")
	for _, k := range schema {
		t := typeText(k, markdown)
		if len(k.Fields) > 0 {
			t += " (fields below)"
		}
		row(&b, "`"+topology.ConfigNamespace+":"+k.Name+"`", t, defaultText(k, markdown), readmeText(k))
	}
	b.WriteString("\nFields of each element of `vpclink:sites` and `vpclink:links` " +
		"(set one with `pulumi config set --path 'vpclink:sites[0].availabilityZone' eu-west-1b`):\n\n")
	b.WriteString("| field | type | default | |\n|---|---|---|---|\n")
	for _, k := range schema {
		for _, f := range k.Fields {
			row(&b, "`"+k.Name+"[i]."+f.Name+"`", typeText(f, markdown), defaultText(f, markdown), readmeText(f))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// readmeText is a key's description in the README: with its README note.
func readmeText(k topology.KeyDoc) string {
	if k.ReadmeNote == "" {
		return k.Description
	}
	return k.Description + " " + k.ReadmeNote
}

// row writes one table row; a | inside a cell would end it.
func row(b *strings.Builder, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}
