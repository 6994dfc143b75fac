#!/usr/bin/env bash
# scripts/check-architecture.sh can fail: on a copy of the repository's tracked files it
# passes, then fails naming the defect for a new folder missing from README's tree, a
# folder of the tree that is gone, a new subfolder of core/ and a listed file that is
# gone. usage: tests/lint/check_architecture_test.sh [REPO_DIR]
set -euo pipefail
repo=$(git -C "${1:-$(dirname "$0")}" rev-parse --show-toplevel 2> /dev/null) || {
  echo "SKIPPED: not inside a git work tree"
  exit 77
}
tmp=$(mktemp -d /tmp/edbp-arch-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Files listed but deleted in the work tree are skipped (cp fails for them only).
(cd "$repo" && scripts/repo-files.sh | tr '\n' '\0' |
  xargs -0 cp --parents -t "$tmp" 2> /dev/null) || true
git -C "$tmp" init -q && git -C "$tmp" add -A
failures=0
expect() {  # expect pass|fail PATTERN DESCRIPTION
  local want=$1 pattern=$2 what=$3 out rc=0
  out=$(cd "$tmp" && scripts/check-architecture.sh 2>&1) || rc=$?
  if [ "$want" = pass ] && [ "$rc" = 0 ]; then echo "ok: $what"; return; fi
  if [ "$want" = fail ] && [ "$rc" = 1 ] && grep -q -- "$pattern" <<< "$out"; then
    echo "ok: $what"
    return
  fi
  echo "FAILED: $what (exit $rc): $out"
  failures=$((failures + 1))
}
expect pass "" "the copy as it is"
mkdir "$tmp/newfolder" && echo x > "$tmp/newfolder/a.txt" && git -C "$tmp" add -A
expect fail "folder newfolder/ is not in the tree" "a new top-level folder"
git -C "$tmp" rm -rqf newfolder
git -C "$tmp" mv bench bench-moved
expect fail "bench/ is in the tree but not in the repository" "a folder of the tree moved away"
git -C "$tmp" mv bench-moved bench
mkdir "$tmp/core/newpart" && echo x > "$tmp/core/newpart/a.cc" && git -C "$tmp" add -A
expect fail "folder core/newpart/ is not in the tree" "a new subfolder of core/"
git -C "$tmp" rm -rqf core/newpart
git -C "$tmp" mv core/tensor.h core/tensor2.h
expect fail "core/tensor.h is in the tree but not in the repository" "a listed file renamed"
git -C "$tmp" mv core/tensor2.h core/tensor.h
mkdir -p "$tmp/b1/gen" && touch "$tmp/b1/CMakeCache.txt" && echo "int x;" > "$tmp/b1/gen/x.cc"
expect pass "" "a CMake build tree inside the checkout (cmake -B b1) is no folder of the repository"
rm -rf "$tmp/b1"
expect pass "" "the copy restored"
[ "$failures" = 0 ] || exit 1
