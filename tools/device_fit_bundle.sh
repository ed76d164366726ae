#!/usr/bin/env bash
# Packs the Debian 12 build of fit_driver with every shared library it needs and Open MPI's runtime
# (mpirun, orted, plugins, help files) into one tarball, to time the fit stage on a machine that has
# none of the stack and cannot install it (the 16-core device machine of docs/fit.md).
#
#   tools/device_fit_bundle.sh BUILD_DIR OUT.tar.xz
#
# On the target, as root:
#   tar -C / -xJf OUT.tar.xz
#   export LD_LIBRARY_PATH=/opt/dv/lib OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
#   python3 bench/fit/run_bench.py --exe /opt/dv/bin/fit_driver ...
# glibc is left out: the target's must be at least Debian 12's (2.36). Open MPI's files go to their
# Debian paths, which its build has compiled in; the libraries go to /opt/dv/lib.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR OUT.tar.xz}
out=${2:?usage: $0 BUILD_DIR OUT.tar.xz}
[[ -x $build/fit_driver ]] || { echo "error: $build/fit_driver not found (cmake --build $build --target fit_driver)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/opt/dv/{bin,lib} "$stage"/usr/bin "$stage"/usr/lib/x86_64-linux-gnu "$stage"/usr/share "$stage"/etc
cp "$build/fit_driver" "$stage/opt/dv/bin/"
cp -a /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 "$stage/usr/lib/x86_64-linux-gnu/"
cp -a /usr/share/openmpi "$stage/usr/share/"
cp -a /etc/openmpi "$stage/etc/"
cp -L /usr/bin/orted /usr/bin/orterun "$stage/usr/bin/"
ln -s orterun "$stage/usr/bin/mpirun"

# Every library the programs and the plugins load, glibc's own excepted.
plugins=$(find /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 -name '*.so*' -type f)
# shellcheck disable=SC2086
ldd "$build/fit_driver" /usr/bin/orted /usr/bin/orterun $plugins 2>/dev/null |
  awk '/=>/ && $3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|libutil|ld-linux-x86-64)\.so' |
  xargs -I{} cp -L {} "$stage/opt/dv/lib/"

tar -C "$stage" -cf - . | xz -T0 -6 >"$out"
echo "wrote $out ($(du -h "$out" | cut -f1)), $(ls "$stage/opt/dv/lib" | wc -l) libraries"
