# Cross-compiling for AArch64 Linux with Debian's cross toolchain; programs built here
# run under qemu-user (ctest and try_run use CMAKE_CROSSCOMPILING_EMULATOR).
#   apt-get install gcc-aarch64-linux-gnu qemu-user
#   cmake -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(NN_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${NN_AARCH64_SYSROOT})

# Libraries, headers and packages from the target only; programs (pkg-config, ...) from the host.
set(CMAKE_FIND_ROOT_PATH ${NN_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config must not hand the host's x86-64 libraries (hwloc) to the cross build: only
# arm64 packages (Debian multiarch, e.g. libhwloc-dev:arm64) are seen.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:${NN_AARCH64_SYSROOT}/lib/pkgconfig)
