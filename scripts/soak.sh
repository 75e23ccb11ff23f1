#!/bin/bash
# Soak and chaos suite against a build: a fleet on loopback (Redis, s3rver, nginx-rtmp, three
# `sluice serve`, `sluice proxy`, `sluice origin`) under 3 publishers, 200 RTMP players and
# 50 HLS viewers; RSS, descriptors and threads sampled every 10 s. Long, so outside CI.
#
#   scripts/soak.sh [MINUTES] [--chaos] [other tests/soak/soak.py options]
#
# MINUTES of soak (default 10); --chaos then kills a server (-9), restarts Redis, takes S3
# away for 60 s and blackholes a server for 60 s, under the same load. Exits non-zero unless
# every goal is met (the summary says which are not). SLUICE_BIN picks the binary (default
# build/sluice; copy it elsewhere first if the build may change underneath the run).
# Needs redis-server, nginx with the RTMP module, ffmpeg and tests/tools' s3rver (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10
if [[ $# -gt 0 && $1 =~ ^[0-9.]+$ ]]; then
  minutes=$1
  shift
fi
export SLUICE_BIN=${SLUICE_BIN:-$PWD/build/sluice}
exec python3 tests/soak/soak.py --minutes "$minutes" "$@"
