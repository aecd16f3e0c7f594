#!/usr/bin/env bash
# Installs what the image tests need when podman is missing: podman builds the images, buildah
# runs them, mmdebstrap makes their Debian base, strip (binutils) slims its node
# (test/images/build.ts); and promtool (Debian package prometheus) when it is missing, which runs
# the chart's alerting rules (test/chart/alerts.test.ts). Part of the README's test command and
# of .ci/run. Without root or apt-get it says so and succeeds: those tests then skip and say why.
set -uo pipefail
packages=()
command -v podman >/dev/null || packages+=(podman buildah mmdebstrap binutils debian-archive-keyring)
command -v promtool >/dev/null || packages+=(prometheus)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-podman: no root apt-get to install ${packages[*]}: the image and alert tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq &&
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null ||
  echo "install-podman: installing ${packages[*]} failed: the image and alert tests will skip" >&2
exit 0
