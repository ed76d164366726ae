#!/usr/bin/env bash
# Installs every Debian package deepvox needs, fetches the pretrained weights, and builds build/deepvox.
# Idempotent: a second run only rebuilds what changed. Run as root on Debian 12.
#   tools/setup.sh            install + build
#   tools/setup.sh --no-build install only
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

BUILD_PKGS=(build-essential cmake ninja-build pkg-config git ca-certificates
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools petsc-dev libtorch-dev
  libboost-program-options-dev libgtest-dev libopenblas0-openmp libopenblas-openmp-dev
  libyaml-cpp-dev libopencv-dev libnifti2-dev libturbojpeg0-dev libpng-dev libspdlog-dev nlohmann-json3-dev libssl-dev)
PY_PKGS=(python3 python3-torch python3-torchvision python3-sklearn python3-h5py python3-matplotlib
  python3-numpy python3-skimage)
DATA_PKGS=(mate-backgrounds tuxpaint-stamps-default)

missing=()
for p in "${BUILD_PKGS[@]}" "${PY_PKGS[@]}" "${DATA_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: preinstalled (nodesource) on some machines, where Debian's npm conflicts; install only if absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The OpenMP OpenBLAS must be the libblas.so.3 everyone loads (reference BLAS is ~34x slower).
for lib in libblas.so.3 liblapack.so.3; do
  alt=$(update-alternatives --list "${lib}-x86_64-linux-gnu" 2>/dev/null | grep openblas-openmp | head -1 || true)
  [ -n "$alt" ] && $SUDO update-alternatives --set "${lib}-x86_64-linux-gnu" "$alt" >/dev/null || true
done

if [ -x tools/fetch_models.sh ]; then tools/fetch_models.sh; fi

if [ "${1:-}" != "--no-build" ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "${DEEPVOX_BUILD_JOBS:-2}"
fi
