#!/usr/bin/env bash
# Stages what the runtime image needs: the three binaries and every shared library they
# load that the runtime base image does not provide. The Dockerfile's runtime stage
# copies only this staging directory, and tests/deploy checks it with ldd.
#
# usage: scripts/collect-runtime.sh BUILD_DIR STAGE_DIR
#   STAGE_DIR/bin/       edbp-server edbp-train edbp-client
#   STAGE_DIR/lib/       the libraries, under the names the binaries ask for (sonames)
#   STAGE_DIR/lib/edbp/  the CUDA modules the binaries load on first use
#                        (kernels/cuda_modules.h), where the build has them
#
# Left out, because every base image of the runtime stage has them (glibc and the GCC
# runtime), or the CUDA runtime image does (the CUDA libraries; the driver library
# libcuda comes from the host through the NVIDIA container toolkit): see
# scripts/runtime-base-libs.txt.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 BUILD_DIR STAGE_DIR" >&2
  exit 2
fi
build=$1
stage=$2
here=$(cd "$(dirname "$0")" && pwd)
base_list="$here/runtime-base-libs.txt"

binaries=(bin/edbp-server bin/edbp-train bin/edbp-client)
for b in "${binaries[@]}"; do
  if [ ! -x "$build/$b" ]; then
    echo "collect-runtime: $build/$b is missing: build first (make build)" >&2
    exit 1
  fi
done

# Patterns (shell globs on the soname) of libraries the runtime base provides.
base_patterns=()
while IFS= read -r line; do
  line=${line%%#*}
  line=${line//[[:space:]]/}
  [ -n "$line" ] && base_patterns+=("$line")
done < "$base_list"

in_base() {
  local name=$1 p
  for p in "${base_patterns[@]}"; do
    # shellcheck disable=SC2053  # glob match on purpose
    [[ $name == $p ]] && return 0
  done
  return 1
}

# The CUDA modules sit in lib/edbp next to bin/ (the binaries look in ../lib/edbp).
modules=()
for m in "$build"/lib/edbp/*.so; do
  [ -e "$m" ] && modules+=("lib/edbp/$(basename "$m")")
done

rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
for b in "${binaries[@]}"; do
  cp "$build/$b" "$stage/bin/"
done
if [ "${#modules[@]}" -gt 0 ]; then
  mkdir -p "$stage/lib/edbp"
  for m in "${modules[@]}"; do
    cp "$build/$m" "$stage/lib/edbp/"
  done
fi

missing=0
for b in "${binaries[@]}" "${modules[@]}"; do
  # ldd lines: "name => /path (addr)", "name => not found", or the loader itself.
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then
      echo "collect-runtime: $b needs $name, which is not found" >&2
      missing=1
      continue
    fi
    in_base "$name" && continue
    [ -e "$stage/lib/$name" ] || cp -L "$path" "$stage/lib/$name"
  done < <(ldd "$build/$b")
done
[ "$missing" -eq 0 ] || exit 1
echo "collect-runtime: staged ${#binaries[@]} binaries, ${#modules[@]} CUDA modules and $(find "$stage/lib" -maxdepth 1 -type f | wc -l) libraries in $stage"
