#!/usr/bin/env bash
# Build the Pulumi YAML language host (pulumi-language-yaml) offline, from the Go module proxy only,
# against the SAME pulumi pkg/sdk version as the CLI (/opt/pulumi-toolchain/bin/pulumi, v3.274.1).
# The lab runs examples/yaml with it (lab/driver YAMLHost builds it on first use; .ci/run too).
# No registry here serves Pulumi's released binary; Pulumi's installer bundles it with the CLI.
# Cold: ~4 min and ~1.7 GB of Go caches; warm (the CLI's modules cached): ~45 s; present: 0 s.
#
#   bash scripts/build-yaml-host.sh            # builds $OUT/bin/pulumi-language-yaml if missing
#   FORCE=1 bash scripts/build-yaml-host.sh    # rebuilds it
#
# Idempotent: an existing binary is kept unless FORCE=1. Nothing is downloaded but modules.
set -euo pipefail

OUT=${PULUMI_YAML_DIR:-/opt/pulumi-toolchain/yaml}
BIN=$OUT/bin
WORK=$OUT/build-recipe
FORCE=${FORCE:-}
NICE=(nice -n "${NICE_LEVEL:-10}")

YAML_VERSION=v1.38.1          # github.com/pulumi/pulumi-yaml (its go.mod asks pkg/sdk v3.255.0)
PULUMI_VERSION=v3.274.1       # forced up to the CLI's version (MVS keeps the higher one)

export PATH=/usr/local/go/bin:$PATH
export GOFLAGS=-buildvcs=false
export GOTOOLCHAIN=local

info() { echo "    $*"; }
mkdir -p "$BIN" "$WORK"
echo "==> [$(date +%T)] pulumi-language-yaml $YAML_VERSION against pulumi $PULUMI_VERSION ($(go version))"

if [[ -z "$FORCE" && -x "$BIN/pulumi-language-yaml" ]]; then
  info "$BIN/pulumi-language-yaml exists ($(du -h "$BIN/pulumi-language-yaml" | cut -f1)); skipping (FORCE=1 to rebuild)"
else
  d=$WORK/yaml; mkdir -p "$d"
  cat > "$d/go.mod" <<EOF
module pulumitoolchain/yaml

go 1.26.6

require (
	github.com/pulumi/pulumi-yaml $YAML_VERSION
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

// same replace as pulumi/pkg/go.mod (replaces in dependencies do not apply to us)
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  cat > "$d/tools.go" <<'EOF'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
EOF
  rm -f "$d/go.sum"
  t0=$(date +%s)
  (cd "$d" && "${NICE[@]}" go mod tidy)
  info "go mod tidy: $(( $(date +%s) - t0 ))s"
  # fail loudly if tidy moved the pins
  for m in "github.com/pulumi/pulumi-yaml $YAML_VERSION" "github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION" \
           "github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION"; do
    got=$(cd "$d" && go list -m "${m%% *}")
    [[ "$got" == "$m" ]] || { echo "pin moved: want '$m', got '$got'" >&2; exit 1; }
  done
  t0=$(date +%s)
  (cd "$d" && "${NICE[@]}" go build -o "$BIN/pulumi-language-yaml" \
      -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$YAML_VERSION" \
      github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml)
  info "built $BIN/pulumi-language-yaml: $(du -h "$BIN/pulumi-language-yaml" | cut -f1) in $(( $(date +%s) - t0 ))s"
fi
(cd "$WORK/yaml" 2>/dev/null && go version -m "$BIN/pulumi-language-yaml" | grep -E 'pulumi-yaml|pulumi/(pkg|sdk)/v3' ) || true
