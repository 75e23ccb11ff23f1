#!/usr/bin/env bash
# A long fuzzing campaign, beyond the CI's 20 s per target (scripts/fuzz.sh): each target runs
# a given number of executions (default 10,000,000), one target at a time in one process, with
# ASan and UBSan (every UBSan report is fatal here), capped at FUZZ_MAX_SECONDS (default 900)
# per target so that a slow one cannot hold the machine. The grown corpus stays out of git in
# FUZZ_WORK (default build-fuzz/long/<target>), and a later run goes on from it; the seeds in
# fuzz/corpus/ are read, never written. Prints a table of executions, time, exec/s and coverage.
# Usage: scripts/fuzz-long.sh [runs] [target...]   (no target: every fuzz_* built)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
shift || true
max_seconds=${FUZZ_MAX_SECONDS:-900}
work_root=${FUZZ_WORK:-build-fuzz/long}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_ONLY_PROTO=ON -DSLUICE_FUZZ=ON -DSLUICE_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)"
mkdir -p fuzz/artifacts "$work_root"

names=("$@")
if [ ${#names[@]} = 0 ]; then
  for target in build-fuzz/fuzz_*; do names+=("${target##*/fuzz_}"); done
fi
if [ ${#names[@]} = 0 ]; then
  echo "fuzz-long: no fuzz targets were built in build-fuzz/" >&2
  exit 1
fi

# The fuzz build recovers from UBSan reports by default: here each one stops the target.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
table="target|executions|seconds|exec/s|cov|ft|corpus|result"
failed=0
for name in "${names[@]}"; do
  target=build-fuzz/fuzz_$name
  if [ ! -x "$target" ] || [ -z "$(ls -A "fuzz/corpus/$name" 2>/dev/null)" ]; then
    echo "fuzz-long: no target $target or no seed corpus fuzz/corpus/$name" >&2
    exit 1
  fi
  mkdir -p "$work_root/$name"
  log=$work_root/$name.log
  echo "fuzz-long: $name for $runs runs (at most ${max_seconds}s)"
  start=$(date +%s.%N)
  result=ok
  "$target" -runs="$runs" -max_total_time="$max_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$name-" \
    "$work_root/$name" "fuzz/corpus/$name" 2>"$log" || { result=FAILED; failed=1; }
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # cov/ft/corp of the last status line; the final one is DONE unless the target failed.
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  field() { sed -nE "s/.* $1: ([^ ]+).*/\1/p" <<<"$last"; }
  executions=${executions:-$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")}
  if [ "$result" = ok ] && [ "${executions:-0}" -lt "$runs" ]; then result="stopped at ${max_seconds}s"; fi
  rate=$(echo "${executions:-0} / $seconds" | bc)
  table+=$'\n'"$name|${executions:-?}|$(printf %.1f "$seconds")|$rate|$(field cov)|$(field ft)|$(field corp)|$result"
  if [ "$result" = FAILED ]; then grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -5; fi
done
echo
column -t -s '|' <<<"$table"
exit $failed
