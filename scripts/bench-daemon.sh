#!/usr/bin/env bash
# Benchmarks `netpol-sync run` on loopback, with real parts only: git's http-backend
# (scripts/git-http-backend-server.py), the API server emulator, signed commits and bundles made
# by git and ssh-keygen, and the release binaries.
#
#   scripts/bench-daemon.sh [POLICIES] [SAMPLES]      (defaults: 10000 policies, 11 samples)
#   ISOLATION=process scripts/bench-daemon.sh        (the daemon's --cycle-isolation; default thread)
#   REAL=1 scripts/bench-daemon.sh                   (the real control plane of scripts/kube-up.sh,
#                                                     netpol-sync with its own identity, instead of the emulator)
#
# Prints: time of the first full apply; webhook-to-enforced latency (p50, max) for a
# one-policy change; no-change poll cycle time (ls-remote + drift check, from the daemon's
# own cycle histogram); hand deletion to put back through the drift watch (p50, max);
# steady-state RSS of `run`; CPU used while idle between cycles.
set -euo pipefail

POLICIES=${1:-10000}
SAMPLES=${2:-11}
NAMESPACES=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}   # PROFILE=debug only to try the script quickly
BIN=$TARGET/$PROFILE/netpol-sync
EMU=$TARGET/$PROFILE/apiserver-emu
[ "$PROFILE" = release ] && FLAG=--release || FLAG=
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build $FLAG -p netpol-sync --bin netpol-sync && cargo build $FLAG -p apiserver-emu --bin apiserver-emu) >&2

WORK=$(mktemp -d)
PIDS=()
# RUN_LOG=FILE keeps the daemon's log (with RUST_LOG for its level, default warn).
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -z "${REAL:-}" ] || bash "$ROOT/scripts/kube-down.sh" "$WORK/kube" || true
    [ -z "${RUN_LOG:-}" ] || cp "$WORK/run.log" "$RUN_LOG"; rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
. "$ROOT/scripts/lib/signed-repo.sh"

# --- a signed repository with $POLICIES policies in one bundle ------------------------
REPO=$WORK/repo
signed_repo_init "$WORK" "$REPO" bench@example.com
mkdir -p "$REPO/bundles/bench"
ns_list=$(seq -f 'bench-%g' 0 $((NAMESPACES - 1)) | paste -sd, -)
policy() { # ns name port
    printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  podSelector:\n    matchLabels:\n      app: %s\n  policyTypes: [Ingress]\n  ingress:\n  - ports:\n    - port: %s\n' "$2" "$1" "$2" "$3"
}
for i in $(seq 0 $((POLICIES - 1))); do
    ns=bench-$((i % NAMESPACES))
    mkdir -p "$REPO/bundles/bench/$ns"
    policy "$ns" "p$i" 8080 > "$REPO/bundles/bench/$ns/p$i.yaml"
done
printf 'apiVersion: netpol-sync/v1\nkind: Bundle\nname: bench\nnamespaces: [%s]\nfiles: []\n' "$ns_list" > "$REPO/bundles/bench/bundle.yaml"
seal_and_commit() {
    seal_and_sign "$BIN" "$REPO/bundles/bench" "$WORK/key" bench
    commit_and_push "$REPO" "$WORK/srv/policies.git" "$1"
}
mkdir -p "$WORK/srv"
git init -q --bare -b main "$WORK/srv/policies.git"
FIRST=$(seal_and_commit "bench: $POLICIES policies")

# --- servers ---------------------------------------------------------------------------
GIT_PORT=$(free_port)
python3 "$ROOT/scripts/git-http-backend-server.py" "$WORK/srv" "$GIT_PORT" >/dev/null 2>&1 &
PIDS+=($!)
if [ -n "${REAL:-}" ]; then
    bash "$ROOT/scripts/kube-up.sh" "$WORK/kube" 2>/dev/null
    KUBECTL="$(bash "$ROOT/scripts/kube-build.sh")/kubectl --kubeconfig $WORK/kube/admin.kubeconfig"
    for n in $(seq 0 $((NAMESPACES - 1))); do $KUBECTL create namespace "bench-$n" >/dev/null; done
    cp "$WORK/kube/netpol-sync.kubeconfig" "$WORK/kubeconfig"
else
    EMU_PORT=$(free_port)
    emu_ns=(--namespace netpol-sync); for n in $(seq 0 $((NAMESPACES - 1))); do emu_ns+=(--namespace "bench-$n"); done
    "$EMU" --listen "127.0.0.1:$EMU_PORT" --kubeconfig-out "$WORK/kubeconfig" "${emu_ns[@]}" >/dev/null &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$WORK/kubeconfig" ] && break; sleep 0.1; done
fi
echo -n 'hook-secret' > "$WORK/hook"
openssl rand -hex 32 > "$WORK/state-key"
HTTP_PORT=$(free_port)
START=$(now_ms)
RUST_LOG=${RUST_LOG:-warn} "$BIN" run --repo "http://127.0.0.1:$GIT_PORT/policies.git" --branch main \
    --trust-anchor "$WORK/anchor" --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/cache" \
    --state-key "$WORK/state-key" --listen "127.0.0.1:$HTTP_PORT" --webhook-secret-file "$WORK/hook" --interval "${INTERVAL:-1h}" \
    --cycle-isolation "${ISOLATION:-thread}" 2>"$WORK/run.log" &
RUN_PID=$!
PIDS+=($RUN_PID)
readyz() { curl -s "http://127.0.0.1:$HTTP_PORT/readyz" || true; }
wait_enforced() { # revision, timeout seconds
    local deadline=$(( $(date +%s) + $2 ))
    until readyz | grep -q "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "timeout waiting for $1: $(readyz)"; tail -5 "$WORK/run.log"; exit 1; }
        sleep 0.02
    done
}
wait_enforced "$FIRST" 900
echo "first apply of $POLICIES policies: $(( $(now_ms) - START )) ms"

hook() {
    local body='{"ref":"refs/heads/main"}'
    local sig; sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac hook-secret | sed 's/^.*= //')
    curl -s -o /dev/null -X POST -H "X-Hub-Signature-256: sha256=$sig" --data "$body" "http://127.0.0.1:$HTTP_PORT/hooks/git"
}

metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1==m {print $2}'; }

# --- webhook-to-enforced latency for a one-policy change -------------------------------
lat=()
cycles0=$(metric netpol_sync_cycle_duration_seconds_count)
for s in $(seq 1 "$SAMPLES"); do
    policy bench-0 p0 $((9000 + s)) > "$REPO/bundles/bench/bench-0/p0.yaml"
    REV=$(seal_and_commit "bench: change $s")
    t0=$(now_ms); hook; wait_enforced "$REV" 120; t1=$(now_ms)
    lat+=($((t1 - t0)))
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
p50=$(echo "$sorted" | sed -n "$(( (SAMPLES + 1) / 2 ))p")
echo "webhook-to-enforced (one policy of $POLICIES): p50 ${p50} ms, max $(echo "$sorted" | tail -1) ms, samples: ${lat[*]}"
# A cycle's own writes come back through the drift watch; recognised, they start no cycle.
echo "cycles for those $SAMPLES changes: $(( $(metric netpol_sync_cycle_duration_seconds_count) - cycles0 )); drift-watch changes recognised as the daemon's own so far: $(metric netpol_sync_drift_watch_own_changes_total)"

# --- no-change poll cycles: trigger N cycles on an unchanged branch ----------------------
c0=$(metric netpol_sync_cycle_duration_seconds_count); s0=$(metric netpol_sync_cycle_duration_seconds_sum)
quiet0=$(metric netpol_sync_cycles_live_from_watch_total)
# PERF_OUT=FILE profiles the no-change cycles (whole machine: the daemon, the emulator,
# the git server); use PROFILE=profiling for symbols.
if [ -n "${PERF_OUT:-}" ]; then perf record -q -F 2000 -a -g -o "$PERF_OUT" >/dev/null 2>&1 & PERF_PID=$!; sleep 1; fi
for _ in $(seq 1 "$SAMPLES"); do
    before=$(metric netpol_sync_cycle_duration_seconds_count); hook
    # Polled gently: the figure is the daemon's own histogram, and a busy poll (a curl
    # every 20 ms) would take CPU from the cycle it measures on a 2-core machine.
    until [ "$(metric netpol_sync_cycle_duration_seconds_count)" != "$before" ]; do sleep 0.2; done
done
c1=$(metric netpol_sync_cycle_duration_seconds_count); s1=$(metric netpol_sync_cycle_duration_seconds_sum)
[ -z "${PERF_OUT:-}" ] || { kill -INT "$PERF_PID"; wait "$PERF_PID" || true; }
python3 -c "print(f'no-change cycle (ls-remote + drift check, {int($c1-$c0)} cycles): mean {($s1-$s0)/($c1-$c0)*1000:.0f} ms')"
# Quiet cycles (docs/operations.md) list nothing; the first no-change cycle after a write lists.
echo "quiet cycles among them (no list: the drift watch vouched): $(( $(metric netpol_sync_cycles_live_from_watch_total) - quiet0 ))"

# --- drift watch: a hand deletion to its reversal, with no webhook ----------------------
if [ -n "${REAL:-}" ]; then
    delete_p1() { $KUBECTL delete networkpolicy p1 -n bench-1 >/dev/null; }
    p1_exists() { $KUBECTL get networkpolicy p1 -n bench-1 >/dev/null 2>&1; }
else
    np="http://127.0.0.1:$EMU_PORT/apis/networking.k8s.io/v1/namespaces/bench-1/networkpolicies/p1"
    delete_p1() { curl -sf -o /dev/null -X DELETE "$np"; }
    p1_exists() { curl -sf -o /dev/null "$np"; }
fi
drift=()
for _ in $(seq 1 "$SAMPLES"); do
    delete_p1
    t0=$(now_ms); deadline=$(( $(date +%s) + 120 ))
    until p1_exists; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "deleted policy not put back"; tail -5 "$WORK/run.log"; exit 1; }
        sleep 0.02
    done
    drift+=($(( $(now_ms) - t0 )))
done
sorted=$(printf '%s\n' "${drift[@]}" | sort -n)
echo "hand deletion to put back (drift watch, interval ${INTERVAL:-1h}): p50 $(echo "$sorted" | sed -n "$(( (SAMPLES + 1) / 2 ))p") ms, max $(echo "$sorted" | tail -1) ms, samples: ${drift[*]}"

# --- steady state: RSS and idle CPU ----------------------------------------------------
sleep 2
rss=$(awk '/VmRSS/ {print $2}' "/proc/$RUN_PID/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$RUN_PID/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$RUN_PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$RUN_PID/status")
[ -z "${SMAPS_OUT:-}" ] || cp "/proc/$RUN_PID/smaps" "$SMAPS_OUT"   # where the RSS lives
ticks() { awk '{print $14 + $15}' "/proc/$RUN_PID/stat"; }
IDLE=${IDLE_SECONDS:-30}
t0=$(ticks); sleep "$IDLE"; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "run RSS steady state: $((rss / 1024)) MiB (anonymous $((anon / 1024)) MiB, file-backed $((file / 1024)) MiB; peak $((hwm / 1024)) MiB); idle CPU over $IDLE s: $(( (t1 - t0) * 1000 / hz )) ms"
# Each cycle's verify/plan/apply runs in a child `sync --once`; its peak RSS is what the
# pod's memory limit must also cover.
child_kib=$(python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
    "$BIN" sync --once --repo "$WORK/cache/repo.git" --rev refs/remotes/origin/main --trust-anchor "$WORK/anchor" \
    --kubeconfig "$WORK/kubeconfig" --state-key "$WORK/state-key" --output json)
echo "one no-change 'sync --once' cycle child: peak RSS $((child_kib / 1024)) MiB"
