#!/usr/bin/env bash
# The integration suites that talk to an API server only over HTTP, run against the real
# control plane (docs/real-apiserver.md): each test starts its own with scripts/kube-up.sh.
# The tests that drive the emulator's own controls (fault injection, its request log) run on
# it here too. Extra arguments go to the test binary (a filter, --test-threads).
set -euo pipefail
cd "$(dirname "$0")/.."
export NETPOL_SYNC_TEST_APISERVER=real
exec cargo test --test it -- sync_flows:: sync_bad_input:: sync_crash:: sync_random:: \
  trust_attacks:: cluster_attacks:: daemon_e2e:: daemon_quiet:: reach_live:: reach_plan:: \
  reach_assertions:: audit_cli:: sync_immutable:: daemon_immutable:: import_cli:: "$@"
