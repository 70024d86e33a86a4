#!/usr/bin/env bash
# Install the pinned TypeScript toolchain of examples/typescript (package.json
# and package-lock.json there: typescript, @pulumi/pulumi, @types/node) with
# `npm ci` into a cache OUTSIDE the clone, and print its node_modules path.
# Reused while the lock file is unchanged (a stamp holds its hash); the
# tests (package_test.go) and .ci/run call it. Needs node and npm.
#
#   bash scripts/npm-toolchain.sh     # VPCLINK_NPM_DIR overrides /var/cache/vpclink-npm
set -euo pipefail
cd "$(dirname "$0")/.."
root=${VPCLINK_NPM_DIR:-/var/cache/vpclink-npm}
dir=$root/examples-typescript
lock=examples/typescript/package-lock.json
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ -d $dir/node_modules && "$(cat "$dir/.lock-sha256" 2>/dev/null)" == "$want" ]]; then
  echo "$dir/node_modules"
  exit 0
fi
mkdir -p "$dir"
cp examples/typescript/package.json "$lock" "$dir/"
rm -rf "$dir/node_modules" "$dir/.lock-sha256"
# Scripts are not run (nothing in the toolchain needs them); npm's own
# download cache is kept beside it. @pulumi/pulumi asks node >= 22 in its
# engines; npm only warns, and type-checking does not run it.
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error --cache "$root/_cacache") >&2
echo "$want" > "$dir/.lock-sha256"
echo "$dir/node_modules"
