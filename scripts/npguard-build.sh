#!/usr/bin/env bash
# Builds np-guard's netpol-analyzer command, `netpolicy`, from the module pinned in
# tests/npguard/go.mod and go.sum: the independent analyser tests/it/reach_npguard.rs and
# scripts/bench-reach.sh run beside `netpol-sync reach` (docs/reachability.md). Prints the
# binary's path.
#
# Cached under target/npguard/<version>-<go.sum digest>/netpolicy (CARGO_TARGET_DIR is
# honoured, as by scripts/kube-build.sh): a second run with the same pins prints the path at
# once. NPGUARD_BIN, when set, names a binary to use instead and is printed as it is.
# `--path` prints where the binary is or would be, and builds nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mod="$root/tests/npguard"
if [ -n "${NPGUARD_BIN:-}" ]; then
  [ -x "$NPGUARD_BIN" ] || { echo "npguard-build: NPGUARD_BIN=$NPGUARD_BIN is not an executable" >&2; exit 1; }
  echo "$NPGUARD_BIN"
  exit 0
fi
version="$(awk '$1 == "require" && $2 == "github.com/np-guard/netpol-analyzer" { print $3; exit }
                $1 == "github.com/np-guard/netpol-analyzer" && $2 ~ /^v/ { print $2; exit }' "$mod/go.mod")"
[ -n "$version" ] || { echo "npguard-build: no github.com/np-guard/netpol-analyzer require in $mod/go.mod" >&2; exit 1; }
pins="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)"
out="${CARGO_TARGET_DIR:-$root/target}/npguard/$version-$pins"
bin="$out/netpolicy"
if [ -x "$bin" ] || [ "${1:-}" = --path ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "npguard-build: go is required (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$out"
echo "npguard-build: building netpol-analyzer $version into $out (about a minute cold)" >&2
(
  cd "$mod"
  # -mod=readonly: go.sum is the pin; a build never rewrites it. -buildvcs=false: the
  # binary is upstream's, not this checkout's. Built to a temporary name and renamed, so an
  # interrupted build never leaves a binary the check above would take as complete.
  CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" \
    -o "$bin.tmp" github.com/np-guard/netpol-analyzer/cmd/netpolicy
)
mv "$bin.tmp" "$bin"
echo "$bin"
