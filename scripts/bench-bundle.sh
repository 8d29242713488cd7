#!/usr/bin/env bash
# Bundle benchmarks with their targets (issue #3):
#   1. SHA-256 throughput of sha2 vs `openssl dgst -sha256` over the same bytes (>= 0.9x).
#   2. Load + verify + validate a generated 10,000-policy bundle across 500 namespaces
#      (<= 0.5 s, <= 100 MiB peak RSS), in its own process.
# Usage: scripts/bench-bundle.sh [MiB to hash, default 512]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-512}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --bench bundle_load >/dev/null 2>&1 || cargo bench --no-run --bench bundle_load
BIN=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/bundle_load-* | grep -v '\.d$' | head -1)

echo "== SHA-256 over ${MIB} MiB (same file for both)"
head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$WORK/data"
best=""
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N)
  ossl=$(openssl dgst -sha256 -r "$WORK/data" | cut -d' ' -f1)
  end=$(date +%s.%N)
  t=$(echo "$end - $start" | bc -l)
  if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
done
ossl_rate=$(echo "$MIB / $best" | bc -l)
sha2_line=$("$BIN" sha256 "$WORK/data")
sha2_digest=$(echo "$sha2_line" | awk '{print $2}')
sha2_mem=$(echo "$sha2_line" | awk '{print $3}')
sha2_file=$(echo "$sha2_line" | awk '{print $4}')
[ "$sha2_digest" = "$ossl" ] || { echo "digest mismatch: sha2 $sha2_digest openssl $ossl"; exit 1; }
# In-memory figure for openssl: `openssl speed` on 16 KiB blocks (k = 1000 bytes/s).
ossl_speed_k=$(openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v}')
ossl_mem=$(echo "$ossl_speed_k * 1000 / 1048576" | bc -l)
printf 'file   openssl dgst -sha256: %8.1f MiB/s   sha2 (read+hash): %8.1f MiB/s   ratio %.2f\n' \
  "$ossl_rate" "$sha2_file" "$(echo "$sha2_file / $ossl_rate" | bc -l)"
printf 'memory openssl speed sha256: %8.1f MiB/s   sha2:             %8.1f MiB/s   ratio %.2f\n' \
  "$ossl_mem" "$sha2_mem" "$(echo "$sha2_mem / $ossl_mem" | bc -l)"
echo "(target: ratio >= 0.9; digests equal: $ossl)"

echo "== load + verify + validate: 10,000 policies, 500 namespaces"
"$BIN" generate "$WORK/bundle" 10000 500
/usr/bin/time -v "$BIN" load "$WORK/bundle" 2> "$WORK/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt"
