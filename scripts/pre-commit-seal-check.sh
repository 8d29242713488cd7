#!/usr/bin/env bash
# The `netpol-sync-seal` pre-commit hook (.pre-commit-hooks.yaml, docs/ci.md): for each
# bundle that a staged file belongs to, `netpol-sync bundle seal --check`, so a commit
# whose bundle.yaml does not list its files as they are is stopped before it is made.
# Arguments: the staged files, repository-relative.
set -euo pipefail
status=0
for bundle in $(printf '%s\n' "$@" | sed -n 's#^\(bundles/[^/][^/]*\)/.*#\1#p' | sort -u); do
  [ -d "$bundle" ] || continue
  netpol-sync bundle seal --check "$bundle" || status=1
done
exit "$status"
