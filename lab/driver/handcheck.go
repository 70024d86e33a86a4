package driver

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// handCheckMarker precedes, in README.md, the fenced block of the lab's
// hand-check commands, written for the default prefix.
const handCheckMarker = "<!-- lab-hand-check -->"

// defaultPrefix is the prefix of a lab started without -prefix.
const defaultPrefix = "vlab"

// HandCheck returns the README's lab hand-check commands for the lab with
// prefix: the block after handCheckMarker in repo/README.md, with the
// default prefix's operator namespace and `scripts/lab pulumi --` turned
// into prefix's. The README is the one source: `scripts/lab up` prints
// these and a lab test runs them.
func HandCheck(repo, prefix string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(string(b), handCheckMarker)
	if !ok {
		return "", fmt.Errorf("README.md: no %s block", handCheckMarker)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		return "", fmt.Errorf("README.md: no ```sh block after %s", handCheckMarker)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		return "", fmt.Errorf("README.md: the block after %s does not end", handCheckMarker)
	}
	if prefix != defaultPrefix {
		block = strings.ReplaceAll(block, "scripts/lab pulumi --", "scripts/lab pulumi -prefix "+prefix+" --")
		block = strings.ReplaceAll(block, "netns exec "+defaultPrefix+"-op ", "netns exec "+prefix+"-op ")
	}
	return block, nil
}

// The README's block pings from site a's terminal to site b's, 10.1.1.40.
const (
	handCheckFrom = ".a.terminalPublicIp"
	handCheckTo   = " 10.1.1.40"
)

// plainJQName is a site name jq takes after a dot.
var plainJQName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ForStack turns the hand-check block (HandCheck, written for the reference
// stack: from site a's terminal to site b's) into one for the stack whose
// outputs are outs: from the first site of the first link (by name) whose
// two sites have terminals, to the other's terminal. It returns "" when no
// link has terminals at both ends.
func ForStack(block string, outs map[string]any) string {
	sites, _ := outs["sites"].(map[string]any)
	links, _ := outs["links"].(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(links)) {
		l, _ := links[n].(map[string]any)
		ends, _ := l["sites"].([]any)
		if len(ends) != 2 {
			continue
		}
		from, to := fmt.Sprint(ends[0]), fmt.Sprint(ends[1])
		a, _ := sites[from].(map[string]any)
		b, _ := sites[to].(map[string]any)
		ip, _ := b["terminalPrivateIp"].(string)
		if a["terminalPublicIp"] == nil || ip == "" {
			continue
		}
		field := "." + from + ".terminalPublicIp"
		if !plainJQName.MatchString(from) {
			// Quoted for the shell too.
			field = fmt.Sprintf(`'.["%s"].terminalPublicIp'`, from)
		}
		block = strings.ReplaceAll(block, handCheckFrom, field)
		return strings.ReplaceAll(block, handCheckTo, " "+ip)
	}
	return ""
}
