#!/usr/bin/env bash
# Formatting of the C++ and CUDA sources against .clang-format.
#   scripts/format.sh            # CI: exit 1 and list the files that are not formatted
#   scripts/format.sh --fix      # reformat them in place
# Pinned to clang-format-14, Debian 12's: every clang-format release changes some layout
# decisions, so a check and a developer's fix must come from the same version or they disagree
# on files nobody touched. Every tracked file is checked: the tree is formatted, so this is the
# same as checking the changed ones, and a file cannot slip through by not being "changed".
set -euo pipefail
cd "$(dirname "$0")/.."

clang_format=${CLANG_FORMAT:-clang-format-14}
command -v "$clang_format" >/dev/null || { echo "format: $clang_format not found (apt-get install clang-format-14)" >&2; exit 1; }

mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if [[ ${1:-} == --fix ]]; then
  "$clang_format" -i "${files[@]}"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} > 0)); then
  echo "format: ${#bad[@]} file(s) differ from .clang-format ($clang_format); run scripts/format.sh --fix:" >&2
  for f in "${bad[@]}"; do
    echo "  $f" >&2
    "$clang_format" "$f" | diff -u "$f" - | head -20 >&2 || true
  done
  exit 1
fi
echo "format: ${#files[@]} files formatted as .clang-format says ($clang_format)"
