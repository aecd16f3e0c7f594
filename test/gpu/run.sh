#!/usr/bin/env bash
# The GPU test (issue 20), one prepared script: `npm run test:gpu`, or `bash test/gpu/run.sh` on a
# machine without the repository's node_modules (a lent GPU machine: see test/gpu/README.md).
#   Node 24: node_modules' (npm ci), else .gpu/node.xz and .gpu/runtime-modules.tar.xz from pack.sh.
#   Python with torch: $CORTEX_PYTHON, else python3 if it imports torch, else a venv cached in
#     ~/.cache/cortex-gpu/venv with torch (a CUDA build; it runs on the CPU too) from PyPI.
# Results: the table on stdout; JSON in $CORTEX_GPU_RESULTS (default: $OUT/gpu-results.json when
# $OUT is set). Without a GPU everything runs on the CPU and only the GPU assertions are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -x node_modules/.bin/node ] && [ -d node_modules/prom-client ]; then
  export PATH="$PWD/node_modules/.bin:$PATH"
elif [ -f .gpu/node.xz ]; then
  mkdir -p /tmp/cortex-gpu/bin
  [ -x /tmp/cortex-gpu/bin/node ] || { xz -dc .gpu/node.xz > /tmp/cortex-gpu/bin/node && chmod +x /tmp/cortex-gpu/bin/node; }
  [ -d node_modules/prom-client ] || tar -xJf .gpu/runtime-modules.tar.xz
  export PATH="/tmp/cortex-gpu/bin:$PATH"
else
  echo "test/gpu/run.sh: no Node 24: run npm ci, or test/gpu/pack.sh where npm works and carry .gpu" >&2
  exit 2
fi
echo "# node $(node --version)"

if [ -z "${CORTEX_PYTHON:-}" ]; then
  if python3 -c 'import torch' 2>/dev/null; then
    CORTEX_PYTHON=python3
  else
    venv="$HOME/.cache/cortex-gpu/venv"
    if ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
      echo "# installing torch into $venv (once; several GB)"
      python3 -m venv "$venv"
      "$venv/bin/python" -m pip install -q --disable-pip-version-check torch numpy
    fi
    CORTEX_PYTHON="$venv/bin/python"
  fi
fi
export CORTEX_PYTHON
echo "# python: $CORTEX_PYTHON ($("$CORTEX_PYTHON" --version))"

if [ -z "${CORTEX_GPU_RESULTS:-}" ] && [ -n "${OUT:-}" ]; then export CORTEX_GPU_RESULTS="$OUT/gpu-results.json"; fi
exec node --test --test-concurrency=1 --test-reporter=spec test/gpu/gpu.gpu-test.ts
