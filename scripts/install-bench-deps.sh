#!/usr/bin/env bash
# Peers the benchmarks compare against (not needed to run or test Sluice).
set -euo pipefail
"$(dirname "$0")/install-deps.sh"
missing=()
for p in nginx libnginx-mod-rtmp wrk haproxy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
# Debian starts the packaged nginx on port 80 and haproxy as a service; the benchmarks run
# their own instances.
for s in nginx haproxy; do
  systemctl disable --now "$s" 2>/dev/null || service "$s" stop 2>/dev/null || true
done
