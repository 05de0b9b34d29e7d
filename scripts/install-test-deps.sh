#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (CI runs as root with nothing
# else): dockerd 20.10 (docker.io) with its CLI (also at /usr/bin/docker when a newer CLI shadows
# it on PATH: tests/e2e_doors.rs runs that 20.10 CLI), docker-compose 1.29 (the compose 1.x
# cases of tests/e2e_doors.rs), busybox-static for the test image, golang-go for the Go
# differential oracle, lintian for the Debian package test (tests/deb_package.rs),
# openssh-server for the ssh:// audit test (the test starts its own sshd; the package's service is
# kept from starting), prometheus for promtool and chromium for the HTML report's headless
# rendering. (Debian's docker-registry for tests/e2e_registry.rs is fetched, not installed:
# scripts/fetch-registry.sh.) Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/bin/docker ] || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${need[*]} and not root; install them or run as root" >&2
  exit 1
fi
echo "install-test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No service of a package installed here may start (the system sshd above all): a policy-rc.d
# of our own for the install, unless the machine has one.
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
