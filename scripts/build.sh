#!/usr/bin/env bash
# Configures and builds Sluice. Usage: scripts/build.sh [release|debug|asan] [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=${2:-build};      args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  debug)   dir=${2:-build-debug}; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan)    dir=${2:-build-asan};  args=(-DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON) ;;
  *) echo "usage: $0 [release|debug|asan] [build-dir]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
