#!/usr/bin/env bash
# Builds and runs every test: the Criterion suite (all ISAs this CPU has, 1-3 threads),
# the NEON kernels cross-built for AArch64 and run under qemu, an out-of-tree
# program that consumes the installed library through CMake and pkg-config, and the
# drawing page in headless Chromium (tests/e2e, trains its models: about a minute).
#   scripts/test.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
scripts/deps.sh test
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
if [ -z "${NN_SKIP_EXTRA_TESTS:-}" ]; then
  scripts/check-consumer.sh "$build"
  scripts/test-aarch64.sh
  tests/e2e/run.sh "$build"
fi
