#!/usr/bin/env bash
# Self-test of scripts/check-docs.sh: shows that it passes on a clean copy of the
# repository and fails, naming the file, the line and the problem, on each kind of
# defect it exists to catch.
#
# It copies the repository's tracked files (plus docs/ALGORITHM.md and the script, in
# case they are not committed yet) into a temporary folder, makes that a git repository
# with everything added, and runs the script there: first clean, then with one defect
# at a time (each undone before the next). The real work tree is never modified.
#
# usage: tests/lint/check_docs_test.sh [REPO_DIR]   (default: this script's repository)
# Exit status: 0 when every case gave the expected result, 1 otherwise, 77 when there
# is no git or no git work tree to copy (ctest: skipped).
#
# The defects are built at run time (the section sign from its UTF-8 bytes, the outside
# path from pieces), so that this file, which is tracked too, stays clean itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if ! command -v git > /dev/null; then
  echo "check_docs_test: skipped: git is not installed" >&2
  exit 77
fi
if ! repo=$(git -C "${1:-$here}" rev-parse --show-toplevel 2> /dev/null); then
  echo "check_docs_test: skipped: ${1:-$here} is not inside a git work tree" >&2
  exit 77
fi
script=scripts/check-docs.sh

export LC_ALL=C
sect=$'\302\247'
outside="..""/shared""/docs/ALGORITHM.md"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-docs-test.XXXXXX")
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT

# The copy: tracked files as they are in the work tree (a tracked file deleted there is
# skipped), and the two files the check needs.
(
  cd "$repo"
  {
    git ls-files -z
    printf '%s\0' docs/ALGORITHM.md "$script"
  } | sort -zu | while IFS= read -r -d '' f; do
    [ -f "$f" ] && printf '%s\0' "$f"
  done | xargs -0 cp --parents -t "$tmp" --
)
(
  cd "$tmp"
  git init -q .
  git add -A
)

failures=0
checks=0
ok() {
  checks=$((checks + 1))
  echo "ok:   $1"
}
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL: $1"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/      | /'; fi
}

# Runs the script in the copy; sets $out (stdout and stderr) and $rc.
run_check() {
  rc=0
  out=$(cd "$tmp" && bash "$script" 2>&1) || rc=$?
}

# expect_pass DESCRIPTION
expect_pass() {
  run_check
  if [ "$rc" -eq 0 ]; then
    ok "$1: passes"
  else
    fail "$1: expected exit 0, got $rc" "$out"
  fi
}

# expect_fail DESCRIPTION TEXT...: exit 1 and every TEXT (a fixed string) in the output.
expect_fail() {
  local what=$1 text
  shift
  run_check
  if [ "$rc" -ne 1 ]; then
    fail "$what: expected exit 1, got $rc" "$out"
    return
  fi
  for text in "$@"; do
    if ! grep -qF -- "$text" <<< "$out"; then
      fail "$what: output lacks \"$text\"" "$out"
      return
    fi
  done
  ok "$what: fails as expected"
  printf '%s\n' "$out" | sed 's/^/      | /'
}

# Keeps a pristine copy of a file of the copy, to undo a defect with restore.
save() { cp -- "$tmp/$1" "$tmp/$1.orig"; }
restore() { mv -f -- "$tmp/$1.orig" "$tmp/$1"; }
lines() { wc -l < "$tmp/$1" | tr -d ' '; }

cc=core/neuron.cc
md=README.md

# 0. The clean copy passes.
expect_pass "clean copy of the repository"

# 1. A citation of a section that does not exist, in a C++ comment.
save "$cc"
printf '// see ALGORITHM.md %s99\n' "$sect" >> "$tmp/$cc"
expect_fail "${sect}99 cited in $cc" "$cc:$(lines "$cc"): cites ${sect}99" \
  "no section '## 99.'"
restore "$cc"

# 2. A reference to the documentation outside the repository, in a Markdown file.
save "$md"
printf 'The algorithm: %s.\n' "$outside" >> "$tmp/$md"
expect_fail "outside reference in $md" "$md:$(lines "$md"): refers to '..""/shared'"
restore "$md"

# 3. Both at once: both are named.
save "$cc"
save "$md"
printf '// see ALGORITHM.md %s99\n' "$sect" >> "$tmp/$cc"
printf 'The algorithm: %s.\n' "$outside" >> "$tmp/$md"
expect_fail "both defects together" "$cc:$(lines "$cc"): cites ${sect}99" \
  "$md:$(lines "$md"): refers to"
restore "$cc"
restore "$md"

# 4. The other citation forms: a range's far end, a list, a subsection.
save "$cc"
printf '// ALGORITHM.md %s2-%s17\n' "$sect" "$sect" >> "$tmp/$cc"
expect_fail "range ${sect}2-${sect}17" "cites ${sect}17"
restore "$cc"
save "$cc"
printf '// ALGORITHM.md %s3-16\n' "$sect" >> "$tmp/$cc"
expect_fail "range ${sect}3-16" "cites ${sect}16"
restore "$cc"
save "$cc"
printf '// ALGORITHM.md %s3, %s20\n' "$sect" "$sect" >> "$tmp/$cc"
expect_fail "list ${sect}3, ${sect}20" "cites ${sect}20"
restore "$cc"
save "$cc"
printf '// ALGORITHM.md %s5.2\n' "$sect" >> "$tmp/$cc"
expect_fail "subsection ${sect}5.2" "cites ${sect}5.2" "no heading '### 5.2'"
restore "$cc"

# 5. A section heading removed from the specification: its citations in the code fail.
save docs/ALGORITHM.md
sed -i 's/^## 13\. /## Thirteen. /' "$tmp/docs/ALGORITHM.md"
expect_fail "heading '## 13.' removed" "cites ${sect}13" "no section '## 13.'"
restore docs/ALGORITHM.md

# 5b. No specification at all, or one without numbered sections.
save docs/ALGORITHM.md
rm -f -- "$tmp/docs/ALGORITHM.md"
expect_fail "docs/ALGORITHM.md missing" "docs/ALGORITHM.md:0: missing"
printf '# Title\n\nNo sections.\n' > "$tmp/docs/ALGORITHM.md"
expect_fail "docs/ALGORITHM.md without sections" "has no numbered section heading"
restore docs/ALGORITHM.md

# 6. Other file kinds are checked too: a shell script, a YAML file, a Dockerfile.
for f in scripts/defect.sh configs/defect.yaml deploy/Dockerfile.defect; do
  mkdir -p "$tmp/$(dirname "$f")"
  printf '# %s\n' "$outside" > "$tmp/$f"
  (cd "$tmp" && git add -- "$f")
  expect_fail "outside reference in a new tracked $f" "$f:1: refers to"
  (cd "$tmp" && git rm -q --cached -- "$f")
  rm -f -- "$tmp/$f"
done

# 7. Only tracked files count: an untracked file and an ignored build folder are not
#    read (until the file is added).
printf '// ALGORITHM.md %s99\n' "$sect" > "$tmp/core/untracked_defect.h"
mkdir -p "$tmp/build/gen"
printf '// ALGORITHM.md %s99 %s\n' "$sect" "$outside" > "$tmp/build/gen/generated.h"
expect_pass "untracked file and ignored build/ with defects"
(cd "$tmp" && git add -- core/untracked_defect.h)
expect_fail "the same file once added" "core/untracked_defect.h:1: cites ${sect}99"
(cd "$tmp" && git rm -q --cached -- core/untracked_defect.h)
rm -f -- "$tmp/core/untracked_defect.h"
rm -rf -- "$tmp/build"

# 8. The escape for a section sign that cites another document.
save "$cc"
printf '// RFC 9110 %s99 (check-docs: ignore)\n' "$sect" >> "$tmp/$cc"
expect_pass "a line marked check-docs: ignore"
restore "$cc"

# 9. Back to the clean copy.
expect_pass "clean copy after undoing every defect"

echo "check_docs_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
