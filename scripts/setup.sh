#!/usr/bin/env bash
# Installs what the tests need that a fresh machine may lack. Idempotent; quiet when
# everything is present.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
command -v git >/dev/null || need+=(git)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v setsid >/dev/null || need+=(util-linux)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# kubectl: the emulator's fidelity tests and the end-to-end tests run the real one. It is
# not in Debian's own archive; where an apt source has it (Kubernetes' or Google Cloud's),
# install it from there, and otherwise say what is missing instead of failing later.
if ! command -v kubectl >/dev/null; then
  # The package lists must be current to find it (a fresh machine may have none yet).
  $SUDO apt-get update -qq || true
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kubectl; then
    echo "setup: kubectl is required by the tests; install it (https://kubernetes.io/docs/tasks/tools/) and run again" >&2
    exit 1
  fi
fi

# The real git servers (sshd; git's http-backend) that the remote tests start on loopback.
bash "$(dirname "$0")/install-test-servers.sh"

# scripts/fuzz.sh (a short run in CI): the nightly toolchain (libFuzzer's sanitizers) and
# cargo-fuzz, both from the Rust registries.
if command -v rustup >/dev/null && ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet

# The real control plane the tests also run against (docs/real-apiserver.md):
# kube-apiserver, kube-controller-manager, kubectl and etcd built from the modules pinned in
# tests/kube/ by the Go toolchain (1.26 or newer; Debian's is older, so it is not installed
# from there). Cached under target/kube/: seconds once built, ~7 minutes on 2 cores cold.
if ! command -v go >/dev/null; then
  echo "setup: the Go toolchain (1.26 or newer) is required to build the test control plane; install it from https://go.dev/dl/ and run again" >&2
  exit 1
fi
bash "$(dirname "$0")/kube-build.sh" >/dev/null

# np-guard's netpol-analyzer, the independent analyser `cargo test` checks `netpol-sync
# reach` against (tests/it/reach_npguard.rs), from the module pinned in tests/npguard/.
# Cached under target/npguard/: about a minute on 2 cores cold.
bash "$(dirname "$0")/npguard-build.sh" >/dev/null

# The published SARIF 2.1.0 schema that `check --output sarif` is validated against
# (tests/it/check_cli.rs), from a pinned Maven Central artifact; cached under target/sarif/.
bash "$(dirname "$0")/sarif-schema.sh" >/dev/null
