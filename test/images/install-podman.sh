#!/usr/bin/env bash
# Installs what the image tests need when podman is missing: podman builds the images, buildah
# runs them, mmdebstrap makes their Debian base, strip (binutils) slims its node
# (test/images/build.ts). Part of the README's test command and of .ci/run. Without root or
# apt-get it says so and succeeds: the image tests then skip and print why.
set -uo pipefail
command -v podman >/dev/null && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-podman: no podman, and no root apt-get to install it: the image tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq &&
  apt-get install -y -qq --no-install-recommends podman buildah mmdebstrap binutils debian-archive-keyring >/dev/null ||
  echo "install-podman: installing podman, buildah and mmdebstrap failed: the image tests will skip" >&2
exit 0
