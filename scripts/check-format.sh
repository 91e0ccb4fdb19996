#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format makes of it with the repo's
# .clang-format. Run `clang-format -i FILE` on the files it names.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find daemon lib tests bench -name '*.cc' -o -name '*.h' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
