#!/usr/bin/env bash
# A whole fleet on one host, in one command: Redis, two `sluice serve`, a `sluice proxy` and a
# `sluice origin` on loopback, a test stream published through the proxy, and its playback URL
# through the origin. Stops everything it started (by PID) when it exits.
#
#   scripts/fleet-demo.sh            # builds if needed, runs until Ctrl-C
#   scripts/fleet-demo.sh --check    # end-to-end test: plays the origin's URL with ffprobe, exits
#
# SLUICE_BIN picks another binary; LADDER the transcoding ladder (default: the built-in one;
# --check uses "source" to stay light).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
bin=${SLUICE_BIN:-build/sluice}
if [ ! -x "$bin" ]; then
  scripts/install-deps.sh
  scripts/build.sh release
fi
ladder=${LADDER:-}
[ $check = 1 ] && ladder=${LADDER:-source}
ladder_args=()
[ -n "$ladder" ] && ladder_args=(--transcode-ladder "$ladder")

work=$(mktemp -d /tmp/sluice-fleet.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ $check = 1 ] && [ "${status:-1}" != 0 ]; then
    echo "fleet-demo: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start() {  # name, then the command; output to $work/<name>.log
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
wait_port() {  # port, name
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "fleet-demo: $2 did not open port $1 (log: $work/$2.log)" >&2
  return 1
}

redis=$(free_port)
start redis redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no
wait_port "$redis" redis
registry=redis://127.0.0.1:$redis
# One playback secret for the whole fleet, so a key maps to the same playback ID everywhere.
secret=$(openssl rand -hex 16)
common=(--registry "$registry" --log-level info)

for server in a b; do
  rtmp=$(free_port)
  http=$(free_port)
  start "serve-$server" "$bin" serve "${common[@]}" --playback-secret "$secret" "${ladder_args[@]}" \
    --rtmp-listen "127.0.0.1:$rtmp" --http-listen "127.0.0.1:$http" --data-dir "$work/$server"
  wait_port "$http" "serve-$server"
done
origin=$(free_port)
start origin "$bin" origin "${common[@]}" --origin-listen "127.0.0.1:$origin"
wait_port "$origin" origin
proxy=$(free_port)
proxy_http=$(free_port)
start proxy "$bin" proxy "${common[@]}" --playback-secret "$secret" --proxy-listen "127.0.0.1:$proxy" \
  --proxy-http-listen "127.0.0.1:$proxy_http" --data-dir "$work/proxy"
wait_port "$proxy" proxy

key=demo-$(openssl rand -hex 4)
playback_id=$(printf '%s' "$key" | openssl dgst -sha256 -hmac "$secret" -r | cut -c1-20)
seconds=$([ $check = 1 ] && echo 30 || echo 86400)
start publisher ffmpeg -hide_banner -nostdin -re -f lavfi -i "testsrc2=size=1280x720:rate=30" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$seconds" -c:v libx264 \
  -preset ultrafast -tune zerolatency -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k \
  -f flv "rtmp://127.0.0.1:$proxy/stream/$key"

url=http://127.0.0.1:$origin/$playback_id/live.m3u8
for _ in $(seq 300); do
  if curl -sf -o /dev/null "$url"; then break; fi
  sleep 0.2
done
curl -sf -o /dev/null "$url" || { echo "fleet-demo: $url never answered" >&2; exit 1; }

echo "fleet-demo: redis $registry, servers a and b, proxy rtmp://127.0.0.1:$proxy, origin http://127.0.0.1:$origin"
echo "fleet-demo: publish: rtmp://127.0.0.1:$proxy/stream/<key> (this one: $key)"
echo "fleet-demo: play:    $url"
if [ $check = 1 ]; then
  # The origin's URL plays: a video stream comes out of the fleet, end to end.
  # (Read whole, then searched: grep -q on a pipe would end ffprobe with SIGPIPE.)
  streams=$(ffprobe -v error -rw_timeout 10000000 -show_entries stream=codec_type -of csv=p=0 \
    "$url")
  grep -qx video <<<"$streams" || { echo "fleet-demo: no video at $url" >&2; exit 1; }
  holder=$(basename "$(grep -l "publishing key" "$work"/serve-*.log | head -1)" .log)
  echo "fleet-demo: check passed (the stream is on ${holder#serve-})"
  status=0
  exit 0
fi
echo "fleet-demo: Ctrl-C stops everything"
wait "${pids[-1]}"
status=0
