#!/usr/bin/env bash
# Runs clang-tidy (the checks of .clang-tidy) over every tracked .cc file that BUILD_DIR
# compiles, the project's headers with them, JOBS at a time; fails (exit 1) on any
# finding, printing each. Exit 77 where clang-tidy, git or the build's
# compile_commands.json is missing (ctest: skipped).
#
# usage: scripts/check-tidy.sh BUILD_DIR [FILE.cc ...]   (default: every tracked .cc)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [FILE.cc ...]" >&2
  exit 2
fi
build=$1
shift
clang_tidy=${CLANG_TIDY:-clang-tidy}
if ! command -v "$clang_tidy" > /dev/null; then
  echo "SKIPPED: $clang_tidy is not installed (apt-get install clang-tidy)"
  exit 77
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "SKIPPED: $build/compile_commands.json is missing (configure with CMake first)"
  exit 77
fi
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  if ! git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    echo "SKIPPED: not a git work tree (the files to check come from git ls-files)"
    exit 77
  fi
  # The tracked .cc files the build compiles (kernels/cuda/*.cc only where it has CUDA).
  mapfile -t files < <(git ls-files -- '*.cc' | while read -r f; do
    grep -q "\"file\": \"$PWD/$f\"" "$build/compile_commands.json" && echo "$f"
  done)
fi

log=$(mktemp /tmp/edbp-tidy.XXXXXX)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
# Each file alone (one clang-tidy per file), its findings on stdout; clang-tidy's exit
# status is not relied on (it is 0 for warnings unless they are made errors).
printf '%s\n' "${files[@]}" |
  xargs -P "${JOBS:-$(nproc)}" -I{} "$clang_tidy" -p "$build" --quiet {} > "$log" 2> /dev/null || true
# A header's finding is reported by every file that includes it: counted once.
findings=$({ grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log" || true; } | sort -u | wc -l)
if [ "$findings" != 0 ]; then
  grep -E -A3 '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$log"
  echo "check-tidy: $findings finding(s) in ${#files[@]} files" >&2
  exit 1
fi
echo "check-tidy: ${#files[@]} files clean ($(( $(date +%s) - start )) s)"
