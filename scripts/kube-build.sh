#!/usr/bin/env bash
# Builds the real control plane the integration tests run against — kube-apiserver,
# kube-controller-manager, kubectl and etcd — from the upstream modules pinned in
# tests/kube/go.mod and go.sum (docs/real-apiserver.md). Prints the directory holding them.
#
# The binaries are cached under target/kube/<release>-<go.sum digest>/: a second run with
# the same pins prints the directory at once. Go's own build cache makes a rebuild after a
# pin change incremental.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mod="$root/tests/kube"
release="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$mod/go.mod")"
[ -n "$release" ] || { echo "kube-build: no k8s.io/kubernetes require in $mod/go.mod" >&2; exit 1; }
pins="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)"
out="${KUBE_BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/kube/$release-$pins}"
bins=(kube-apiserver kube-controller-manager kubectl etcd)

complete() { for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if complete; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "kube-build: go is required (scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$out"
major="${release#v}"; major="${major%%.*}"
minor="${release#v*.}"; minor="${minor%%.*}"
# The version the binaries report (what `kubectl version` and /version answer), as the
# upstream release build stamps it.
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=$release -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
echo "kube-build: building $release into $out (the first build takes several minutes)" >&2
(
  cd "$mod"
  # -mod=readonly: go.sum is the pin; a build never rewrites it. -buildvcs=false: the
  # binaries are upstream's, not this checkout's (and git may refuse a checkout it does not own).
  CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath -ldflags "$ld" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl \
    ./cmd/etcd
)
complete || { echo "kube-build: the build left $out incomplete" >&2; exit 1; }
echo "$out"
