#!/usr/bin/env bash
# First command of README: installs what is needed, builds, and starts `sluice serve` on its
# embedded defaults (RTMP :1935, HTTP :8000, open auth, data in ./data). Extra arguments are
# passed to `sluice serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/sluice serve "$@"
