#!/usr/bin/env bash
# `scripts/bench-sync.sh --real`: the first sync of 10,000 policies across 500 namespaces on
# the real control plane (scripts/kube-up.sh, docs/real-apiserver.md), side by side in one
# run with `kubectl create -f` and `kubectl apply --server-side -f` of the same objects, each
# on a fresh server of its own; then a no-op cycle and a one-policy change. CPU is reported
# apart: netpol-sync's (or kubectl's) own, and kube-apiserver's plus etcd's.
#
#   scripts/bench-sync.sh --real [POLICIES] [NAMESPACES]     (defaults 10000 500)
set -euo pipefail
POLICIES=${1:-10000}
NAMESPACES=${2:-500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/netpol-sync
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p netpol-sync --bin netpol-sync) >&2
KBIN=$(bash "$ROOT/scripts/kube-build.sh")
WORK=$(mktemp -d)
SERVERS=()
cleanup() { for d in "${SERVERS[@]}"; do bash "$ROOT/scripts/kube-down.sh" "$d" || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
. "$ROOT/scripts/lib/signed-repo.sh"
hz=$(getconf CLK_TCK)

# --- the repository: one bundle, POLICIES policies over NAMESPACES namespaces -----------
REPO=$WORK/repo
signed_repo_init "$WORK" "$REPO" bench@example.com
python3 - "$REPO/bundles/bench" "$POLICIES" "$NAMESPACES" "$WORK/objects.yaml" "$WORK/namespaces.yaml" <<'PY'
import os, sys
root, n, k, objects, namespaces = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
docs = []
for i in range(n):
    ns = f"bench-{i % k}"
    doc = (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p{i}\n  namespace: {ns}\n"
           f"spec:\n  podSelector:\n    matchLabels: {{app: p{i}}}\n  policyTypes: [Ingress]\n  ingress:\n"
           f"  - from:\n    - podSelector: {{matchLabels: {{role: client}}}}\n    ports:\n    - port: 8080\n")
    os.makedirs(f"{root}/{ns}", exist_ok=True)
    open(f"{root}/{ns}/p{i}.yaml", "w").write(doc)
    docs.append(doc)
open(objects, "w").write("---\n".join(docs))
names = [f"bench-{j}" for j in range(k)]
open(f"{root}/bundle.yaml", "w").write(
    "apiVersion: netpol-sync/v1\nkind: Bundle\nname: bench\nnamespaces: [" + ", ".join(names) + "]\nfiles: []\n")
open(namespaces, "w").write("".join(f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {x}\n" for x in names))
PY
seal_and_sign "$BIN" "$REPO/bundles/bench" "$WORK/key" bench
git -C "$REPO" add -A && git -C "$REPO" commit -q -S -m "bench: $POLICIES policies"
openssl rand -hex 32 > "$WORK/state-key"

# --- helpers ----------------------------------------------------------------------------
fresh_server() { # NAME: a new control plane with the namespaces; prints its DIR
    local d=$WORK/$1
    SERVERS+=("$d")
    bash "$ROOT/scripts/kube-up.sh" "$d" 2>/dev/null
    "$KBIN/kubectl" --kubeconfig "$d/admin.kubeconfig" create -f "$WORK/namespaces.yaml" >/dev/null
    echo "$d"
}
server_ticks() { # DIR: CPU ticks of its kube-apiserver and etcd so far
    local t=0 p
    for p in kube-apiserver etcd; do
        t=$(( t + $(awk '{print $14 + $15}' "/proc/$(cat "$1/pids/$p.pid")/stat") ))
    done
    echo "$t"
}
ms() { echo $(( $1 * 1000 / hz )); }
# measure DIR LABEL CMD...: wall, client CPU (user+sys of CMD), server CPU.
measure() {
    local d=$1 label=$2; shift 2
    local s0 t0 t1 s1 out
    s0=$(server_ticks "$d"); t0=$(date +%s%3N)
    out=$(/usr/bin/time -f 'CLIENT %U %S %M' "$@" 2>&1 >/dev/null | grep '^CLIENT' || true)
    t1=$(date +%s%3N); s1=$(server_ticks "$d")
    read -r _ u s rss <<<"$out"
    printf '  %-44s %7.2f s wall   client CPU %6.2f s (peak RSS %4d MiB)   apiserver+etcd CPU %6.2f s\n' \
        "$label" "$(echo "($t1 - $t0) / 1000" | bc -l)" "$(echo "$u + $s" | bc -l)" "$(( rss / 1024 ))" \
        "$(echo "$(ms $(( s1 - s0 ))) / 1000" | bc -l)"
}
writes() { # DIR: create/update/delete requests by netpol-sync in the audit log, dry runs aside
    python3 - "$1/logs/audit.log" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("stage") != "ResponseComplete" or e["user"]["username"] != "system:serviceaccount:netpol-sync:netpol-sync":
        continue
    if e["verb"] in ("create", "update", "delete", "patch") and "dryRun" not in e["requestURI"]:
        n += 1
print(n)
PY
}
# sync_once DIR: a file of its own, so /usr/bin/time measures the binary.
sync_once=$WORK/sync-once.sh
cat > "$sync_once" <<SH
#!/bin/sh
exec "$BIN" sync --once --output json --repo "$REPO" --trust-anchor "$WORK/anchor" \\
    --kubeconfig "\$1/netpol-sync.kubeconfig" --state-key "$WORK/state-key"
SH
chmod +x "$sync_once"

echo "real kube-apiserver $("$KBIN/kubectl" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') on loopback; $POLICIES policies across $NAMESPACES namespaces; $(nproc) cores"
A=$(fresh_server netpol-sync)
measure "$A" "netpol-sync sync --once (first sync)" "$sync_once" "$A"
live=$("$KBIN/kubectl" --kubeconfig "$A/admin.kubeconfig" get networkpolicies -A --no-headers | wc -l)
echo "    live after it: $live; writes by netpol-sync: $(writes "$A")"
B=$(fresh_server kubectl-create)
measure "$B" "kubectl create -f (same objects)" "$KBIN/kubectl" --kubeconfig "$B/admin.kubeconfig" create -f "$WORK/objects.yaml"
C=$(fresh_server kubectl-apply)
measure "$C" "kubectl apply --server-side -f (same objects)" "$KBIN/kubectl" --kubeconfig "$C/admin.kubeconfig" apply --server-side -f "$WORK/objects.yaml"

w0=$(writes "$A")
measure "$A" "netpol-sync sync --once (no-op)" "$sync_once" "$A"
echo "    writes: $(( $(writes "$A") - w0 ))"
sed -i 's/- port: 8080/- port: 8081/' "$REPO/bundles/bench/bench-0/p0.yaml"
seal_and_sign "$BIN" "$REPO/bundles/bench" "$WORK/key" bench
git -C "$REPO" add -A && git -C "$REPO" commit -q -S -m "bench: one policy"
w0=$(writes "$A")
measure "$A" "netpol-sync sync --once (one-policy change)" "$sync_once" "$A"
echo "    writes: $(( $(writes "$A") - w0 )) (the policy and the state record)"
