#!/usr/bin/env bash
# Verify a 1,000-commit first-parent chain signed by `git commit -S` with netpol-sync and
# with `git verify-commit` in the same run; prints per-commit figures and the ratio.
# The signed repository is cached under the target directory after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench verify_chain -- "$@"
