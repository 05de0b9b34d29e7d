#!/usr/bin/env bash
# Why this exists: the e2e suite checks that BuildKit builds keep working through the guard with
# the docker 23+ CLI, which builds with BuildKit only through the buildx CLI plugin (without it, it
# falls back to the legacy builder, which the guard denies). This script gets Debian sid's
# docker-buildx (0.29) the way scripts/fetch-dockerd.sh gets a daemon (scripts/private-apt.sh:
# private apt sources and state, `apt-get download`, `dpkg-deb -x` into a cache folder) and
# installs nothing: the tests put the binary into a private DOCKER_CONFIG's cli-plugins/.
#
# Prints one line on stdout: the path of the docker-buildx binary (ROOTFS_GUARD_E2E_BUILDX for the
# e2e harness). Everything else goes to stderr.
#
# Idempotent: a complete cache is reused; with CI=true (or --refresh) it is fetched afresh.
# Environment: ROOTFS_GUARD_BUILDX_CACHE (default .cache/buildx-0.29 in the repository),
# FETCH_BUILDX_SUITE (default sid), FETCH_BUILDX_SERIES (default 0.29: the version the unpacked
# binary must report).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
suite=${FETCH_BUILDX_SUITE:-sid}
series=${FETCH_BUILDX_SERIES:-0.29}
cache=${ROOTFS_GUARD_BUILDX_CACHE:-$repo/.cache/buildx-$series}
packages=(docker-buildx)

# shellcheck source=scripts/private-apt.sh
. "$repo/scripts/private-apt.sh"
private_apt_args fetch-buildx "$@"

binary_of() { echo "$1/root/usr/libexec/docker/cli-plugins/docker-buildx"; }

# Usable when the plugin binary answers its CLI-plugin metadata call and reports the series.
verify_tree() {
  local bin v
  bin=$(binary_of "$1")
  [ -f "$1/COMPLETE" ] && [ -x "$bin" ] || return 1
  "$bin" docker-cli-plugin-metadata 2>/dev/null | grep -q '"SchemaVersion"' || return 1
  v=$("$bin" version 2>/dev/null) || return 1
  case "$v" in *" v$series."* | *" $series."*) ;; *) log "unexpected version: $v"; return 1 ;; esac
}

print_result() { binary_of "$1"; }

private_apt_fetch
