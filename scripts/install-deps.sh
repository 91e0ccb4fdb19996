#!/usr/bin/env bash
# Installs the Debian 12 packages titand needs to build, test and run, skipping the ones
# already present. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libuv1-dev libcurl4-openssl-dev libsimdjson-dev librocksdb-dev libfmt-dev libspdlog-dev
  libh2o-dev libtomlplusplus-dev libcli11-dev libsystemd-dev libsodium-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev systemd python3 clang-format
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
  run_as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${run_as_root[@]}" apt-get update -qq
"${run_as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
