#!/usr/bin/env bash
# One command on a GPU machine: the `gpu` tests (every op CPU vs CUDA, a full
# --inspect-step and a few epochs CPU vs GPU) and the benchmark of the Fashion-MNIST and
# CIFAR-10 configs on the GPU (synthetic input of the configs' shapes), then a short
# table. Benchmark rows are appended to bench/RESULTS.md (and copied to $OUT when the
# device runner sets it, with the logs). Meant to finish in well under 8 minutes on one
# H200.
#
# usage: scripts/gpu-check.sh [BUNDLE_DIR]    (default gpu-bundle)
#
# It runs the binaries of BUNDLE_DIR/edbp-gpu.tar.gz (made here by
# scripts/gpu-bundle.sh: the GPU machine has the CUDA 13 toolkit and driver but none of
# our Debian packages, so it cannot build), unpacked into a temporary folder. Where no
# bundle exists but cmake does, it builds one first. Exit status: 0 when every step passed; a test that reports
# "skipped" on a GPU machine counts as a failure (it means the device was not usable).
#
# The CUDA image (the Dockerfile's default stages on nvidia/cuda:13.0.1-cudnn-*; it
# cannot be built where no registry is reachable, so scripts/image-test.sh builds and
# runs the CPU image only) is smoke-tested here too when EDBP_GPU_IMAGE names it, on a
# machine with docker and the NVIDIA container toolkit:
#   docker build -t edbp:gpu .                        # tens of minutes: compiles edbp
#   EDBP_GPU_IMAGE=edbp:gpu scripts/gpu-check.sh
# Steps image_train (one epoch of configs/small.yaml on synthetic data, as uid 10001,
# on the GPU: the log must say cuda) and image_server (edbp-server with --gpus all:
# healthy through the image's HEALTHCHECK command, one GPU slot or more in its log).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
bundle=${1:-gpu-bundle}
if [ ! -f "$bundle/edbp-gpu.tar.gz" ]; then
  if command -v cmake >/dev/null; then
    scripts/gpu-bundle.sh build-cuda "$bundle" || exit 1
  else
    echo "gpu-check: no $bundle/edbp-gpu.tar.gz and no cmake to build it (run scripts/gpu-bundle.sh on the build machine)" >&2
    exit 1
  fi
fi
unpacked=$(mktemp -d /tmp/edbp-gpu.XXXXXX)
trap 'rm -rf "$unpacked"' EXIT
tar -C "$unpacked" -xzf "$bundle/edbp-gpu.tar.gz" || exit 1
bundle=$unpacked
export LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
export EDBP_TRAIN_BIN="$bundle/bin/edbp-train"
# Everything must resolve from the bundle, glibc and the CUDA toolkit (cudart, cuBLAS,
# cuDNN): say which library is missing instead of failing test by test.
missing=$(for b in "$bundle"/bin/*; do ldd "$b" | grep 'not found' | sed "s|^|$(basename "$b"): |"; done)
if [ -n "$missing" ]; then
  echo "gpu-check: libraries not found (LD_LIBRARY_PATH=$LD_LIBRARY_PATH):" >&2
  echo "$missing" >&2
  exit 1
fi
logs=${OUT:-$(mktemp -d /tmp/edbp-gpu-check.XXXXXX)}
mkdir -p "$logs"
start=$(date +%s)

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "gpu-check: ${gpu:-no nvidia-smi output}; bundle $(head -1 "$bundle/MANIFEST" 2>/dev/null)"
echo "gpu-check: logs in $logs"

declare -a rows=()
status=0

# step NAME TIMEOUT CMD...: runs CMD with its output in $logs/NAME.log (and on the
# console), records PASS / FAIL / SKIPPED (exit 77) and the seconds it took.
step() {
  local name=$1 limit=$2
  shift 2
  local t0 rc result
  t0=$(date +%s)
  timeout "$limit" "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in
    0) result=PASS ;;
    77) result="SKIPPED (counts as failure here)"; status=1 ;;
    124) result="FAIL (timeout ${limit}s)"; status=1 ;;
    *) result="FAIL (exit $rc)"; status=1 ;;
  esac
  rows+=("$(printf '%-28s %-34s %5ss' "$name" "$result" $(( $(date +%s) - t0 )))")
}

step gpu_ops_test 150 "$bundle/bin/gpu_ops_test"
step gpu_train_test 240 "$bundle/bin/gpu_train_test"

label="$(date -u +%F) ${gpu%%,*}"
for config in fashion_mnist cifar10; do
  step "bench_$config" 90 "$bundle/bin/edbp_train_step_bench" --config "configs/$config.yaml" \
    --backend cuda --iters 15 --results bench/RESULTS.md --label "$label"
done
cp bench/RESULTS.md "$logs/RESULTS.md" 2>/dev/null || true

# Issue 18, data parallel on GPUs: one epoch of the Fashion-MNIST network on 8,000
# synthetic samples as one process and as two ranks; with two or more GPUs the ranks sum
# their gradients with NCCL ("nccl over mpi" in the log), with one GPU through host
# memory over MPI. Prints the scaling efficiency T1 / (2 T2) (target >= 0.9 with two
# GPUs). Needs Open MPI's mpiexec on the machine (the bundle carries libmpi for
# edbp-train, not the launcher): where it is missing the row says so and does not count
# as a failure.
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
epoch_seconds() { grep '"type":"epoch"' "$1" | sed 's/.*"seconds":\([0-9.e+-]*\).*/\1/'; }
if command -v mpiexec >/dev/null 2>&1; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  dp_args=(configs/fashion_mnist.yaml --synthetic-data --data-limit 8000 --epochs 1
           --notensorboard --progress-every 0)
  step mpi_w1_gpu 240 "$bundle/bin/edbp-train" "${dp_args[@]}" \
    --out-dir "$logs/mpi_w1" --metrics-jsonl "$logs/mpi_w1.jsonl"
  step "mpi_w2_on_${gpus}_gpus" 240 mpiexec -n 2 --oversubscribe "$bundle/bin/edbp-train" \
    "${dp_args[@]}" --out-dir "$logs/mpi_w2" --metrics-jsonl "$logs/mpi_w2.jsonl"
  t1=$(epoch_seconds "$logs/mpi_w1.jsonl" 2>/dev/null || true)
  t2=$(epoch_seconds "$logs/mpi_w2.jsonl" 2>/dev/null || true)
  if [ -n "$t1" ] && [ -n "$t2" ]; then
    rows+=("$(awk -v a="$t1" -v b="$t2" -v g="$gpus" 'BEGIN {
      printf "%-28s W=1 %.2f s, W=2 %.2f s, efficiency %.2f", "scaling (" g " GPUs)", a, b, a / (2 * b)
    }')")
  fi
else
  rows+=("$(printf '%-28s %-34s' mpi_w2 "not run: no mpiexec on this machine")")
fi

# The CUDA image (see the top of this file). The steps run under timeout, through bash
# -c with the functions exported.
# shellcheck disable=SC2317  # called through bash -c
image_train() {
  local log
  log=$(docker run --rm --gpus all --entrypoint edbp-train -v "$PWD/configs:/configs:ro" \
    "$EDBP_GPU_IMAGE" /configs/small.yaml --synthetic-data --data-limit 1000 --epochs 1 \
    --out-dir /tmp/run --notensorboard 2>&1)
  local rc=$?
  echo "$log"
  [ "$rc" -eq 0 ] || return "$rc"
  echo "$log" | grep -qi cuda || { echo "image_train: the log does not name cuda" >&2; return 1; }
}
# shellcheck disable=SC2317  # called through bash -c
image_server() {
  local c=edbp-gpu-check-$$ i rc=1
  docker run -d --name "$c" --gpus all "$EDBP_GPU_IMAGE" --listen=127.0.0.1:50051 \
    --data-dir=/data --health-listen=0.0.0.0:50052 >/dev/null || return 1
  for ((i = 0; i < 60; i++)); do
    if docker exec "$c" edbp-client --server=127.0.0.1:50052 --timeout=3 health; then
      rc=0
      break
    fi
    sleep 1
  done
  docker logs "$c" 2>&1 | tail -20
  docker logs "$c" 2>&1 | grep -qi 'gpu\|cuda' || { echo "image_server: no GPU slot in the log" >&2; rc=1; }
  docker rm -f "$c" >/dev/null
  return "$rc"
}
if [ -n "${EDBP_GPU_IMAGE:-}" ] && command -v docker >/dev/null 2>&1; then
  export EDBP_GPU_IMAGE
  export -f image_train image_server
  step image_train 300 bash -c image_train
  step image_server 120 bash -c image_server
else
  rows+=("$(printf '%-28s %s' image "not run: docker build -t edbp:gpu . && EDBP_GPU_IMAGE=edbp:gpu $0")")
fi

echo
echo "==== gpu-check summary ($(( $(date +%s) - start )) s; ${gpu:-unknown GPU}) ===="
printf '%s\n' "${rows[@]}"
for config in fashion_mnist cifar10; do
  f="$logs/bench_$config.log"
  [ -f "$f" ] || continue
  echo "-- $config:"
  grep -E '^(train batch|test batch|peak .* memory|dense-equivalent)' "$f" | sed 's/^/   /'
done
exit $status
