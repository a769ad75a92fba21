#!/usr/bin/env bash
# Fails when a C++ source differs from what the repository's .clang-format asks.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
files=$(git ls-files '*.cpp' '*.h' 2>/dev/null || find elements plugins tools tests -name '*.cpp' -o -name '*.h')
[ -n "$files" ] || exit 0
if ! clang-format --dry-run --Werror $files; then
  echo "check-format: run 'clang-format -i' on the files above"
  exit 1
fi
