#!/usr/bin/env python3
"""Ingest CPU by protocol: `sluice serve` taking N publishers of the same pre-encoded
3 Mbit/s 720p30 stream over RTMP, RTMPS and SRT (passthrough to MPEG-TS HLS, no recording),
and the peer a user would otherwise pick for SRT: ffmpeg's own SRT listener remuxing to HLS
(`ffmpeg -i srt://...?mode=listener -c copy -f hls`, one process per stream, as it takes one
caller). Publishers are ffmpeg -re -c copy (their CPU is not counted). Reports the server's
CPU seconds per stream per second and the ratios SRT/RTMP, RTMPS/RTMP and sluice SRT/ffmpeg
SRT, all in one run.

Usage: bench/ingest_bench.py [--build build] [--streams 4] [--seconds 30] [--warmup 5]
Needs: ffmpeg with libsrt, openssl."""

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import cpu_seconds, free_port, group_pids, start, stop, wait_port  # noqa: E402


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publisher(source, url, fmt, log, extra=()):
    return start(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1",
                  "-i", source, "-c", "copy", *extra, "-f", fmt, url], log)


def measure(pids_of, seconds, warmup):
    time.sleep(warmup)
    before = cpu_seconds(pids_of())
    t0 = time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pids_of()) - before) / (time.monotonic() - t0)


def run_sluice(protocol, args, work, source, cert, key):
    rtmp, http, srt_port, tls = free_port(), free_port(), free_udp_port(), free_port()
    data = os.path.join(work, f"data-{protocol}")
    server = start([os.path.join(args.build, "sluice"), "serve",
                    "--rtmp-listen", f"127.0.0.1:{rtmp}", "--http-listen", f"127.0.0.1:{http}",
                    "--rtmp-tls-listen", f"127.0.0.1:{tls}", "--rtmp-tls-cert", cert,
                    "--rtmp-tls-key", key, "--srt-listen", f"127.0.0.1:{srt_port}",
                    "--data-dir", data, "--dvr", "off", "--transcode-ladder", "source",
                    "--hls-format", "mpegts", "--log-level", "warn"],
                   os.path.join(work, f"sluice-{protocol}.log"))
    pubs = []
    try:
        wait_port(http, server, "sluice")
        for i in range(args.streams):
            log = os.path.join(work, f"pub-{protocol}-{i}.log")
            if protocol == "rtmp":
                pubs.append(publisher(source, f"rtmp://127.0.0.1:{rtmp}/stream/k{i}", "flv", log))
            elif protocol == "rtmps":
                pubs.append(publisher(source, f"rtmps://127.0.0.1:{tls}/stream/k{i}", "flv", log))
            else:
                pubs.append(publisher(source, f"srt://127.0.0.1:{srt_port}?streamid=k{i}",
                                      "mpegts", log))
        cpu = measure(lambda: [server.pid], args.seconds, args.warmup)
        alive = sum(p.poll() is None for p in pubs)
        return cpu, alive
    finally:
        for p in pubs:
            stop(p)
        stop(server)


def run_ffmpeg_srt(args, work, source):
    listeners, pubs = [], []
    try:
        for i in range(args.streams):
            port = free_udp_port()
            out = os.path.join(work, f"ffmpeg-hls-{i}")
            os.makedirs(out, exist_ok=True)
            listeners.append(start(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-i",
                 f"srt://127.0.0.1:{port}?mode=listener", "-c", "copy", "-f", "hls",
                 "-hls_time", "2", "-hls_list_size", "10", "-hls_flags", "delete_segments",
                 os.path.join(out, "index.m3u8")], os.path.join(work, f"ffmpeg-srt-{i}.log")))
            time.sleep(0.3)
            pubs.append(publisher(source, f"srt://127.0.0.1:{port}", "mpegts",
                                  os.path.join(work, f"pub-ffmpeg-{i}.log")))
        cpu = measure(lambda: [q for p in listeners for q in group_pids(p)], args.seconds,
                      args.warmup)
        alive = sum(p.poll() is None for p in listeners)
        return cpu, alive
    finally:
        for p in pubs + listeners:
            stop(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-ingest-bench-")
    try:
        source = os.path.join(work, "input.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264",
                        "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k", "-bufsize",
                        "3000k", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a",
                        "128k", source], check=True)
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert], check=True,
                       capture_output=True)
        print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
              f"{platform.platform()}; {args.streams} streams of 3 Mbit/s, "
              f"{args.seconds:.0f} s each after {args.warmup:.0f} s")
        results = {}
        for name in ("rtmp", "rtmps", "srt"):
            results[f"sluice {name}"] = run_sluice(name, args, work, source, cert, key)
        results["ffmpeg srt listener"] = run_ffmpeg_srt(args, work, source)
        print(f"{'server':<22}{'CPU s/s':>10}{'per stream':>12}{'streams up':>12}")
        for name, (cpu, alive) in results.items():
            print(f"{name:<22}{cpu:>10.3f}{cpu / args.streams:>12.4f}{alive:>12}")
        per = {k: v[0] / args.streams for k, v in results.items()}
        ratios = {"sluice srt / sluice rtmp": per["sluice srt"] / per["sluice rtmp"],
                  "sluice rtmps / sluice rtmp": per["sluice rtmps"] / per["sluice rtmp"],
                  "sluice srt / ffmpeg srt": per["sluice srt"] / per["ffmpeg srt listener"]}
        for name, ratio in ratios.items():
            print(f"{name:<28}{ratio:>8.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"per_stream_cpu": per, "ratios": ratios,
                           "streams_up": {k: v[1] for k, v in results.items()}}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
