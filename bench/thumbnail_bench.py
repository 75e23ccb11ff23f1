#!/usr/bin/env python3
"""Thumbnail CPU: one 720p30 stream published into `sluice serve`, its thumbnail asked for
every 10 s for a minute; the CPU time of the server's thumbnail thread (named "thumbnails")
against ffmpeg's CLI extracting the same picture from the same stream at the same times
(`ffmpeg -i rtmp://.../<playbackId> -frames:v 1 -vf scale=640:-2 -q:v 4 out.jpg`, reading
the server's RTMP play, which starts at the latest keyframe as the thumbnail does). Also
checks that the thread spends nothing while nobody asks. One run, both side by side.

Usage: bench/thumbnail_bench.py [--build build] [--minutes 1] [--every 10]"""

import argparse
import hashlib
import hmac
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import free_port, start, stop, wait_port  # noqa: E402

SECRET = "bench-secret"


def thread_cpu(pid, name):
    """CPU time of `pid`'s threads called `name`, in seconds (schedstat: nanoseconds, where
    stat's clock ticks would be too coarse for a few milliseconds a picture)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            continue
    return total / 1e9


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--minutes", type=float, default=1)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-thumbnail-bench-")
    rtmp, http = free_port(), free_port()
    server = publisher = None
    try:
        server = start([os.path.join(args.build, "sluice"), "serve",
                        "--rtmp-listen", f"127.0.0.1:{rtmp}", "--http-listen", f"127.0.0.1:{http}",
                        "--data-dir", os.path.join(work, "data"), "--dvr", "off",
                        "--transcode-ladder", "source", "--playback-secret", SECRET,
                        "--thumbnail-interval", str(args.every), "--thumbnail-width", "640",
                        "--log-level", "warn"], os.path.join(work, "sluice.log"))
        wait_port(http, server, "sluice")
        publisher = start(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                           "testsrc2=size=1280x720:rate=30", "-c:v", "libx264", "-preset",
                           "ultrafast", "-b:v", "3000k", "-g", "60", "-pix_fmt", "yuv420p",
                           "-f", "flv", f"rtmp://127.0.0.1:{rtmp}/stream/thumb"],
                          os.path.join(work, "publisher.log"))
        pid = hmac.new(SECRET.encode(), b"thumb", hashlib.sha256).hexdigest()[:20]
        url = f"http://127.0.0.1:{http}/{pid}/thumbnail.jpg"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http}/{pid}/live.m3u8", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        # Nobody asks for 10 s: the thread must spend nothing.
        idle_before = thread_cpu(server.pid, "thumbnails")
        time.sleep(10)
        idle = thread_cpu(server.pid, "thumbnails") - idle_before

        sluice_before, ffmpeg_before = thread_cpu(server.pid, "thumbnails"), children_cpu()
        rounds = int(args.minutes * 60 / args.every)
        sizes, ffmpeg_ok = [], 0
        for i in range(rounds):
            t0 = time.monotonic()
            with urllib.request.urlopen(url, timeout=10) as r:
                sizes.append(len(r.read()))
            out = os.path.join(work, f"ffmpeg-{i}.jpg")
            ran = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i",
                                  f"rtmp://127.0.0.1:{rtmp}/stream/{pid}", "-frames:v", "1",
                                  "-vf", "scale=640:-2", "-q:v", "4", out], timeout=30)
            ffmpeg_ok += ran.returncode == 0 and os.path.getsize(out) > 0
            time.sleep(max(0.0, args.every - (time.monotonic() - t0)))
        sluice_cpu = thread_cpu(server.pid, "thumbnails") - sluice_before
        ffmpeg_cpu = children_cpu() - ffmpeg_before
        minutes = rounds * args.every / 60
        print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
              f"{platform.platform()}; one 720p30 stream (3 Mbit/s), a picture every "
              f"{args.every:.0f} s for {minutes:.1f} min")
        print(f"{'who':<34}{'CPU ms/min':>12}{'ms/picture':>12}{'pictures':>10}")
        print(f"{'sluice thumbnails thread':<34}{sluice_cpu * 1000 / minutes:>12.0f}"
              f"{sluice_cpu * 1000 / rounds:>12.1f}{len(sizes):>10}")
        print(f"{'ffmpeg CLI (rtmp play, 1 frame)':<34}{ffmpeg_cpu * 1000 / minutes:>12.0f}"
              f"{ffmpeg_cpu * 1000 / rounds:>12.1f}{ffmpeg_ok:>10}")
        ratio = sluice_cpu / ffmpeg_cpu if ffmpeg_cpu else float("nan")
        print(f"sluice / ffmpeg CPU: {ratio:.3f}; thread CPU while nobody asked: "
              f"{idle * 1000:.0f} ms in 10 s; JPEG sizes {min(sizes)}-{max(sizes)} bytes")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"sluice_ms_per_min": sluice_cpu * 1000 / minutes,
                           "ffmpeg_ms_per_min": ffmpeg_cpu * 1000 / minutes, "ratio": ratio,
                           "idle_ms": idle * 1000}, f, indent=1)
    finally:
        stop(publisher)
        stop(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
