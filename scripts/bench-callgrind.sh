#!/usr/bin/env bash
# `make bench-callgrind`: instruction counts of the decision core under valgrind's callgrind,
# which, unlike wall time on a shared machine, repeat exactly. For each body, the instructions of
# one bare serde_json::Value parse, one decide() and one full path (AuthZ parse + decide +
# answer), each as (count with N iterations - count of the setup alone) / N, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
"$CARGO" build --release --locked --example decide_once >/dev/null 2>&1
bin=target/release/examples/decide_once
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 | sed -n 's/.*refs: *//p' | tr -d ,; }
printf '%-6s %14s %14s %14s %12s %12s\n' body serde_value decide full decide/serde full/serde
for body in 3KB 20KB 1MiB; do
  n=200
  [ "$body" = 1MiB ] && n=4
  setup=$(ir "$body" setup "$n")
  s=$(( ($(ir "$body" serde_value "$n") - setup) / n ))
  d=$(( ($(ir "$body" decide "$n") - setup) / n ))
  f=$(( ($(ir "$body" full "$n") - setup) / n ))
  printf '%-6s %14d %14d %14d %12s %12s\n' "$body" "$s" "$d" "$f" \
    "$(awk "BEGIN{printf \"%.2f\", $d/$s}")" "$(awk "BEGIN{printf \"%.2f\", $f/$s}")"
done
