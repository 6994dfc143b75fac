#!/usr/bin/env bash
# Installs the Debian packages edbp needs to build and test (compilers aside) and the
# Fashion-MNIST data set. Idempotent: when every package is already installed it does
# not touch apt at all. Uses sudo when not run as root.
set -euo pipefail

packages=(
  cmake make ninja-build
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev libsqlite3-dev
  libgtest-dev libgmock-dev libopenblas-dev
  zlib1g-dev dataset-fashion-mnist
  prometheus-cpp-dev libcpp-httplib-dev openssl
  shellcheck yamllint
  nodejs chromium
)

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
