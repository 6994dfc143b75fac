#!/usr/bin/env bash
# Checks that the repository's documentation references resolve inside the repository:
#
#  (a) no tracked source, build or documentation file refers to the old documentation
#      folder outside the repository ("..", "/shared": the parent directory's shared
#      folder; "shared", "/docs"; "/work", "/shared"; each pair written as one path):
#      the specification lives in docs/;
#  (b) every section sign followed by a number, i.e. a citation of docs/ALGORITHM.md
#      in one of the forms "ALGORITHM.md §n", "§n-§m", "§n/§m", "§n, §m", "§n-m" or
#      "§n.m", names a section that docs/ALGORITHM.md has: a heading "## n." (and,
#      for §n.m, a heading "### n.m").
#
# Files checked: those `git ls-files` lists (so build folders are never read) whose
# names end in .h .cc .cu .cuh .md .cmake .txt .mjs .sh .yaml .yml, and Dockerfiles.
# A line containing "check-docs: ignore" is skipped (for a section sign that cites
# another document).
#
# usage: scripts/check-docs.sh [--include-untracked] [REPO_DIR]
#   REPO_DIR: a directory of the repository to check (default: the current one); the
#   check always covers that repository's whole work tree, from its root.
#   --include-untracked also checks files that are untracked but not ignored.
# Prints one "file:line: problem" line per problem. Exit status: 0 clean, 1 problems
# found, 2 usage error, 77 nothing checked (git missing, or not a git work tree).
set -euo pipefail

include_untracked=0
repo=.
while [ $# -gt 0 ]; do
  case "$1" in
    --include-untracked) include_untracked=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    -*)
      echo "check-docs: unknown option $1" >&2
      exit 2
      ;;
    *) repo=$1 ;;
  esac
  shift
done

if [ ! -d "$repo" ]; then
  echo "check-docs: $repo is not a directory" >&2
  exit 2
fi
# The files come from git: without it there is nothing to check (ctest: skipped).
if ! command -v git > /dev/null; then
  echo "check-docs: skipped: git is not installed" >&2
  exit 77
fi
if ! top=$(git -C "$repo" rev-parse --show-toplevel 2> /dev/null); then
  echo "check-docs: skipped: $repo is not inside a git work tree" >&2
  exit 77
fi
cd "$top"

# Byte-wise matching: the section sign is the UTF-8 pair C2 A7, the en dash E2 80 93.
export LC_ALL=C
sect=$'\302\247'
endash=$'\342\200\223'
spec=docs/ALGORITHM.md

# The files to check.
list_files() {
  git ls-files -z
  if [ "$include_untracked" = 1 ]; then
    git ls-files -z --others --exclude-standard
  fi
}
files=()
while IFS= read -r -d '' f; do
  case "$f" in
    *.h | *.cc | *.cu | *.cuh | *.md | *.cmake | *.txt | *.mjs | *.sh | *.yaml | *.yml | \
      Dockerfile | */Dockerfile | Dockerfile.* | */Dockerfile.*) ;;
    *) continue ;;
  esac
  # A tracked file deleted in the work tree has nothing to check.
  [ -f "$f" ] && files+=("$f")
done < <(list_files)

if [ ! -f "$spec" ]; then
  echo "$spec:0: missing: the code cites its sections as ALGORITHM.md ${sect}n"
  echo "check-docs: 1 problem(s)" >&2
  exit 1
fi
# Section numbers that have a heading, space-separated: "## n." gives "n", "### n.m"
# gives "n.m".
sections=" $({ grep -oE '^## [0-9]+\.|^###+ [0-9]+\.[0-9]+' "$spec" || true; } |
  sed -E 's/^#+ //; s/\.$//' | tr '\n' ' ')"
if [ -z "${sections// /}" ]; then
  echo "$spec:0: has no numbered section heading ('## n.')"
  echo "check-docs: 1 problem(s)" >&2
  exit 1
fi
[ ${#files[@]} -gt 0 ] || files=(/dev/null)

# One pass over every file. (a): references outside the repository; the patterns are
# written so that this script does not match itself. (b): citations "§n" or "§n.m",
# optionally a range to a bare number ("§n-m", also with an en dash); "§n-§m" and
# "§n, §m" are separate citations. With set -e the script exits with awk's status:
# 1 when it reported a problem.
awk -v sect="$sect" -v endash="$endash" -v spec="$spec" -v sections="$sections" \
  -v nfiles="${#files[@]}" '
  function report(msg) { print FILENAME ":" FNR ": " msg; n++ }
  function check(num,   top) {
    top = num
    sub(/\..*/, "", top)
    if (index(sections, " " top " ") == 0)
      report("cites " sect num ", but " spec " has no section \047## " top ".\047")
    else if (num != top && index(sections, " " num " ") == 0)
      report("cites " sect num ", but " spec " has no heading \047### " num "\047")
  }
  BEGIN {
    outside = "[.][.]/shared|shared[/]docs|/work[/]shared"
    cite = sect "[0-9]+([.][0-9]+)?((-|" endash ")[0-9]+)?"
    n = 0
  }
  index($0, "check-docs: ignore") { next }
  {
    if (match($0, outside)) {
      text = $0
      sub(/^[ \t]+/, "", text)
      report("refers to \047" substr($0, RSTART, RLENGTH) "\047, outside the repository" \
             " (the docs are in docs/): " substr(text, 1, 120))
    }
    line = $0
    while (match(line, cite)) {
      body = substr(line, RSTART + length(sect), RLENGTH - length(sect))
      line = substr(line, RSTART + RLENGTH)
      first = body
      sub(/[^0-9.].*/, "", first)
      check(first)
      if (first != body) {
        last = body
        sub(/.*[^0-9.]/, "", last)
        check(last)
      }
    }
  }
  END {
    if (n > 0) {
      fflush()
      printf "check-docs: %d problem(s) in %d files\n", n, nfiles > "/dev/stderr"
      exit 1
    }
  }
' "${files[@]}"
echo "check-docs: ${#files[@]} files, no references outside the repository," \
  "every ${sect}n citation resolves in $spec"
