#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 20 seconds, every target)
#
# Builds and runs each target for SECONDS with libFuzzer, starting from its seeds
# (fuzz/seeds/TARGET) and corpus (fuzz/corpus/TARGET), adding what it finds to the
# corpus. Exits non-zero if a target crashes (a panic, a timeout, running out of memory),
# after printing the input that did it (fuzz/artifacts/TARGET/).
# Needs the nightly toolchain; installs cargo-fuzz when it is missing.
#
# Environment:
#   FUZZ_CMIN=1          minimise each corpus after its run (`cargo fuzz cmin`, set cover)
#   FUZZ_TIMEOUT=10      seconds one input may take before it counts as a hang
#   FUZZ_TARGET_DIR      build directory (default fuzz/target; CARGO_TARGET_DIR is ignored,
#                        so that the sanitizer build never mixes with the main one)
#   FUZZ_LOG_DIR         libFuzzer's output per target (default fuzz/target/logs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-20}
if [ $# -gt 0 ]; then shift; fi
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

# cargo-fuzz needs a nightly compiler (-Zsanitizer, sancov passes).
if cargo +nightly --version >/dev/null 2>&1; then
  cargo=(cargo +nightly)
elif rustc --version 2>/dev/null | grep -q nightly; then
  cargo=(cargo)
else
  echo "fuzz: the nightly toolchain is required and not installed." >&2
  echo "fuzz: install it with \`rustup toolchain install nightly --profile minimal\` and run again." >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

unset CARGO_TARGET_DIR
target_dir=${FUZZ_TARGET_DIR:-$root/fuzz/target}
log_dir=${FUZZ_LOG_DIR:-$root/fuzz/target/logs}
timeout=${FUZZ_TIMEOUT:-10}
mkdir -p "$log_dir"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${cargo[@]}" fuzz list)
fi
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz: no target $t (see \`cargo fuzz list\`)" >&2; exit 2; }
done

# One build for all the targets asked for (the library is compiled once).
echo "== fuzz: building ${targets[*]}" >&2
if [ $# -eq 0 ]; then
  "${cargo[@]}" fuzz build --target-dir "$target_dir"
else
  for t in "${targets[@]}"; do
    "${cargo[@]}" fuzz build --target-dir "$target_dir" "$t"
  done
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  artifacts=fuzz/artifacts/$t
  log=$log_dir/$t.log
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  mkdir -p "$corpus" "$artifacts"
  marker=$(mktemp)
  echo "== fuzz: $t for ${seconds}s (log: $log)" >&2
  status=0
  # New inputs go to the first directory; fuzz/seeds/TARGET (the hand-made examples,
  # named for what they are) is only read.
  "${cargo[@]}" fuzz run --target-dir "$target_dir" "$t" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$timeout" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  crash=$(find "$artifacts" -type f -newer "$marker" \
    \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | head -n 1)
  rm -f "$marker"
  if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
    grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "$log" | head -n 5 >&2 || true
    echo "fuzz: $t FAILED (exit $status); input: ${crash:-none written, see $log}" >&2
    [ -n "$crash" ] && echo "fuzz: reproduce with: cargo +nightly fuzz run $t $crash" >&2
    failed+=("$t")
    continue
  fi
  # libFuzzer's last status line, e.g. "#123456 DONE cov: 1234 ft: 2345 corp: ... exec/s: 2057"
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | tr -s ' \t' ' ')
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
  runs=$(echo "$done_line" | awk '{print $2}')
  ran=$(echo "$done_line" | awk '{print $5}')
  if [ "${FUZZ_CMIN:-0}" = 1 ]; then
    # A set cover: the fewest inputs that keep every feature (-merge=1 alone keeps more).
    "${cargo[@]}" fuzz cmin --target-dir "$target_dir" "$t" "$corpus" -- \
      -set_cover_merge=1 -rss_limit_mb=2048 -timeout="$timeout" >"$log_dir/$t.cmin.log" 2>&1
  fi
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{n += $1} END {print n + 0}')
  summary+=("$t: ${ran:-?}s, ${runs:-?} runs, $(echo "$last" | grep -oE 'cov: [0-9]+|ft: [0-9]+|exec/s: [0-9]+' | paste -sd' '), corpus $files files $bytes bytes")
done

echo "== fuzz: summary" >&2
for line in "${summary[@]}"; do echo "  $line" >&2; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
