#!/usr/bin/env bash
# Runs the build steps of deploy/Dockerfile on this Debian 12 host, without Docker: a clean
# copy of the tree, `npm ci` in web/, the same CMake configure and build, then the runtime
# stage's check that the binary's shared libraries all come from the packages the Dockerfile
# installs. Usage: deploy/dockerfile-steps.sh [work dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work=${1:-$(mktemp -d /tmp/sluice-image.XXXXXX)}
git -C "$root" archive --format=tar HEAD | tar -x -C "$work"
cd "$work"
(cd web && npm ci --no-audit --no-fund --loglevel=error)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF >/dev/null
cmake --build build --target sluice
# Runtime stage: every library the binary loads must belong to a package the stage installs
# (or to those packages' own dependencies).
runtime="libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libboost-url1.81.0
         libspdlog1.10 libfmt9 libhiredis0.14 libcurl4 libssl3"
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances $runtime 2>/dev/null | grep -v '^ ' | sort -u)
missing=0
for lib in $(ldd build/sluice | awk '/=>/ {print $3}'); do
  pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | cut -d: -f1 | head -1)
  [ -z "$pkg" ] && pkg=$(dpkg -S "$lib" 2>/dev/null | cut -d: -f1 | head -1)
  if ! grep -qx "$pkg" <<<"$closure"; then
    echo "dockerfile-steps: $lib ($pkg) is not installed by the runtime stage" >&2
    missing=1
  fi
done
build/sluice --help >/dev/null
[ $missing = 0 ] && echo "dockerfile-steps: build ok, runtime libraries covered ($work)"
exit $missing
