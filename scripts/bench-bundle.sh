#!/usr/bin/env bash
# Bundle benchmarks with their targets (issue #3):
#   1. SHA-256 throughput of sha2 vs `openssl dgst -sha256` over the same bytes (>= 0.9x).
#      Compared on user CPU time (wall time is noise on a shared machine): openssl dgst
#      over FILE, best of 5, vs sha2 hashing the same bytes PASSES times in one process.
#   2. Load + verify + validate a generated 10,000-policy bundle across 500 namespaces
#      (<= 0.5 s, <= 100 MiB peak RSS), in its own process: `verify_revision` +
#      `load_verified`, 5 runs; wall time per run and the process's peak RSS.
#   3. The daemon's later loads with its cache warm: the same tree again, and a revision
#      with one file changed.
# Usage: scripts/bench-bundle.sh [MiB to hash, default 256]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}
PASSES=10
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --bench bundle_load >&2
BIN=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/bundle_load-* | grep -v '\.d$' | head -1)

echo "== SHA-256 over ${MIB} MiB (the same file for both)"
head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$WORK/data"
ossl=$(openssl dgst -sha256 -r "$WORK/data" | cut -d' ' -f1)
sha2=$("$BIN" sha256 "$WORK/data")
[ "$(echo "$sha2" | awk '{print $2}')" = "$ossl" ] || { echo "digest mismatch: $sha2 vs $ossl"; exit 1; }
ossl_user=$(for _ in 1 2 3 4 5; do /usr/bin/time -f "%U" openssl dgst -sha256 "$WORK/data" 2>&1 >/dev/null; done | sort -n | head -1)
sha2_user=$( { /usr/bin/time -f "%U" "$BIN" sha256-passes "$WORK/data" "$PASSES" >/dev/null; } 2>&1 | tail -1)
ossl_rate=$(echo "$MIB / $ossl_user" | bc -l)
sha2_rate=$(echo "$MIB * $PASSES / $sha2_user" | bc -l)
printf 'openssl dgst -sha256: %7.1f MiB/s of user CPU (%s s for %s MiB, best of 5)\n' "$ossl_rate" "$ossl_user" "$MIB"
printf 'sha2:                 %7.1f MiB/s of user CPU (%s s for %s x %s MiB)\n' "$sha2_rate" "$sha2_user" "$PASSES" "$MIB"
printf 'ratio sha2/openssl:   %.2f (target >= 0.9); digests equal (%s)\n' "$(echo "$sha2_rate / $ossl_rate" | bc -l)" "$ossl"
echo "wall-clock figures (meaningful on an idle machine): $(echo "$sha2" | awk '{printf "sha2 %s MiB/s in memory, %s MiB/s reading the file", $3, $4}')"

echo "== load + verify + validate: 10,000 policies across 500 namespaces"
"$BIN" generate "$WORK/bundle" 10000 500
/usr/bin/time -v "$BIN" load "$WORK/bundle" 2> "$WORK/time.txt"
grep -E "Maximum resident set size|User time|Elapsed \(wall clock\)|Percent of CPU" "$WORK/time.txt"
"$BIN" stages "$WORK/bundle"
echo "== the daemon's later loads, with its cache warm"
"$BIN" load-cached "$WORK/bundle"
