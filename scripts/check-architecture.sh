#!/usr/bin/env bash
# Fails (exit 1, one line per difference) when the folder tree of README.md's
# "## Architecture" section and the repository's tracked folders disagree:
#   - every tracked top-level folder (hidden ones aside) has its line, `name/` at the
#     start of a line of the section's second code block, and every such line names a
#     folder that exists;
#   - where a folder's lines list its contents (indented `  sub/` or `  file.h`), every
#     tracked subfolder is listed and every name listed exists.
# Exit 77 where git is missing or this is no work tree (ctest: skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  echo "SKIPPED: not a git work tree (the folders come from git ls-files)"
  exit 77
fi

# The tree: the second ``` block after the heading.
tree=$(awk '/^## Architecture$/ { on = 1; next }
            on && /^## / { exit }
            on && /^```/ { blocks++; next }
            on && blocks == 3 { print }' README.md)
if [ -z "$tree" ]; then
  echo "README.md: no folder tree (second code block of \"## Architecture\")"
  exit 1
fi
tracked=$(scripts/repo-files.sh)
bad=0
complain() { echo "README.md architecture: $1"; bad=1; }

listed_top=$(printf '%s\n' "$tree" | sed -n 's#^\([a-z][a-z0-9_.-]*\)/ .*#\1#p; s#^\([a-z][a-z0-9_.-]*\)/$#\1#p')
actual_top=$(printf '%s\n' "$tracked" | awk -F/ 'NF > 1 && $1 !~ /^\./ { print $1 }' | sort -u)
for d in $actual_top; do
  printf '%s\n' "$listed_top" | grep -qx "$d" || complain "folder $d/ is not in the tree"
done
for d in $listed_top; do
  [ -d "$d" ] || complain "$d/ is in the tree but not in the repository"
done

# Indented entries, per top-level folder: "  name/" (folder) or "  name.h ..." (files).
current=""
declare -A subs
while IFS= read -r line; do
  if [[ $line =~ ^([a-z][a-z0-9_.-]*)/ ]]; then
    current=${BASH_REMATCH[1]}
  elif [[ -n $current && $line =~ ^\ \ ([a-z][a-z0-9_./-]*) ]]; then
    # Every path-like word before the description: "ops.h backend.h registry.h" too.
    words=${line#  }
    for w in $words; do
      [[ $w =~ ^[a-z][a-z0-9_]*(/|\.[a-z]+)$ ]] || break
      subs[$current]+=" $w"
      [ -e "$current/$w" ] || complain "$current/$w is in the tree but not in the repository"
    done
  fi
done <<< "$tree"
for d in "${!subs[@]}"; do
  for s in $(printf '%s\n' "$tracked" | awk -F/ -v d="$d" 'NF > 2 && $1 == d { print $2 }' | sort -u); do
    [[ " ${subs[$d]} " == *" $s/ "* ]] || complain "folder $d/$s/ is not in the tree"
  done
done
[ "$bad" = 0 ] && echo "check-architecture: README's tree names the $(printf '%s\n' "$actual_top" | wc -l) top-level folders and their listed contents"
exit "$bad"
