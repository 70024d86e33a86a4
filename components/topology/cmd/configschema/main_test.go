package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/vpclink/pulumi-vpc-openvpn/components/topology"
)

// root is the repository, from this package's directory.
var root = filepath.Join("..", "..", "..", "..")

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAsGenerated fails with the first differing line when a file is not
// what the schema generates.
func sameAsGenerated(t *testing.T, name string, update func([]byte) ([]byte, error)) {
	t.Helper()
	old := read(t, name)
	want, err := update(old)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) == string(want) {
		return
	}
	got, exp := strings.Split(string(old), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(got), len(exp)); i++ {
		var g, e string
		if i < len(got) {
			g = got[i]
		}
		if i < len(exp) {
			e = exp[i]
		}
		if g != e {
			t.Fatalf("%s differs from what components/topology/schema.go generates, first at line %d:\n have: %s\n want: %s\nChange the schema, not the file, then run: %s", name, i+1, g, e, regenerate)
		}
	}
}

// TestPulumiYAMLIsGenerated: the config section of Pulumi.yaml is the
// schema's, as the command writes it.
func TestPulumiYAMLIsGenerated(t *testing.T) {
	sameAsGenerated(t, "Pulumi.yaml", updateProject)
}

// TestREADMEConfigTablesAreGenerated: the README's configuration tables are
// the schema's, as the command writes them.
func TestREADMEConfigTablesAreGenerated(t *testing.T) {
	sameAsGenerated(t, "README.md", updateReadme)
}

// TestPulumiYAMLAsTheCLIReadsIt reads Pulumi.yaml with the Pulumi SDK's own
// project loader (the CLI's schema and checks, e.g. that a default has the
// declared type) and compares every key's type, items, default and
// description, after YAML's folding, with the schema.
func TestPulumiYAMLAsTheCLIReadsIt(t *testing.T) {
	proj, err := workspace.LoadProjectBytes(read(t, "Pulumi.yaml"), "Pulumi.yaml", encoding.YAML)
	if err != nil {
		t.Fatalf("the CLI would refuse Pulumi.yaml: %v", err)
	}
	schema := topology.InputSchema()
	if len(proj.Config) != len(schema) {
		t.Errorf("Pulumi.yaml declares %d keys, the schema %d", len(proj.Config), len(schema))
	}
	for _, k := range schema {
		name := topology.ConfigNamespace + ":" + k.Name
		c, ok := proj.Config[name]
		if !ok {
			t.Errorf("Pulumi.yaml lacks %s", name)
			continue
		}
		if c.TypeName() != string(k.Type) {
			t.Errorf("%s: type %q, the schema's %q", name, c.TypeName(), k.Type)
		}
		if items := ""; k.Type == "array" {
			if c.Items != nil {
				items = c.Items.Type
			}
			if items != string(k.Items) {
				t.Errorf("%s: items %q, the schema's %q", name, items, k.Items)
			}
		}
		if want := projectDescription(k); c.Description != want {
			t.Errorf("%s: description\n %q\nthe schema's\n %q", name, c.Description, want)
		}
		want, hasDefault := projectDefault(k)
		if (c.Default != nil) != hasDefault || hasDefault && jsonText(t, c.Default) != jsonText(t, want) {
			t.Errorf("%s: default %s, the schema's %s", name, jsonText(t, c.Default), jsonText(t, want))
		}
		// The CLI merges the default in and then refuses it as not
		// encrypted: a key with a default is never declared secret.
		if c.Secret && c.Default != nil {
			t.Errorf("%s: secret with a default: the CLI refuses every stack that leaves it out", name)
		}
	}
}

func jsonText(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTunnelModeDocumentedEverywhere (issue 15): tunnelMode and links[].mode
// are in Pulumi.yaml, the README's tables and the component's input schema.
func TestTunnelModeDocumentedEverywhere(t *testing.T) {
	proj, readme := string(read(t, "Pulumi.yaml")), string(read(t, "README.md"))
	for _, want := range []string{"vpclink:tunnelMode:", "links[i].mode ("} {
		if !strings.Contains(proj, want) {
			t.Errorf("Pulumi.yaml lacks %q", want)
		}
	}
	for _, want := range []string{"| `vpclink:tunnelMode` |", "| `links[i].mode` |"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks the row %q", want)
		}
	}
	if _, ok := topology.Lookup("tunnelMode"); !ok {
		t.Error("the input schema lacks tunnelMode")
	}
	if _, ok := topology.Lookup("links", "mode"); !ok {
		t.Error("the input schema lacks links[].mode")
	}
}

// TestREADMELinksResolve: every link of the generated tables to a section
// of the README names a heading there (GitHub's anchors).
func TestREADMELinksResolve(t *testing.T) {
	readme := string(read(t, "README.md"))
	anchors := map[string]bool{}
	for _, l := range strings.Split(readme, "\n") {
		if h, ok := strings.CutPrefix(l, "#"); ok {
			anchors[slug(strings.TrimLeft(h, "# "))] = true
		}
	}
	links := regexp.MustCompile(`\]\(#([^)]*)\)`).FindAllStringSubmatch(readmeTables(topology.InputSchema()), -1)
	if len(links) == 0 {
		t.Fatal("no section links in the tables")
	}
	for _, m := range links {
		if !anchors[m[1]] {
			t.Errorf("the tables link to #%s, which is no heading of README.md", m[1])
		}
	}
}

// slug is GitHub's anchor of a heading: lowercase, punctuation dropped,
// spaces as '-'.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// TestCheckMode: -check changes nothing and names the stale file and the
// command; a current tree passes.
func TestCheckMode(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Pulumi.yaml", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), read(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := run(dir, true); err != nil {
		t.Fatalf("a tree just generated: %v", err)
	}
	current, _ := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	stale := strings.Replace(string(current), "default: 1400", "default: 1300", 1)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(dir, true)
	if err == nil || !strings.Contains(err.Error(), "Pulumi.yaml") || !strings.Contains(err.Error(), regenerate) {
		t.Errorf("a stale Pulumi.yaml: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "Pulumi.yaml")); string(b) != stale {
		t.Error("-check wrote the file")
	}
	if err := run(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := run(dir, true); err != nil {
		t.Errorf("after regenerating: %v", err)
	}
}

// The wrapped lines fold back to the paragraph (YAML joins them with one
// space), and a word longer than the width stays whole.
func TestWrap(t *testing.T) {
	p := "a bb ccc " + strings.Repeat("x", 20) + " d"
	lines := wrap(p, 6)
	if strings.Join(lines, " ") != p {
		t.Errorf("wrap(%q) = %q", p, lines)
	}
	for _, l := range lines {
		if len(l) > 6 && strings.Contains(l, " ") {
			t.Errorf("line %q is longer than 6 and could be cut", l)
		}
	}
}

func TestYAMLValue(t *testing.T) {
	for v, want := range map[any]string{
		"t3.micro": "t3.micro", "": `""`, "1194": `"1194"`, "true": `"true"`, "a: b": `"a: b"`, 1400: "1400", true: "true",
	} {
		if got := yamlValue(v); got != want {
			t.Errorf("yamlValue(%#v) = %s, want %s", v, got, want)
		}
	}
	if got := yamlValue([]string{"0.0.0.0/0", "10.0.0.0/8"}); got != `["0.0.0.0/0", "10.0.0.0/8"]` {
		t.Errorf("yamlValue(list) = %s", got)
	}
	if got := yamlValue([]string{}); got != "[]" {
		t.Errorf("yamlValue(empty list) = %s", got)
	}
}
