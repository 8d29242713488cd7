#!/usr/bin/env bash
# Scale benchmark of `netpol-sync sync --once`: 10,000 policies across 500 namespaces
# against apiserver-emu on loopback, side by side with `kubectl create -f` of the same
# objects. Prints wall time, peak RSS and write counts for the first sync, a no-op cycle
# and a one-policy change. Needs git, ssh-keygen, kubectl and /usr/bin/time.
# `--real [POLICIES] [NAMESPACES]`: the same on the real control plane, with
# `kubectl apply --server-side -f` beside `kubectl create -f` (scripts/bench-sync-real.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --real ]; then
  shift
  exec bash scripts/bench-sync-real.sh "$@"
fi
cargo bench --bench sync_scale
