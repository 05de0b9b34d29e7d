#!/usr/bin/env bash
# Fitness check (`make lint`): the decision core under src/authz/ stays pure — one request's bytes
# in, a decision out. It must not import the async runtime, the HTTP stack, or std's file system,
# network, process and thread modules; those belong to daemon/ and engine/. Comments are skipped;
# every other mention counts (a `use`, a path in an expression, a brace group `std::{fs, ...}`).
set -euo pipefail
dir="${1:-$(dirname "$0")/../src/authz}"
banned_crates='tokio|hyper|hyper_util|hyperlocal|http_body_util|tokio_rustls|hyper_rustls|mio|socket2'
banned_std='fs|net|process|thread'
status=0
while IFS= read -r -d '' file; do
  # Strip // comments (doc comments included) so prose may name what is banned.
  hits=$(sed -e 's#//.*$##' "$file" | grep -nE \
    "(^|[^A-Za-z0-9_])(::)?(${banned_crates})::|extern crate (${banned_crates})\b|use (::)?(${banned_crates})\b|std::(${banned_std})\b|std::\{[^}]*\b(${banned_std})\b" \
    || true)
  if [ -n "$hits" ]; then
    while IFS= read -r hit; do
      echo "${file#./}:${hit}" >&2
    done <<<"$hits"
    status=1
  fi
done < <(find "$dir" -name '*.rs' -print0)
if [ "$status" -ne 0 ]; then
  echo "check-authz-purity: src/authz/ must do no I/O (no tokio, hyper, std::fs, std::net, std::process, std::thread); move the code to daemon/ or engine/" >&2
fi
exit "$status"
