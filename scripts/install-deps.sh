#!/usr/bin/env bash
# Installs the Debian packages edbp needs to build and test (compilers aside) and the
# Fashion-MNIST data set. Idempotent: when every package is already installed it does
# not touch apt at all. Uses sudo when not run as root.
#
# usage: scripts/install-deps.sh [--build]
#   --build  only what `make build CMAKE_ARGS=-DEDBP_BUILD_TESTS=OFF` needs (the
#            Dockerfile's build stage): no test, lint, browser, Slurm or data set
#            packages, and no node/npm, so the image's edbp-client has no dashboard.
#
# Runs on Debian 12 and on Ubuntu 24.04 (the base of the CUDA images the Dockerfile
# builds on); the package names are the same except where noted below.
set -euo pipefail

os_id=unknown
os_version=unknown
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091  # a system file
  os_id=$(. /etc/os-release && echo "${ID:-unknown}")
  # shellcheck disable=SC1091
  os_version=$(. /etc/os-release && echo "${VERSION_ID:-unknown}")
fi
case "$os_id:$os_version" in
  debian:12 | ubuntu:24.04) ;;
  *)
    echo "install-deps: $os_id $os_version is not supported (Debian 12 or Ubuntu 24.04);" \
      "trying the Debian 12 package names" >&2
    ;;
esac

build_only=0
case "${1:-}" in
  "") ;;
  --build) build_only=1 ;;
  *)
    echo "usage: $0 [--build]" >&2
    exit 2
    ;;
esac

# The libraries and tools of the build itself (MPI included: edbp-train links it).
build_packages=(
  cmake make ninja-build pkg-config
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libsqlite3-dev
  libopenblas-dev zlib1g-dev prometheus-cpp-dev libcpp-httplib-dev openssl libssl-dev
  libopenmpi-dev libhdf5-dev
)
packages=(
  cmake make ninja-build
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libsqlite3-dev
  libgtest-dev libgmock-dev libopenblas-dev
  python3-grpcio python3-protobuf
  zlib1g-dev dataset-fashion-mnist
  prometheus-cpp-dev libcpp-httplib-dev openssl
  shellcheck yamllint
  git clang-format clang-tidy
  clang-14 libclang-rt-14-dev
  nodejs chromium
  # Issue 18: MPI ranks (mpirun), and a Slurm cluster (scripts/slurm-cluster.sh) whose
  # `srun --mpi=pmix` needs Slurm's PMIx plugin (in slurm-wlm) and libpmix.
  openmpi-bin libopenmpi-dev slurm-wlm munge libpmix-dev python3
  # Issue 20: NIR export (HDF5 C API) and its Python test (h5py, numpy).
  libhdf5-dev python3-h5py python3-numpy
)
# npm builds the dashboard's page (uPlot, pinned in client/dashboard/web/package-lock.json).
# nodesource's nodejs ships npm; Debian's nodejs needs the npm package.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi
if [ "$build_only" -eq 1 ]; then
  packages=("${build_packages[@]}")
fi
if [ "$os_id" = ubuntu ]; then
  # Ubuntu ships chromium only as a snap, which apt cannot install in a container: the
  # dashboard's browser tests need chromium from elsewhere there.
  kept=()
  for p in "${packages[@]}"; do
    [ "$p" = chromium ] || kept+=("$p")
  done
  packages=("${kept[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
$sudo apt-get -o DPkg::Lock::Timeout=600 -q update
$sudo apt-get "${apt_opts[@]}" install "${missing[@]}"
