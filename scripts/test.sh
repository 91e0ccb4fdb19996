#!/usr/bin/env bash
# Builds titand and runs the whole test suite: the release preset, then the asan preset
# (AddressSanitizer and UndefinedBehaviorSanitizer). Set TITAND_SKIP_ASAN=1 to run only
# the first. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

presets=(release)
if [ "${TITAND_SKIP_ASAN:-0}" != "1" ]; then
  presets+=(asan)
fi
for preset in "${presets[@]}"; do
  echo "== ${preset}: configure and build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== ${preset}: test" >&2
  ctest --preset "$preset"
done
