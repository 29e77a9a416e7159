#!/usr/bin/env bash
# scripts/check-consumer.sh [BUILD_DIR] — checks that an installed nn works for users.
#
# Installs BUILD_DIR (default: build, in the repository) into a temporary prefix, then
# builds and runs tests/consumer against that prefix twice: with CMake
# (find_package(nn), CMAKE_PREFIX_PATH) and with pkg-config (nn_engine, nn_cblas),
# linking shared and static.  Exits non-zero on any failure; removes its temp dir.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
consumer=$root/tests/consumer
cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -Werror)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

# A program linked statically against nn must not load libnn_engine.so at run time.
not_needing_libnn() {
    if readelf -d "$1" | grep -q 'NEEDED.*libnn_engine'; then
        echo "error: $1 was meant to link libnn_engine statically but needs the .so" >&2
        return 1
    fi
    echo "$(basename "$1"): libnn_engine linked statically (no NEEDED libnn_engine.so)"
}

# True if the compiler finds a system <cblas.h> (OpenBLAS, netlib, ...).
have_system_cblas_h() { printf '#include <cblas.h>\n' | "$cc" -E -x c - >/dev/null 2>&1; }

step "Install $build into $prefix"
run cmake --install "$build" --prefix "$prefix"

step "CMake consumer: find_package(nn) with CMAKE_PREFIX_PATH=$prefix"
run cmake -S "$consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run cmake --build "$tmp/cmake" -j 4
not_needing_libnn "$tmp/cmake/engine_static"
# No LD_LIBRARY_PATH: the installed libraries must be found through the RUNPATH CMake
# gives programs linked to imported targets.
run ctest --test-dir "$tmp/cmake" --output-on-failure

step "pkg-config consumer: PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig"
pc=$(find "$prefix" -name nn_engine.pc -print -quit)
[[ -n $pc ]] || { echo "error: nn_engine.pc was not installed" >&2; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir nn_engine)
run pkg-config --print-errors --exists nn_engine nn_cblas
mkdir "$tmp/pc"
cd "$tmp/pc"

# $(...) is split on purpose below: pkg-config prints several flags.
# shellcheck disable=SC2046
run "$cc" "${cflags[@]}" "$consumer/engine_demo.c" $(pkg-config --cflags --libs nn_engine) \
    -o engine_shared
run env LD_LIBRARY_PATH="$libdir" ./engine_shared

# Static: libnn_engine.a instead of the .so (-Bstatic for it alone), plus the private
# libraries that --static lists (OpenMP, libm, hwloc).
static_libs=$(pkg-config --static --libs nn_engine |
    sed 's/-lnn_engine\b/-Wl,-Bstatic -lnn_engine -Wl,-Bdynamic/')
# shellcheck disable=SC2046,SC2086
run "$cc" "${cflags[@]}" "$consumer/engine_demo.c" $(pkg-config --cflags nn_engine) \
    $static_libs -o engine_static
not_needing_libnn engine_static
run ./engine_static

# The unchanged CBLAS program, with nn's <cblas.h> and with the system's.
# shellcheck disable=SC2046
run "$cc" "${cflags[@]}" "$consumer/cblas_demo.c" \
    -I"$(pkg-config --variable=includedir nn_cblas)/nn" \
    $(pkg-config --cflags --libs nn_cblas) -o cblas_nn_header
run env LD_LIBRARY_PATH="$libdir" ./cblas_nn_header
if have_system_cblas_h; then
    # shellcheck disable=SC2046
    run "$cc" "${cflags[@]}" "$consumer/cblas_demo.c" $(pkg-config --cflags --libs nn_cblas) \
        -o cblas_system_header
    run env LD_LIBRARY_PATH="$libdir" ./cblas_system_header
else
    echo "(no system <cblas.h>: skipping the build against it)"
fi

step "Consumer check passed"
