#!/usr/bin/env bash
# scripts/kube-up.sh DIR — a real Kubernetes control plane on loopback, for tests and
# benchmarks (docs/real-apiserver.md). A stable contract: other tools call it.
#
# Starts etcd, kube-apiserver (TLS, RBAC, the default admission plugins with
# ValidatingAdmissionPolicy) and kube-controller-manager (namespace controller, garbage
# collector, service accounts) built by scripts/kube-build.sh, on free loopback ports, with
# every file under DIR; waits until /readyz answers ok; and writes
#   DIR/admin.kubeconfig        cluster-admin (group system:masters)
#   DIR/netpol-sync.kubeconfig  system:serviceaccount:netpol-sync:netpol-sync, a real
#                               service-account token bound only to deploy/rbac.yaml
#   DIR/developer.kubeconfig    user developer: edit on NetworkPolicies everywhere, no group
#   DIR/break-glass.kubeconfig  a user in group netpol-sync:break-glass
#   DIR/env                     KUBE_BIN_DIR, KUBE_APISERVER_URL, ETCD_URL (shell syntax)
#   DIR/pids/*.pid, DIR/logs/*.log, DIR/run/*.sh (how each process was started)
# scripts/kube-down.sh DIR stops exactly these processes.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
dir="$(cd "$1" && pwd)"
[ ! -e "$dir/pids" ] || { echo "kube-up: $dir already holds a control plane (scripts/kube-down.sh $dir)" >&2; exit 1; }
bin="${KUBE_BIN_DIR:-$(bash "$root/scripts/kube-build.sh")}"
mkdir -p "$dir/pki" "$dir/pids" "$dir/logs" "$dir/run" "$dir/etcd"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
etcd_port="$(free_port)"; peer_port="$(free_port)"; api_port="$(free_port)"
api="https://127.0.0.1:$api_port"

# --- keys and certificates (openssl): a CA, the serving certificate, the service-account
# signing key. Every identity authenticates with a bearer token.
pki="$dir/pki"
# P-256 keys: generated in milliseconds, where RSA takes most of a second on a busy machine.
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
openssl req -x509 "${ec[@]}" -nodes -days 30 -subj "/CN=netpol-sync-test-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req "${ec[@]}" -nodes -subj "/CN=kube-apiserver" \
  -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' > "$pki/apiserver.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
  -CAcreateserial -days 30 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

token() { openssl rand -hex 24; }
admin_token="$(token)"; kcm_token="$(token)"; dev_token="$(token)"; bg_token="$(token)"
# token,user,uid,"groups"
{
  echo "$admin_token,kube-admin,uid-admin,\"system:masters\""
  echo "$kcm_token,system:kube-controller-manager,uid-kcm"
  echo "$dev_token,developer,uid-developer"
  echo "$bg_token,break-glass-user,uid-break-glass,\"netpol-sync:break-glass\""
} > "$pki/tokens.csv"
chmod 600 "$pki/tokens.csv"

cat > "$dir/audit-policy.yaml" <<'POLICY'
# Every write, with who made it, and every list of NetworkPolicies (the tests count the
# daemon's); other reads are not logged (docs/real-apiserver.md).
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [list]
    resources: [{group: networking.k8s.io, resources: [networkpolicies]}]
  - level: None
    verbs: [get, list, watch]
  - level: Metadata
POLICY

kubeconfig() { # FILE USER TOKEN
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kube-up
  cluster:
    server: $api
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2
  context: {cluster: kube-up, user: $2}
current-context: $2
KC
  chmod 600 "$1"
}
kubeconfig "$dir/admin.kubeconfig" kube-admin "$admin_token"
kubeconfig "$dir/controller-manager.kubeconfig" system:kube-controller-manager "$kcm_token"
kubeconfig "$dir/developer.kubeconfig" developer "$dev_token"
kubeconfig "$dir/break-glass.kubeconfig" break-glass-user "$bg_token"

# --- processes. Each is started by a script in DIR/run/, so a test can stop and start one
# again exactly as it was (an etcd or apiserver restart in the middle of a sync).
cat > "$dir/run/etcd.sh" <<RUN
#!/usr/bin/env bash
# --unsafe-no-fsync: test data, thrown away with DIR; fsync would dominate on a shared disk.
exec "$bin/etcd" --name kube-up --data-dir "$dir/etcd" \\
  --listen-client-urls http://127.0.0.1:$etcd_port --advertise-client-urls http://127.0.0.1:$etcd_port \\
  --listen-peer-urls http://127.0.0.1:$peer_port --initial-advertise-peer-urls http://127.0.0.1:$peer_port \\
  --initial-cluster kube-up=http://127.0.0.1:$peer_port --unsafe-no-fsync --log-level warn
RUN
cat > "$dir/run/kube-apiserver.sh" <<RUN
#!/usr/bin/env bash
exec "$bin/kube-apiserver" --etcd-servers http://127.0.0.1:$etcd_port \\
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port $api_port \\
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \\
  --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \\
  --authorization-mode RBAC --enable-admission-plugins NodeRestriction \\
  --service-account-issuer https://kubernetes.default.svc \\
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \\
  --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \\
  --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/logs/audit.log" \\
  --audit-log-mode blocking-strict
RUN
cat > "$dir/run/kube-controller-manager.sh" <<RUN
#!/usr/bin/env bash
exec "$bin/kube-controller-manager" --kubeconfig "$dir/controller-manager.kubeconfig" \\
  --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \\
  --root-ca-file "$pki/ca.crt" --leader-elect=false --secure-port 0 \\
  --controllers namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,validatingadmissionpolicy-status-controller
RUN
chmod +x "$dir"/run/*.sh

start() { # NAME: detached from this shell, so it outlives kube-up
  setsid "$dir/run/$1.sh" > "$dir/logs/$1.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$1.pid"
}
fail() {
  echo "kube-up: $1; the last lines of its log:" >&2
  tail -n 20 "$dir/logs/$2.log" >&2 || true
  bash "$root/scripts/kube-down.sh" "$dir" >&2 || true
  exit 1
}
alive() { kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null; }

start etcd
for _ in $(seq 1 500); do
  curl -sf "http://127.0.0.1:$etcd_port/health" >/dev/null && break
  alive etcd || fail "etcd exited" etcd
  sleep 0.02
done
curl -sf "http://127.0.0.1:$etcd_port/health" >/dev/null || fail "etcd did not become healthy" etcd

start kube-apiserver
ready=""
for _ in $(seq 1 1200); do
  if curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" "$api/readyz" >/dev/null 2>&1; then
    ready=1; break
  fi
  alive kube-apiserver || fail "kube-apiserver exited" kube-apiserver
  sleep 0.05
done
[ -n "$ready" ] || fail "kube-apiserver was not ready within 60 s" kube-apiserver

start kube-controller-manager

kubectl() { "$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }
# netpol-sync's identity: its namespace, service account and deploy/rbac.yaml, as
# `kubectl apply -k deploy/` creates them, the test identities' rights, and a real token
# for that service account (a TokenRequest, as `kubectl create token` makes it).
kubectl apply -f "$root/deploy/namespace.yaml" -f "$root/deploy/serviceaccount.yaml" \
  -f "$root/deploy/rbac.yaml" -f "$root/scripts/kube/test-identities.yaml" >/dev/null
sa_token="$(curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" \
  -H 'Content-Type: application/json' -X POST \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":172800}}' \
  "$api/api/v1/namespaces/netpol-sync/serviceaccounts/netpol-sync/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["token"])')"
[ -n "$sa_token" ] || fail "no token for the netpol-sync service account" kube-apiserver
kubeconfig "$dir/netpol-sync.kubeconfig" system:serviceaccount:netpol-sync:netpol-sync "$sa_token"

cat > "$dir/env" <<ENV
KUBE_BIN_DIR=$bin
KUBE_APISERVER_URL=$api
ETCD_URL=http://127.0.0.1:$etcd_port
ENV
echo "kube-up: $api ready; kubeconfigs in $dir" >&2
