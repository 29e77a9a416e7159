#!/usr/bin/env bash
# scripts/test-aarch64.sh [BUILD_DIR] — the NEON kernels, cross-built and run under qemu.
#
# Cross-builds libnn_engine for AArch64 (cmake/toolchain-aarch64.cmake, Release, no
# hwloc, no Criterion: neither has an arm64 package here) into BUILD_DIR (default
# build-aarch64), builds tests/gemm_check.c against it and runs it under qemu-aarch64:
# every kernel set the emulated CPU has (scalar, neon) with 1, 2 and 3 threads.
# About 15 s from scratch, 5 s of it under qemu.  Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-aarch64}
sysroot=/usr/aarch64-linux-gnu
cc=aarch64-linux-gnu-gcc

# The tools, and the Debian package that brings each.
declare -A package_of=([$cc]=gcc-aarch64-linux-gnu [qemu-aarch64]=qemu-user [cmake]=cmake)
missing=()
for tool in "${!package_of[@]}"; do
    command -v "$tool" >/dev/null || missing+=("${package_of[$tool]}")
done
[ -d "$sysroot/include" ] || missing+=(libc6-dev-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "error: missing ${missing[*]}; install them with:" >&2
        echo "  sudo apt-get install gcc-aarch64-linux-gnu qemu-user" >&2
        exit 1
    fi
    echo "Installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

run() { printf '+ %s\n' "$*"; "$@"; }

run cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DNN_WITH_HWLOC=OFF -DNN_BUILD_LAYERS=OFF -DNN_BUILD_TESTS=OFF -DNN_BUILD_BENCH=OFF \
    >/dev/null
run cmake --build "$build" --target nn_engine_static -j"$(nproc)"
mkdir -p "$build/bin"
run "$cc" -std=c11 -O2 -Wall -Wextra -Werror -I"$root/engine/include" "$root/tests/gemm_check.c" \
    "$build/lib/libnn_engine.a" -fopenmp -lm -o "$build/bin/gemm_check"

log=$build/gemm_check.log
status=0
run env NN_ISA=neon qemu-aarch64 -L "$sysroot" "$build/bin/gemm_check" | tee "$log" || status=$?
# A build without the NEON kernels would pass on scalar alone: make sure they ran.
if ! grep -q '^checking:.* neon' "$log"; then
    echo "error: the NEON kernel set was not checked (is simd/gemm_neon.c in the build?)" >&2
    exit 1
fi
exit "$status"
