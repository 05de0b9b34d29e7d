#!/usr/bin/env bash
# `make bench`: runs every benchmark of issue 6 (decision core, over the wire, memory, soak,
# startup, end to end), keeps each one's full output in bench-results/*.log, and prints the one
# summary table (also written to bench-results/summary.md). Not part of `make test`.
# Knobs: ROOTFS_GUARD_BENCH_QUICK=1 (short runs), ROOTFS_GUARD_SKIP_E2E=1 (no dockerd stage),
# ROOTFS_GUARD_BENCH_E2E_ITERATIONS (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
out=bench-results
mkdir -p "$out"
export CRITERION_HOME="$PWD/$out/criterion"

stage() {
  local name=$1
  shift
  local t0=$SECONDS
  printf 'bench: %-8s ... ' "$name"
  if "$@" >"$out/$name.log" 2>&1; then
    echo "done in $((SECONDS - t0)) s (log: $out/$name.log)"
  else
    echo "FAILED after $((SECONDS - t0)) s; last lines of $out/$name.log:"
    tail -n 30 "$out/$name.log"
    exit 1
  fi
}

stage build "$CARGO" bench --locked --no-run
stage decide "$CARGO" bench --locked --bench decide
stage wire "$CARGO" bench --locked --bench wire
stage e2e "$CARGO" bench --locked --bench e2e
stage fleet "$CARGO" bench --locked --bench fleet
"$CARGO" bench --locked --bench report 2>/dev/null | sed -n '/^|/,$p'
