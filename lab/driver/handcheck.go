package driver

import (
	"fmt"
	"os"
	"path/filepath"
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
