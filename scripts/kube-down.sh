#!/usr/bin/env bash
# scripts/kube-down.sh [--now] DIR — stops exactly the processes scripts/kube-up.sh DIR
# started (by the pids it wrote), newest first, and waits until none is left running.
# Leaves DIR's files. Each gets SIGTERM and five seconds to shut down gracefully (the
# apiserver takes about one); `--now` sends SIGKILL at once, for data about to be thrown
# away (the tests' control planes).
set -euo pipefail
signal=TERM
if [ "${1:-}" = --now ]; then signal=KILL; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--now] DIR" >&2; exit 2; }
dir="$1"
[ -d "$dir/pids" ] || exit 0

# Running: the pid exists and is not a zombie (one whose parent is gone may wait a while
# for its reaper; it no longer runs).
running() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$state" ] && [ "$state" != Z ]
}

for name in kube-controller-manager kube-apiserver etcd; do
  f="$dir/pids/$name.pid"
  [ -f "$f" ] || continue
  pid="$(cat "$f")"
  # Only the process kube-up started: the pid still runs the binary of that name.
  if running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "/$name "; then
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$pid" || break; sleep 0.05; done
    if running "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      while running "$pid"; do sleep 0.05; done
    fi
  fi
  rm -f "$f"
done
rmdir "$dir/pids" 2>/dev/null || true
