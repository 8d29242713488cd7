#!/usr/bin/env bash
# `netpol-sync reach` (the whole map) beside np-guard's netpol-analyzer (`netpolicy list`,
# pinned in tests/npguard/, built by scripts/npguard-build.sh) on the same generated inputs
# of growing size: wall time and peak RSS of each, from /usr/bin/time -v, as a table.
# docs/performance.md ("Reachability vs netpol-analyzer") holds the figures measured.
#
# Each size is POLICIES/NAMESPACES/WORKLOADS. Every namespace has a Namespace document
# with a `tier` label and one file of its policies; workloads are Deployments spread over
# the namespaces, each with one of four `app` labels and a named port. Every policy selects
# one app, allows ingress from another namespace's app on one port and egress to a /16
# on 443 (the shape of docs/performance.md's first reach figures); a tenth of them also
# allow egress to a /24 of that /16 except a /28, so there are address classes to tell apart.
#
# For each size it also times a diff after one policy's egress port changed (ours: `reach
# --diff-policies`, theirs: `netpolicy diff`) and one query between two workloads, loading
# included (ours only: netpolicy evaluate names pods, not workloads).
#
# Usage: scripts/bench-reach.sh [SIZE...]   (default 100/10/50 1000/50/200 10000/500/2000)
# NPGUARD_TIMEOUT (300 s) bounds each netpolicy run; a run past it is reported as such.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100/10/50 1000/50/200 10000/500/2000)
timeout_s="${NPGUARD_TIMEOUT:-300}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --bin netpol-sync >&2
NPS="${CARGO_TARGET_DIR:-target}/release/netpol-sync"
NPG=$(bash scripts/npguard-build.sh)

generate() { # DIR POLICIES NAMESPACES WORKLOADS
  python3 - "$@" <<'PY'
import os, sys
out, n_pol, n_ns, n_wl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
apps = ["web", "api", "db", "cache"]
os.makedirs(out)
pol = {i: [] for i in range(n_ns)}
for p in range(n_pol):
    ns = p % n_ns
    app = apps[p % 4]
    peer_ns = (ns + 1 + p // n_ns) % n_ns
    peer_app = apps[(p // 4 + 1) % 4]
    port = 8000 + p % 100
    net = f"10.{p % 256}.0.0/16"
    extra = ""
    if p % 10 == 0:
        extra = (f"  - to:\n    - ipBlock:\n        cidr: 10.{p % 256}.{p % 200}.0/24\n"
                 f"        except: [10.{p % 256}.{p % 200}.16/28]\n    ports:\n    - port: 80\n")
    pol[ns].append(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p{p}
  namespace: ns{ns}
spec:
  podSelector:
    matchLabels: {{app: {app}}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {{kubernetes.io/metadata.name: ns{peer_ns}}}
      podSelector:
        matchLabels: {{app: {peer_app}}}
    ports:
    - port: {port}
  egress:
  - to:
    - ipBlock: {{cidr: {net}}}
    ports:
    - port: 443
{extra}""")
wl = {i: [] for i in range(n_ns)}
for w in range(n_wl):
    ns = w % n_ns
    app = apps[(w // n_ns) % 4]
    wl[ns].append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: w{w}
  namespace: ns{ns}
spec:
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
      - name: c
        image: example
        ports:
        - {{name: http, containerPort: {8000 + w % 100}}}
""")
for ns in range(n_ns):
    tier = ["front", "back"][ns % 2]
    with open(os.path.join(out, f"ns{ns}-workloads.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{ns}\n  labels: {{tier: {tier}}}\n---\n")
        f.write("---\n".join(wl[ns]))
    if pol[ns]:
        with open(os.path.join(out, f"ns{ns}-policies.yaml"), "w") as f:
            f.write("---\n".join(pol[ns]))
PY
}

# measure NAME OUT TIMEOUT CMD...: "wall s|RSS MiB|connections" or "did not finish in N s"
measure() {
  local name=$1 out=$2 limit=$3; shift 3
  local rc=0
  /usr/bin/time -v -o "$WORK/$name.time" timeout "$limit" "$@" > "$out" 2> "$WORK/$name.err" || rc=$?
  if [ "$rc" = 124 ]; then echo "did not finish in $limit s"; return; fi
  # A query exits 1 for "denied": ALLOW_RC=1 counts that as an answer.
  if [ "$rc" != 0 ] && [ "$rc" != "${ALLOW_RC:-0}" ]; then
    echo "failed (exit $rc): $(tail -1 "$WORK/$name.err")"; return
  fi
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$name.time")
  echo "$wall s, $rss MiB"
}

rows=()
for size in "${sizes[@]}"; do
  IFS=/ read -r np nn nw <<< "$size"
  dir="$WORK/in-$np-$nn-$nw"
  generate "$dir" "$np" "$nn" "$nw"
  echo "== $np policies / $nn namespaces / $nw workloads" >&2
  ours=$(measure ours "$WORK/ours.json" 3600 "$NPS" reach --policies "$dir" --workloads "$dir" --output json)
  # The entries each printed: not equal counts, as ours lists a workload to itself and the
  # IPv6 addresses, and a class of several CIDR ranges once.
  if paths=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["connections"]))' "$WORK/ours.json" 2>/dev/null); then
    ours="$ours ($paths entries)"
  fi
  theirs=$(measure theirs "$WORK/theirs.json" "$timeout_s" "$NPG" list --dirpath "$dir" -o json -q)
  if tpaths=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/theirs.json" 2>/dev/null); then
    theirs="$theirs ($tpaths entries)"
  fi
  # The same input with one policy's egress port changed (443 to 444 for p0's /16), which
  # changes what ns0's `web` workload may send to that /16.
  changed="$WORK/changed-$np-$nn-$nw"
  cp -r "$dir" "$changed"
  sed -i '0,/- port: 443$/s//- port: 444/' "$changed/ns0-policies.yaml"
  ours_diff=$(measure ours_diff "$WORK/ours-diff.json" 3600 "$NPS" reach --policies "$changed" \
    --diff-policies "$dir" --workloads "$dir" --output json)
  if rows=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(d[k]) for k in ("added","removed","changed")))' "$WORK/ours-diff.json" 2>/dev/null); then
    ours_diff="$ours_diff ($rows rows)"
  fi
  theirs_diff=$(measure theirs_diff "$WORK/theirs-diff.txt" "$timeout_s" "$NPG" diff --dir1 "$dir" \
    --dir2 "$changed" -o csv -q)
  ours_query=$(ALLOW_RC=1 measure ours_query "$WORK/ours-query.txt" 3600 "$NPS" reach --policies "$dir" \
    --workloads "$dir" --from ns0/w0 --to "ns$((1 % nn))/w$((1 % nw))" --port 8000 --output json)
  rows+=("| $np / $nn / $nw | $ours | $theirs | $ours_diff | $theirs_diff | $ours_query |")
  echo "   netpol-sync reach: $ours; netpolicy list: $theirs" >&2
  echo "   diff: $ours_diff; netpolicy diff: $theirs_diff; query: $ours_query" >&2
done

version=$(basename "$(dirname "$NPG")")
echo "| policies / namespaces / workloads | netpol-sync reach (map, JSON) | netpol-analyzer ${version%-*} list (JSON) | reach --diff-policies (one policy changed) | netpolicy diff | reach query (loading included) |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
