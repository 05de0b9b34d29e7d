#!/usr/bin/env bash
# Why this exists: `make test` runs the dockerd e2e suite against more daemon versions than the
# system's Debian 12 dockerd 20.10: Debian 13's dockerd 26.1 (docker.io + containerd 1.7, the
# default) and Debian sid's 28.5 (containerd 2.1; FETCH_DOCKERD_SUITE=sid FETCH_DOCKERD_SERIES=28.5).
# This script gets such a daemon through apt alone, without installing it (scripts/private-apt.sh:
# the machine's own bookworm entries with the suite switched, private apt state dirs,
# `apt-get download`, then `dpkg-deb -x` into a cache folder). Bookworm's runc stays in use
# (trixie's and sid's need a newer glibc), so the runc package is never unpacked. The system's apt
# state and its installed docker.io are never touched.
#
# Prints one line on stdout: the PATH prefix to give the e2e harness
# (ROOTFS_GUARD_E2E_PATH_PREFIX). Everything else goes to stderr.
#
# Idempotent: a complete cache is reused; with CI=true (or --refresh) it is fetched afresh and
# replaces the old one. Environment: ROOTFS_GUARD_DOCKERD_CACHE (default .cache/dockerd-26.1 in
# the repository), FETCH_DOCKERD_SUITE (default trixie), FETCH_DOCKERD_SERIES (default 26.1: the
# dockerd version the unpacked binary must report).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
suite=${FETCH_DOCKERD_SUITE:-trixie}
series=${FETCH_DOCKERD_SERIES:-26.1}
cache=${ROOTFS_GUARD_DOCKERD_CACHE:-$repo/.cache/dockerd-$series}
packages=(docker.io containerd)

# shellcheck source=scripts/private-apt.sh
. "$repo/scripts/private-apt.sh"
private_apt_args fetch-dockerd "$@"

prefix_of() { echo "$1/root/usr/sbin:$1/root/usr/bin"; }

# The unpacked tree is usable when dockerd and containerd run and report the expected versions.
verify_tree() {
  local root=$1/root v
  [ -f "$1/COMPLETE" ] || return 1
  v=$("$root/usr/sbin/dockerd" --version 2>/dev/null) || return 1
  case "$v" in "Docker version $series."*) ;; *) return 1 ;; esac
  "$root/usr/bin/containerd" --version >/dev/null 2>&1 || return 1
  "$root/usr/bin/containerd-shim-runc-v2" -v >/dev/null 2>&1 || return 1
  [ ! -e "$root/usr/sbin/runc" ] && [ ! -e "$root/usr/bin/runc" ] || return 1
}

print_result() {
  prefix_of "$1"
  log "runc stays $(command -v runc || echo '<none on PATH>')"
}

private_apt_fetch
