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
# Tests always on, even in a build directory once configured without them: a test run that
# builds here must find its tests.
cmake -S . -B "$dir" -G Ninja "${args[@]}" -DSLUICE_TESTS=ON >/dev/null
cmake --build "$dir" -j "$(nproc)"
