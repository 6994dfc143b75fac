#!/usr/bin/env bash
# Fails (exit 1, one line per file) when a C++ or CUDA file of the repository (tracked,
# or new and not ignored, build trees aside: scripts/repo-files.sh) differs from what
# clang-format makes of it with the repository's .clang-format. Run from anywhere in the
# repository; `--fix` rewrites the files instead. Exit 77 where clang-format or git is
# missing (ctest: skipped).
#
# usage: scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac
clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" > /dev/null; then
  echo "SKIPPED: $clang_format is not installed (apt-get install clang-format)"
  exit 77
fi
if ! git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "SKIPPED: not a git work tree (the files to check come from git ls-files)"
  exit 77
fi

mapfile -t files < <(scripts/repo-files.sh '*.h' '*.cc' '*.cu' '*.cuh')
if [ "$fix" = 1 ]; then
  "$clang_format" -i "${files[@]}"
  echo "formatted ${#files[@]} files"
  exit 0
fi
present=()
for f in "${files[@]}"; do
  [ -f "$f" ] && present+=("$f")  # not those deleted in the work tree only
done
# In parallel batches; clang-format names each file it would change ("FILE:LINE:COL:
# error: code should be clang-formatted").
# (xargs exits non-zero when any batch has a file to change: the list decides.)
bad=$({ printf '%s\0' "${present[@]}" |
  xargs -0 -P "${JOBS:-$(nproc)}" -n 16 "$clang_format" --dry-run -Werror 2>&1 || true; } |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' |
  sort -u)
if [ -n "$bad" ]; then
  while read -r f; do
    echo "$f: not formatted as .clang-format says (scripts/check-format.sh --fix)"
  done <<< "$bad"
  exit 1
fi
echo "check-format: ${#present[@]} files formatted"
