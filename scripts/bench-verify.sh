#!/usr/bin/env bash
# Verify a first-parent chain signed by `git commit -S` (1,000 commits; `CHAIN=300` for
# another length), each commit changing a file, with netpol-sync (in process, and the
# whole `netpol-sync verify` command) and with `git verify-commit` in the same run;
# prints per-commit figures and the ratios.
# The signed repository is cached under the target directory after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench verify_chain -- "$@"
