#!/usr/bin/env bash
# Installs what the tests need from Debian when it is missing: podman builds the images, buildah
# runs them, mmdebstrap makes their Debian base, strip (binutils) slims its node
# (test/images/build.ts); promtool (Debian package prometheus) runs the chart's alerting rules
# (test/chart/alerts.test.ts); redis-server backs the queue tests (runtime/queue, issue 18). Part
# of the README's test command and of .ci/run. Without root or apt-get it says so and succeeds:
# the tests that need them then skip and say why.
set -uo pipefail
packages=()
command -v podman >/dev/null || packages+=(podman buildah mmdebstrap binutils debian-archive-keyring)
command -v promtool >/dev/null || packages+=(prometheus)
command -v redis-server >/dev/null || packages+=(redis-server)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system-packages: no root apt-get to install ${packages[*]}: the tests that need them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq &&
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null ||
  echo "install-system-packages: installing ${packages[*]} failed: the tests that need them will skip" >&2
# The redis-server package starts a system redis-server on 6379 where a service manager runs; the
# tests start their own on free ports and need none. The same for prometheus.
exit 0
