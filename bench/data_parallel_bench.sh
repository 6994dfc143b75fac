#!/usr/bin/env bash
# Data parallel over MPI (issue 18): one epoch of CONFIG as one process with 2 threads
# (W=1) and as 2 MPI ranks with 1 thread each (W=2), alternated REPEATS times in one
# run. Prints per W the median epoch seconds (train + test, the epoch record's
# "seconds"), the peak resident memory of each rank (the largest over the repeats), and
# for W=2 the bytes all-reduced per step and the time spent in the all-reduces.
#
#   bench/data_parallel_bench.sh [BUILD_DIR] [REPEATS] [CONFIG] [DATA_LIMIT]
#   defaults: build 3 configs/fashion_mnist.yaml 4000
set -euo pipefail

build=${1:-build}
repeats=${2:-3}
config=${3:-configs/fashion_mnist.yaml}
limit=${4:-4000}
train="$build/bin/edbp-train"
[ -x "$train" ] || { echo "data_parallel_bench: no $train (build first)" >&2; exit 2; }
mpiexec=$(command -v mpiexec) || { echo "data_parallel_bench: no mpiexec" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=("$config" --data-limit "$limit" --epochs 1 --seed 0 --notensorboard
      --progress-every 0)
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
seconds_of() { grep '"type":"epoch"' "$1" | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/'; }

for i in $(seq "$repeats"); do
  rm -rf "$tmp/run1" "$tmp/run2"
  EDBP_NUM_THREADS=2 /usr/bin/time -f "%M" -o "$tmp/rss1.$i" \
    "$train" "${args[@]}" --out-dir "$tmp/run1" --metrics-jsonl "$tmp/m1.$i" >/dev/null
  seconds_of "$tmp/m1.$i" >>"$tmp/s1"
  # Each rank under its own /usr/bin/time: one peak per rank.
  EDBP_NUM_THREADS=1 "$mpiexec" -n 2 --bind-to core sh -c \
    "exec /usr/bin/time -f %M -o $tmp/rss2.$i.\$OMPI_COMM_WORLD_RANK $train \"\$@\" \
       --out-dir $tmp/run2 --metrics-jsonl $tmp/m2.$i" sh "${args[@]}" >"$tmp/out2.$i"
  seconds_of "$tmp/m2.$i" >>"$tmp/s2"
  grep '^all-reduce:' "$tmp/out2.$i" >>"$tmp/ar"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
isa=$(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2)
echo "data_parallel_bench: $config, --data-limit $limit (train + test), $repeats repeats"
echo "machine: $cpu, $(nproc) cores, $isa"
s1=$(median <"$tmp/s1")
s2=$(median <"$tmp/s2")
echo "W=1 (1 process, 2 threads):   epoch $s1 s (median), peak RSS $(sort -n "$tmp"/rss1.* | tail -1) KiB"
echo "W=2 (2 ranks, 1 thread each): epoch $s2 s (median), peak RSS rank 0 $(sort -n "$tmp"/rss2.*.0 | tail -1) KiB, rank 1 $(sort -n "$tmp"/rss2.*.1 | tail -1) KiB"
awk -v a="$s1" -v b="$s2" 'BEGIN {printf "W=2 / W=1 epoch time: %.3f\n", b / a}'
echo "all-reduce (W=2, last run): $(tail -1 "$tmp/ar" | sed 's/^all-reduce: //')"
echo "all-reduce ms per step, median over runs: $(sed 's/.*(\([0-9.]*\) ms per step).*/\1/' "$tmp/ar" | median)"
