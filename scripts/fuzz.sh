#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (default 20 s)
# from its seed corpus. A crash, leak or timeout fails the run and leaves the input in
# fuzz/artifacts/. Usage: scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_ONLY_PROTO=ON -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)"
mkdir -p fuzz/artifacts
# The fuzz build recovers from UBSan reports by default: here each one fails the target.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
shopt -s nullglob
targets=(build-fuzz/fuzz_*)
if [ ${#targets[@]} = 0 ]; then
  echo "fuzz: no fuzz targets were built in build-fuzz/" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  name=${target##*/fuzz_}
  # A target without its seed corpus would start from nothing and find little: that fails.
  if [ -z "$(ls -A "fuzz/corpus/$name" 2>/dev/null)" ]; then
    echo "fuzz: no seed corpus for $name (fuzz/corpus/$name is missing or empty)" >&2
    exit 1
  fi
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$name-" "$work" 2>"build-fuzz/$name.log" \
    || { tail -40 "build-fuzz/$name.log"; rm -rf "$work"; exit 1; }
  grep -E "^Done|#[0-9]+.*DONE" "build-fuzz/$name.log" | tail -1 || true
  rm -rf "$work"
done
echo "fuzz: all targets ran clean"
