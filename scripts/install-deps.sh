#!/usr/bin/env bash
# Installs every Debian package Sluice needs to build, run and test.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  libboost1.81-dev libboost-url1.81-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libtoml11-dev libssl-dev
  libhiredis-dev libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev libsrt-gnutls-dev
  libjwt-dev
  # real clients used by the integration tests
  ffmpeg rtmpdump curl python3 python3-jwt python3-cryptography redis-server libnginx-mod-rtmp
  socat openssl chromium
  haproxy srt-tools
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # promtool (lints /metrics, parses the Grafana dashboard's PromQL); Debian ships it only
  # with the server, whose service is not wanted and is disabled below
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js runs the S3-protocol test server (s3rver); any Node.js with npm will do, so Debian's
# is installed only when there is none.
command -v npm >/dev/null || missing+=(nodejs npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
else
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  # Services Debian starts on install that the tests start themselves, on free ports.
  for service in prometheus haproxy; do
    if [[ " ${missing[*]} " == *" $service "* ]] && [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now "$service" || true
    fi
  done
fi

# From npm, pinned by each folder's package-lock.json: hls.js, built into the player page
# (web/), and the test tools (tests/tools: s3rver, playwright-core).
root="$(cd "$(dirname "$0")/.." && pwd)"
for dir in "$root/web" "$root/tests/tools"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
