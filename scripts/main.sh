#!/usr/bin/env bash
# The main job: install what is missing, build (Release), print what the engine found,
# then the GEMM benchmark summary against the peer libraries installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
build/bin/nn_bench --info
build/bin/nn_bench --summary
