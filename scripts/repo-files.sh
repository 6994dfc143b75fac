#!/usr/bin/env bash
# Prints the repository's files, one per line, relative to its root: the tracked ones and
# the new ones git does not ignore, less any CMake build tree inside the checkout (a
# folder holding a CMakeCache.txt, such as `cmake -S . -B b1`). Extra arguments are git
# ls-files pathspecs ('*.cc'). The lint scripts read the tree through it.
#
# usage: scripts/repo-files.sh [PATHSPEC ...]   (run anywhere in the work tree)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
trees=$(find . -mindepth 2 -maxdepth 4 -name CMakeCache.txt -not -path './.git/*' \
  -printf '%h/\n' | sed 's#^\./##')
git ls-files --cached --others --exclude-standard -- "$@" |
  awk -v trees="$trees" '
    BEGIN { n = split(trees, prefix, "\n") }
    { for (i = 1; i <= n; i++) if (prefix[i] != "" && index($0, prefix[i]) == 1) next; print }'
