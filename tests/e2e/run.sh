#!/usr/bin/env bash
# The drawing page's end-to-end test (draw.test.mjs) with what it needs: playwright-core
# from package-lock.json (npm ci), Debian's Chromium, the built `mnist`.  It trains its
# own models (about 20 s) unless given a directory holding mlp.safetensors and
# cnn.safetensors.
#   tests/e2e/run.sh [build-dir] [models-dir]
set -euo pipefail
build=$(realpath "${1:-$(dirname "$0")/../../build}")
models=${2:+$(realpath "$2")}
cd "$(dirname "$0")"
for tool in node npm /usr/bin/chromium; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is missing (scripts/deps.sh test installs it)" >&2; exit 1; }
done
npm ci --no-audit --no-fund --loglevel=error
args=(--mnist "$build/bin/mnist")
[ -n "$models" ] && args+=(--models "$models")
node draw.test.mjs "${args[@]}"
