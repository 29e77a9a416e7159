#!/usr/bin/env bash
# The main job: install what is missing, build (Release), fetch MNIST (checksums
# verified), then `mnist compare`: train the report's 784-256-256-10 MLP and the CNN,
# evaluate both on the training, validation and test images, print them side by side and
# plot both histories (models/compare.png); then the CNN's per-class test report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh main
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
build/bin/mnist fetch
build/bin/mnist compare
build/bin/mnist eval models/cnn.safetensors
