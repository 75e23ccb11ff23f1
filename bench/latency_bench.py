#!/usr/bin/env python3
"""Ingest-to-screen latency as a viewer sees it, for each way Sluice can serve a stream and for
nginx-rtmp's HLS, in one run on one machine.

hls.js (the player page's copy and configuration: low-latency mode) plays in Debian's headless
Chromium; every second the latency is now minus `hls.playingDate`, the
EXT-X-PROGRAM-DATE-TIME of the frame on screen, which Sluice stamps with the wall time the
media arrived. Reports median, p90 and stalls per setup:

  ll-passthrough         sluice serve, hls.format = low-latency, the source passed through
  ll-ladder              the same with the default ladder (360p/480p/720p), hls.js's own pick
  ll-passthrough-origin  ll-passthrough through sluice origin (with a real redis-server)
  ll-ladder-origin       ll-ladder through sluice origin
  mpegts                 sluice serve with hls.format = mpegts (6 s segments), passthrough
  nginx-rtmp             nginx with libnginx-mod-rtmp, hls_fragment 1s (the best plain HLS gives)

nginx-rtmp writes no EXT-X-PROGRAM-DATE-TIME, so this script serves its playlist with one
added per segment: the wall time the segment's file appeared (nginx-rtmp opens it on the
keyframe that starts it), polled every 10 ms. That is Sluice's own definition, within 10 ms.

One publisher per setup: ffmpeg -re, 1280x720 30 fps test pattern, x264 ultrafast/zerolatency
with a keyframe every --gop seconds (1 s by default, so nginx-rtmp can cut 1 s fragments), AAC.
The setups run one after another, so they do not share the two cores.

Usage: bench/latency_bench.py [--build build] [--seconds 60] [--gop 1] [--only NAME,...]
Needs: nginx, libnginx-mod-rtmp, redis-server, ffmpeg, chromium and tests/tools' node modules
(scripts/install-bench-deps.sh, scripts/install-deps.sh)."""

import argparse
import datetime
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from benchlib import free_port, machine_details, percentile, start, stop, wait_port  # noqa: E402

HLS_JS = os.path.join(ROOT, "web", "node_modules", "hls.js", "dist", "hls.min.js")
KEY = "bench"

# The player page's hls.js configuration (web/app.js), and the numbers a viewer would see.
PAGE = """<!doctype html><html><body><video id="video" muted autoplay></video>
<script src="/hls.min.js"></script><script>
let hls, stalls = 0, errors = [];
window.play = (src) => {
  hls = new Hls({ liveDurationInfinity: true, lowLatencyMode: true });
  hls.loadSource(src);
  hls.attachMedia(document.getElementById("video"));
};
window.countStalls = () => {
  hls.on(Hls.Events.ERROR, (_, d) => {
    if (d.details === "bufferStalledError") stalls++; else errors.push(d.details);
  });
  document.getElementById("video").addEventListener("waiting", () => stalls++);
};
window.latency = () => hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : null;
window.summary = () => {
  const level = hls.levels[hls.currentLevel] || hls.levels[0];
  const d = level && level.details;
  return { stalls, errors, parts: d && d.partList ? d.partList.length : 0,
           height: level ? level.height : 0, can_block_reload: d ? d.canBlockReload : false };
};
</script></body></html>"""


class SegmentClock(threading.Thread):
    """Notes the wall time each .ts file first appears in `directory`."""

    def __init__(self, directory):
        super().__init__(daemon=True)
        self.directory, self.first_seen, self.running = directory, {}, True

    def run(self):
        while self.running:
            try:
                names = os.listdir(self.directory)
            except FileNotFoundError:
                names = []
            now = time.time()
            for name in names:
                if name.endswith(".ts"):
                    self.first_seen.setdefault(name, now)
            time.sleep(0.01)

    def stamped(self, playlist):
        """`playlist` with an EXT-X-PROGRAM-DATE-TIME before each segment this clock saw."""
        out, pending = [], []
        for line in playlist.splitlines():
            if line.startswith("#EXTINF"):
                pending = [line]
                continue
            if pending and line and not line.startswith("#"):
                seen = self.first_seen.get(os.path.basename(line))
                if seen is not None:
                    stamp = datetime.datetime.fromtimestamp(seen, datetime.timezone.utc)
                    out.append("#EXT-X-PROGRAM-DATE-TIME:" +
                               stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
                out.extend(pending)
                pending = []
            out.append(line)
        return "\n".join(out) + "\n"


def page_server(nginx_hls_dir, clock):
    """The test page and hls.js; under /nginx/ nginx-rtmp's HLS files, playlists stamped."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, body, content_type):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/":
                return self.answer(PAGE.encode(), "text/html")
            if path == "/hls.min.js":
                return self.answer(open(HLS_JS, "rb").read(), "application/javascript")
            name = os.path.basename(path)
            file = os.path.join(nginx_hls_dir, name)
            if path.startswith("/nginx/") and os.path.isfile(file):
                body = open(file, "rb").read()
                if name.endswith(".m3u8"):
                    return self.answer(clock.stamped(body.decode()).encode(),
                                       "application/vnd.apple.mpegurl")
                return self.answer(body, "video/mp2t")
            self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def publisher(url, work, seconds, gop):
    return start(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
                  "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
                  "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                  "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
                  "-tune", "zerolatency", "-b:v", "3000k", "-g", str(int(30 * gop)),
                  "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "flv", url],
                 os.path.join(work, "ffmpeg.log"))


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200")


class Setup:
    """The processes of one setup; `play_url` is what the player loads."""

    def __init__(self, name, work, build):
        self.name, self.work, self.procs = name, os.path.join(work, name), []
        os.makedirs(self.work)
        self.sluice = os.path.join(build, "sluice")

    def run(self, args, log, port):
        proc = start(args, os.path.join(self.work, log))
        self.procs.append(proc)
        wait_port(port, proc, log)
        return proc

    def serve(self, *extra, registry=None):
        rtmp, self.http = free_port(), free_port()
        fleet = ("--registry", registry, "--registry-resync", "0.5") if registry else ()
        self.run([self.sluice, "serve", "--rtmp-listen", f"127.0.0.1:{rtmp}",
                  "--http-listen", f"127.0.0.1:{self.http}", "--data-dir",
                  os.path.join(self.work, "data"), "--playback-id", "key", "--dvr", "off",
                  "--log-level", "warn", *fleet, *extra], "sluice.log", rtmp)
        self.rtmp_url = f"rtmp://127.0.0.1:{rtmp}/stream/{KEY}"
        self.play_url = f"http://127.0.0.1:{self.http}/{KEY}/live.m3u8"

    def through_origin(self, *extra):
        redis = free_port()
        self.run(["redis-server", "--port", str(redis), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no"], "redis.log", redis)
        url = f"redis://127.0.0.1:{redis}/0"
        self.serve(*extra, registry=url)
        origin = free_port()
        self.run([self.sluice, "origin", "--origin-listen", f"127.0.0.1:{origin}",
                  "--registry", url, "--registry-resync", "0.5", "--log-level", "warn"],
                 "origin.log", origin)
        self.play_url = f"http://127.0.0.1:{origin}/{KEY}/live.m3u8"

    def nginx(self, hls_dir):
        rtmp = free_port()
        conf = (open(os.path.join(HERE, "nginx-rtmp.conf.in")).read()
                .replace("@WORK@", self.work).replace("@RTMP_PORT@", str(rtmp))
                .replace("@HLS@", "on").replace("@HLS_DIR@", hls_dir)
                .replace("hls_fragment 6s;", "hls_fragment 1s;"))
        path = os.path.join(self.work, "nginx.conf")
        open(path, "w").write(conf)
        self.run(["nginx", "-c", path, "-p", self.work], "nginx.log", rtmp)
        self.rtmp_url = f"rtmp://127.0.0.1:{rtmp}/stream/{KEY}"

    def close(self):
        for proc in reversed(self.procs):
            stop(proc)


LL = ("--hls-format", "low-latency")
SOURCE = ("--transcode-ladder", "source")
SETUPS = {
    "ll-passthrough": lambda s: s.serve(*LL, *SOURCE),
    "ll-ladder": lambda s: s.serve(*LL),
    "ll-passthrough-origin": lambda s: s.through_origin(*LL, *SOURCE),
    "ll-ladder-origin": lambda s: s.through_origin(*LL),
    "mpegts": lambda s: s.serve("--hls-format", "mpegts", *SOURCE),
    "nginx-rtmp": None,  # below: it needs the page server
}


def measure(name, work, build, page_url, clock, nginx_dir, seconds, gop):
    setup = Setup(name, work, build)
    pub = None
    try:
        if name == "nginx-rtmp":
            setup.nginx(nginx_dir)
            setup.play_url = f"{page_url}nginx/{KEY}.m3u8"
        else:
            SETUPS[name](setup)
        pub = publisher(setup.rtmp_url, setup.work, seconds + 120, gop)
        wait_http(setup.play_url)
        time.sleep(3)  # a few segments or parts to start from, as a viewer arriving would find
        out = subprocess.run(["node", os.path.join(HERE, "latency_player.mjs"), page_url,
                              setup.play_url, str(seconds)],
                             capture_output=True, text=True, timeout=seconds + 120)
        lines = out.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines else {"ok": False, "error": out.stderr[-2000:]}
    finally:
        stop(pub)
        setup.close()
    latencies = result.pop("latencies", [])
    if latencies:
        result.update(median=round(statistics.median(latencies), 3),
                      p90=round(percentile(latencies, 90), 3), samples=len(latencies))
    return {"setup": name, **result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--gop", type=float, default=1.0)
    parser.add_argument("--only", default=",".join(SETUPS))
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    for n in names:
        if n not in SETUPS:
            parser.error(f"unknown setup {n}")
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    print(json.dumps(machine_details(args.build, {"nginx": nginx_v})), flush=True)
    work = tempfile.mkdtemp(prefix="sluice-latency-")
    nginx_dir = os.path.join("/dev/shm", os.path.basename(work) + "-nginx-hls")
    clock = SegmentClock(nginx_dir)
    clock.start()
    page = page_server(nginx_dir, clock)
    page_url = f"http://127.0.0.1:{page.server_address[1]}/"
    try:
        for name in names:
            print(json.dumps(measure(name, work, args.build, page_url, clock, nginx_dir,
                                     args.seconds, args.gop)), flush=True)
    finally:
        clock.running = False
        page.shutdown()
        shutil.rmtree(nginx_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
