#!/usr/bin/env bash
# The main job: install what is missing, build (Release), fetch MNIST (checksums
# verified), train the report's 784-256-256-10 MLP, evaluate it on the test set, and
# write the training-vs-validation plot (models/mlp.png) and history (models/mlp.csv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh main
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
build/bin/mnist fetch
build/bin/mnist train --plot models/mlp.png --log models/mlp.csv
build/bin/mnist eval models/mlp.safetensors
