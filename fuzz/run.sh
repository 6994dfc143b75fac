#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) in BUILD_DIR
# and runs each for SECONDS on a copy of its seed corpus (fuzz/corpus/<target>, never
# written), with fuzz/<target>.dict where there is one. Fails when any target finds a
# crash, a leak, a timeout or an out-of-memory (-rss_limit_mb=2048: an input that makes
# a reader allocate more than 1 GiB at once, -malloc_limit_mb=1024, is a bug), naming
# the reproducer; rerun it with `BUILD_DIR/fuzz/edbp_fuzz_<target> REPRODUCER`.
#
# Usage: fuzz/run.sh [BUILD_DIR [SECONDS [TARGET...]]]   (defaults build-fuzz, 60, all)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-fuzz}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(config safetensors idx cifar nmnist frame_cache aedat report)
fi

for tool in clang-14 clang++-14; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fuzz: $tool not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
    exit 1
  fi
done
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja -DEDBP_FUZZ=ON \
  -DEDBP_CUDA=OFF -DEDBP_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$build_dir" --target edbp_fuzzers -j "${JOBS:-$(nproc)}"

work=$(mktemp -d "${TMPDIR:-/tmp}/edbp-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/edbp_fuzz_$target"
  corpus="$work/corpus/$target"
  artifacts="$build_dir/fuzz-artifacts/$target"
  log="$build_dir/fuzz-logs/$target.log"
  mkdir -p "$corpus" "$(dirname "$log")"
  rm -rf "$artifacts" && mkdir -p "$artifacts"
  cp fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=("-dict=fuzz/$target.dict"); fi
  echo "fuzz: $target for ${seconds}s (log $log)"
  if "$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=30 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    # "#12345 DONE cov: 812 ft: 2301 corp: 140/20Kb exec/s: 205 rss: 80Mb"
    done_line=$(grep -aE '[[:space:]]DONE[[:space:]]' "$log" | tail -1 || true)
    runs=$(grep -a '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
    rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | awk '{print $2}')
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$done_line")
    echo "fuzz: $target ok: ${seconds}s, ${runs:-?} runs (${rate:-?}/s), cov ${cov:-?}," \
      "corpus ${corp:-?} (inputs/size), 0 crashes"
  else
    failed+=("$target")
    tail -n 40 "$log" >&2
    for reproducer in "$artifacts"/*; do
      [ -e "$reproducer" ] || continue
      echo "fuzz: $target FAILED; reproducer: $reproducer" \
        "(rerun: $binary $reproducer)" >&2
    done
    if ! compgen -G "$artifacts/*" >/dev/null; then
      echo "fuzz: $target FAILED without a reproducer; see $log" >&2
    fi
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets clean"
