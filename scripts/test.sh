#!/usr/bin/env bash
# Second command of README: installs what is needed, checks formatting (clang-format), builds,
# and runs every test: unit tests, integration tests with real clients (ffmpeg, GStreamer,
# rtmpdump, ffprobe), and each fuzz target for a short bounded time, then the whole suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer (SLUICE_TEST_ASAN=0 skips that;
# scripts/test-asan.sh runs only it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
# --no-tests=error: a run that finds no tests fails.
scripts/build.sh release
ctest --test-dir build --output-on-failure --no-tests=error --timeout 300 -j 2
scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-20}"
if [ "${SLUICE_TEST_ASAN:-1}" = 1 ]; then
  scripts/test-asan.sh
fi
