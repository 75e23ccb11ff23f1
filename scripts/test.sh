#!/usr/bin/env bash
# Second command of README: installs what is needed, builds, and runs every test: unit tests,
# integration tests with real clients (ffmpeg, GStreamer, rtmpdump, ffprobe), and each fuzz
# target for a short bounded time. Set SLUICE_TEST_ASAN=1 to also run the suite under
# AddressSanitizer+UndefinedBehaviorSanitizer (scripts/test-asan.sh runs only that).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
ctest --test-dir build --output-on-failure --timeout 300 -j 2
scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-20}"
if [ "${SLUICE_TEST_ASAN:-0}" = 1 ]; then
  scripts/test-asan.sh
fi
