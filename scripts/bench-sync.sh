#!/usr/bin/env bash
# Scale benchmark of `netpol-sync sync --once`: 10,000 policies across 500 namespaces
# against apiserver-emu on loopback, side by side with `kubectl create -f` of the same
# objects. Prints wall time, peak RSS and write counts for the first sync, a no-op cycle
# and a one-policy change. Needs git, ssh-keygen, kubectl and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench sync_scale
