#!/usr/bin/env bash
# Packs what test/gpu/run.sh needs on a machine that has no Node and reaches no registry (a lent
# GPU machine): .gpu/node.xz (the Node 24 of node_modules) and .gpu/runtime-modules.tar.xz (the
# production dependencies, without type declarations and source maps), about 35 MB together.
# .gpu/ is ignored by git (.gitignore); carry it to the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
[ -f .gpu/node.xz ] || xz -T0 -6 -c node_modules/node/bin/node > .gpu/node.xz
# `npm ls --omit=dev` lists the production tree: what the runtime image installs.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' | sort -u > .gpu/modules.txt
tar -cf - --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='*.map' -T .gpu/modules.txt \
  | xz -T0 -6 > .gpu/runtime-modules.tar.xz
ls -la .gpu
