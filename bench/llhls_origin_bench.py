#!/usr/bin/env python3
"""Low-latency HLS viewers through one `sluice origin`, and the same viewers on nginx serving a
static copy of the same playlists and parts, in one run.

  Upstream: `sluice serve` in low-latency mode (a real redis-server as the registry), one
  publisher (ffmpeg -re, 640x360 30 fps, 1 s GOP), renditions "source" and "180p".
  (a) sluice origin: N simulated viewers (asyncio, one keep-alive connection each), split over
      the renditions, each as hls.js does in low-latency mode: a blocking playlist request for
      the part after the last one listed (_HLS_msn/_HLS_part, and _HLS_skip=YES for a delta
      update), then that part. Over a window:
      parts produced per rendition, the origin's upstream requests per part per rendition,
      origin CPU per viewer-second, and origin memory per viewer (RSS under load less RSS
      before, with nearly every viewer held waiting for the next part).
  (b) nginx: a copier follows the server (one blocking request per rendition) and writes each
      playlist and part into a directory nginx serves; the same N viewers poll the playlist
      once per part target (nginx cannot hold a request) and fetch each new part. nginx CPU
      per viewer-second over a window of the same length.

  Every process started is stopped by PID at the end.

Usage: bench/llhls_origin_bench.py [--build build] [--viewers 1000] [--seconds 20]
Needs: nginx, redis-server, ffmpeg (scripts/install-bench-deps.sh)."""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from benchlib import (cpu_seconds_fine, free_port, group_pids, machine_details, rss_mib,  # noqa: E402
                      start, stop, wait_port)

KEY = "bench"
RENDITIONS = ("source", "180p")
LADDER = "source,180p:320x180:300k:600k:64k"
PART_TARGET = 0.334


def next_part(playlist):
    """(msn, part, last part URI) of a low-latency playlist: where the next part will be."""
    msn = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist).group(1))
    segments = sum(int(n) for n in re.findall(r"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)", playlist))
    parts, last = 0, None
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PART:"):
            parts += 1
            last = re.search(r'URI="([^"]+)"', line).group(1)
        elif line and not line.startswith("#"):
            segments += 1
            parts = 0
    return msn + segments, parts, last


class Connection:
    """One keep-alive HTTP/1.1 connection; get() returns (status, body)."""

    def __init__(self, port):
        self.port, self.reader, self.writer = port, None, None

    async def get(self, path):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer:
            self.writer.close()


class Viewers:
    """N viewers; `parts` counts the parts they fetched."""

    def __init__(self, port, n, blocking):
        self.port, self.n, self.blocking = port, n, blocking
        self.parts = 0
        self.errors = 0
        self.tasks = []

    async def viewer(self, i):
        rendition = RENDITIONS[i % len(RENDITIONS)]
        base = f"/{KEY}/{rendition}/"
        conn = Connection(self.port)
        try:
            _, body = await conn.get(base + "index.m3u8")
            seen = None
            while True:
                msn, part, last = next_part(body.decode())
                if self.blocking:
                    # Delta updates where offered, as hls.js asks.
                    skip = "&_HLS_skip=YES" if b"CAN-SKIP-UNTIL" in body else ""
                    status, body = await conn.get(
                        f"{base}index.m3u8?_HLS_msn={msn}&_HLS_part={part}{skip}")
                else:
                    await asyncio.sleep(PART_TARGET)
                    status, body = await conn.get(base + "index.m3u8")
                if status != 200:
                    self.errors += 1
                    await asyncio.sleep(0.2)
                    continue
                _, _, last = next_part(body.decode())
                if last and last != seen:
                    status, _ = await conn.get(base + last)
                    self.errors += status != 200
                    self.parts += 1
                    seen = last
        except (OSError, asyncio.IncompleteReadError, AttributeError):
            self.errors += 1
        finally:
            conn.close()

    def start(self):
        self.tasks = [asyncio.create_task(self.viewer(i)) for i in range(self.n)]

    async def stop(self):
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def copier(server_port, directory, stats):
    """Follows the server's renditions with blocking requests; writes each playlist and part
    into `directory`/<KEY>/<rendition>/ for nginx, and counts the parts it saw."""
    async def follow(rendition):
        out = os.path.join(directory, KEY, rendition)
        os.makedirs(out, exist_ok=True)
        conn = Connection(server_port)
        _, body = await conn.get(f"/{KEY}/{rendition}/index.m3u8")
        while True:
            text = body.decode()
            for uri in re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text) + \
                    re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text):
                path = os.path.join(out, uri)
                if not os.path.exists(path):
                    _, data = await conn.get(f"/{KEY}/{rendition}/{uri}")
                    with open(path + ".tmp", "wb") as f:
                        f.write(data)
                    os.replace(path + ".tmp", path)
            with open(os.path.join(out, "index.m3u8.tmp"), "w") as f:
                f.write(text)
            os.replace(os.path.join(out, "index.m3u8.tmp"), os.path.join(out, "index.m3u8"))
            msn, part, _ = next_part(text)
            status, body = await conn.get(
                f"/{KEY}/{rendition}/index.m3u8?_HLS_msn={msn}&_HLS_part={part}")
            if status == 200:
                stats[rendition] = stats.get(rendition, 0) + 1
    await asyncio.gather(*(follow(r) for r in RENDITIONS))


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def window(viewers, pids, seconds, part_counts, counter=lambda: 0.0):
    """Runs the viewers for a warm-up and one window: CPU, parts and memory of `pids`, and how
    much `counter` grew over the window."""
    rss_before = rss_mib(pids)
    viewers.start()
    await asyncio.sleep(5)  # connected, past the first requests
    parts0, fetched0, counted0 = dict(part_counts), viewers.parts, counter()
    cpu0, t0 = cpu_seconds_fine(pids), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds_fine(pids), time.monotonic()
    counted = counter() - counted0
    rss_load = rss_mib(pids)
    parts = {r: part_counts.get(r, 0) - parts0.get(r, 0) for r in RENDITIONS}
    fetched = viewers.parts - fetched0
    await viewers.stop()
    elapsed = t1 - t0
    return {"viewers": viewers.n, "seconds": round(elapsed, 1), "parts": parts,
            "parts_fetched_per_viewer_second": round(fetched / viewers.n / elapsed, 2),
            "errors": viewers.errors, "counted": counted,
            "cpu_per_viewer_second_ms": round((cpu1 - cpu0) / viewers.n / elapsed * 1000, 4),
            "cpu_share": round((cpu1 - cpu0) / elapsed, 3),
            "rss_mib_before": round(rss_before, 1), "rss_mib_under_load": round(rss_load, 1),
            "kib_per_viewer": round((rss_load - rss_before) * 1024 / viewers.n, 1)}


async def run(args, work):
    procs = []

    def launch(cmd, log, port):
        proc = start(cmd, os.path.join(work, log))
        procs.append(proc)
        wait_port(port, proc, log, timeout=30)
        return proc

    try:
        sluice = os.path.join(args.build, "sluice")
        redis = free_port()
        launch(["redis-server", "--port", str(redis), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"], "redis.log", redis)
        registry = ("--registry", f"redis://127.0.0.1:{redis}/0", "--registry-resync", "0.5")
        rtmp, http = free_port(), free_port()
        launch([sluice, "serve", "--rtmp-listen", f"127.0.0.1:{rtmp}", "--http-listen",
                f"127.0.0.1:{http}", "--data-dir", os.path.join(work, "data"), "--playback-id",
                "key", "--dvr", "off", "--hls-format", "low-latency", "--transcode-ladder",
                LADDER, "--log-level", "warn", *registry], "sluice.log", rtmp)
        origin_port = free_port()
        origin = launch([sluice, "origin", "--origin-listen", f"127.0.0.1:{origin_port}",
                         "--log-level", "warn", *registry], "origin.log", origin_port)
        nginx_port = free_port()
        static = tempfile.mkdtemp(prefix="sluice-llhls-static-", dir="/dev/shm")
        os.chmod(static, 0o755)  # nginx's workers do not run as root
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1; daemon off; master_process on;
pid {work}/nginx.pid; error_log {work}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{ access_log off; keepalive_requests 1000000;
  types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}
  server {{ listen 127.0.0.1:{nginx_port}; root {static};
    location ~ \\.m3u8$ {{ add_header Cache-Control no-cache; }} }} }}
""")
        nginx = launch(["nginx", "-c", conf, "-p", work], "nginx.log", nginx_port)
        procs.append(start(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
                            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi",
                            "-i", "sine=frequency=440:sample_rate=48000", "-c:v", "libx264",
                            "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
                            "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv",
                            f"rtmp://127.0.0.1:{rtmp}/stream/{KEY}"],
                           os.path.join(work, "ffmpeg.log")))
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{origin_port}/{KEY}/180p/index.m3u8", timeout=5) as r:
                    if b"#EXT-X-PART:" in r.read():
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("no low-latency playlist through the origin")
            await asyncio.sleep(0.5)

        part_counts = {}
        copy = asyncio.create_task(copier(http, static, part_counts))
        await asyncio.sleep(3)
        results = {}
        o = results["sluice_origin"] = await window(
            Viewers(origin_port, args.viewers, True), group_pids(origin), args.seconds,
            part_counts, lambda: metric(origin_port, "sluice_origin_upstream_requests_total"))
        # A part brings two objects: the playlist that lists it and the part itself.
        o["upstream_requests"] = o.pop("counted")
        o["upstream_requests_per_part_per_rendition"] = round(
            o["upstream_requests"] / max(sum(o["parts"].values()), 1), 2)
        n = results["nginx_static"] = await window(Viewers(nginx_port, args.viewers, False),
                                                   group_pids(nginx), args.seconds, part_counts)
        n.pop("counted")
        results["cpu_per_viewer_second_ratio_sluice_over_nginx"] = round(
            o["cpu_per_viewer_second_ms"] / max(n["cpu_per_viewer_second_ms"], 1e-9), 3)
        copy.cancel()
        await asyncio.gather(copy, return_exceptions=True)
        shutil.rmtree(static, ignore_errors=True)
        return results
    finally:
        for proc in reversed(procs):
            stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    print(json.dumps(machine_details(args.build, {"nginx": nginx_v})), flush=True)
    work = tempfile.mkdtemp(prefix="sluice-llhls-origin-")
    try:
        print(json.dumps(asyncio.run(run(args, work)), indent=1), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
