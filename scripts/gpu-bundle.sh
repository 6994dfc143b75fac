#!/usr/bin/env bash
# Builds the GPU test and benchmark binaries here and gathers them, stripped, with every
# non-system shared library they load, into one git-ignored folder that a GPU machine
# without our Debian packages can run (scripts/gpu-check.sh, LD_LIBRARY_PATH=.../lib).
#
# usage: scripts/gpu-bundle.sh [BUILD_DIR] [BUNDLE_DIR]    (defaults: build-cuda gpu-bundle)
#   BUNDLE/edbp-gpu.tar.gz   bin/ lib/ MANIFEST, gzipped (the device call carries
#                            BUNDLE; gpu-check.sh unpacks it into a temporary folder):
#     bin/   gpu_ops_test gpu_train_test edbp-train edbp_train_step_bench (stripped)
#     lib/   the libraries under the names the binaries ask for (sonames), stripped
#   BUNDLE/MANIFEST          what was copied from where, and the sizes
# Unpacked the files come to ~80 MiB (OpenBLAS alone is 35 MiB), over the device call's
# 64 MiB; gzipped ~27 MiB.
#
# Left out: glibc (libc, libm, libpthread, libdl, librt, ld-linux, ...) which every
# Linux has, and the CUDA libraries (cudart, cuBLAS, cuDNN, libcuda, ...) which the GPU
# machine's CUDA 13 toolkit and driver provide. libstdc++ and libgcc_s ARE copied: the
# GPU machine need not be Debian 12, and an older libstdc++ would lack our symbols.
# The Fashion-MNIST files are not copied (the gpu tests use synthetic data of the same
# shape where /usr/share/datasets/fashion-mnist is absent): they would add ~30 MiB.
set -euo pipefail

cd "$(dirname "$0")/.."
build=${1:-build-cuda}
bundle=${2:-gpu-bundle}
limit_mib=64
targets=(gpu_ops_test gpu_train_test edbp-train edbp_train_step_bench edbp_cuda edbp_cuda_query)

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DEDBP_CUDA=ON
fi
grep -q '^EDBP_CUDA:STRING=OFF' "$build/CMakeCache.txt" && {
  echo "gpu-bundle: $build was configured with EDBP_CUDA=OFF" >&2
  exit 1
}
ninja -C "$build" -j "${JOBS:-2}" "${targets[@]}"
if [ ! -f "$build/lib/edbp/libedbp_cuda.so" ]; then
  echo "gpu-bundle: $build has no CUDA backend (no nvcc or no cuDNN at configure time)" >&2
  exit 1
fi

paths=(tests/gpu/gpu_ops_test tests/gpu/gpu_train_test bin/edbp-train
       bench/edbp_train_step_bench)

stage=$(mktemp -d /tmp/edbp-gpu-bundle.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
manifest="$stage/MANIFEST"
echo "# gpu bundle built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')" > "$manifest"

for p in "${paths[@]}"; do
  cp "$build/$p" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$(basename "$p")"
  echo "bin/$(basename "$p") <- $build/$p" >> "$manifest"
done
# The CUDA modules (kernels/cuda_modules.h): the binaries load them from ../lib/edbp.
modules=(lib/edbp/libedbp_cuda.so lib/edbp/libedbp_cuda_query.so)
mkdir -p "$stage/lib/edbp"
for m in "${modules[@]}"; do
  cp "$build/$m" "$stage/lib/edbp/"
  strip --strip-unneeded "$stage/$m"
  echo "$m <- $build/$m" >> "$manifest"
done

# A soname the GPU machine provides itself: glibc and the CUDA stack.
provided() {
  case "$1" in
    linux-vdso.so.*|ld-linux*.so.*|libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|\
    librt.so.*|libresolv.so.*|libutil.so.*|libmvec.so.*) return 0 ;;
    libcuda.so.*|libcudart.so.*|libcublas.so.*|libcublasLt.so.*|libcudnn*.so.*|\
    libnvrtc*.so.*|libnvJitLink.so.*|libnvidia-*.so.*) return 0 ;;
  esac
  return 1
}

declare -A copied=()
for p in "${paths[@]}" "${modules[@]}"; do
  # "libfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x...)"
  while read -r soname arrow path _; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then
      echo "gpu-bundle: $p needs $soname, which is not found here" >&2
      exit 1
    fi
    provided "$soname" && continue
    case "$path" in /usr/local/cuda*) continue ;; esac
    [ -n "${copied[$soname]:-}" ] && continue
    cp -L "$path" "$stage/lib/$soname"
    chmod u+w "$stage/lib/$soname"
    strip --strip-unneeded "$stage/lib/$soname" 2>/dev/null || true
    copied[$soname]=1
    echo "lib/$soname <- $path" >> "$manifest"
  done < <(ldd "$build/$p")
done

# Every binary must resolve from the bundle alone (plus glibc and CUDA).
for b in "$stage"/bin/* "$stage"/lib/edbp/*; do
  missing=$(LD_LIBRARY_PATH="$stage/lib:${LD_LIBRARY_PATH:-}" ldd "$b" | grep 'not found' || true)
  if [ -n "$missing" ]; then
    echo "gpu-bundle: $b does not resolve from the bundle: $missing" >&2
    exit 1
  fi
done

raw_mib=$(( ($(du -sk "$stage" | cut -f1) + 1023) / 1024 ))
echo "# unpacked: ${raw_mib} MiB (${#copied[@]} libraries)" >> "$manifest"
rm -rf "$bundle"
mkdir -p "$bundle"
tar -C "$stage" -czf "$bundle/edbp-gpu.tar.gz" bin lib MANIFEST
size_mib=$(( ($(du -sk "$bundle/edbp-gpu.tar.gz" | cut -f1) + 1023) / 1024 ))
echo "# edbp-gpu.tar.gz: ${size_mib} MiB" >> "$manifest"
cp "$manifest" "$bundle/MANIFEST"
echo "gpu-bundle: $bundle/edbp-gpu.tar.gz: ${#paths[@]} binaries, ${#copied[@]} libraries," \
     "${raw_mib} MiB unpacked, ${size_mib} MiB to carry"
if [ "$size_mib" -gt "$limit_mib" ]; then
  echo "gpu-bundle: over the device call's ${limit_mib} MiB limit" >&2
  exit 1
fi
