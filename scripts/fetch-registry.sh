#!/usr/bin/env bash
# Why this exists: tests/e2e_registry.rs runs Debian's docker-registry (distribution 2.8) on
# 127.0.0.1 to push the managed plugin to and install it from. Installing the package would write
# /etc/docker/registry/config.yml, add a system user and (where services start) run a registry on
# 0.0.0.0:5000; the test needs none of that, only the binary with its own config in a temp dir. So
# this gets the package through apt (`apt-get download`, the system's own sources) and unpacks it
# with `dpkg-deb -x` into a cache folder, without installing it.
#
# Prints one line on stdout: the docker-registry binary to run (an installed one on PATH is used
# as it is). Environment: ROOTFS_GUARD_REGISTRY_CACHE (default .cache/docker-registry in the
# repository).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${ROOTFS_GUARD_REGISTRY_CACHE:-$repo/.cache/docker-registry}
log() { echo "fetch-registry: $*" >&2; }

if command -v docker-registry >/dev/null 2>&1; then
  command -v docker-registry
  exit 0
fi
bin=$cache/root/usr/bin/docker-registry
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
rm -rf "$cache"
mkdir -p "$cache/debs"
log "downloading docker-registry with apt-get download"
if ! (cd "$cache/debs" && apt-get download docker-registry >&2); then
  log "apt-get download failed; trying after apt-get update"
  apt-get update -qq >&2
  (cd "$cache/debs" && apt-get download docker-registry >&2)
fi
dpkg-deb -x "$cache"/debs/docker-registry_*.deb "$cache/root"
"$bin" --version >&2
echo "$bin"
