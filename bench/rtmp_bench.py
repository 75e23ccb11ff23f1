#!/usr/bin/env python3
"""Side-by-side RTMP benchmark: `sluice serve` against nginx with libnginx-mod-rtmp, same
input, same machine, one run. Reports server CPU and RSS and the ratio sluice/nginx.

  (a) passthrough HLS: N concurrent publishers (ffmpeg -re -c copy of a pre-encoded 3 Mbit/s
      720p30 file), CPU seconds of the server per stream per second;
  (b) RTMP fan-out: one 3 Mbit/s publisher and N players (bench/rtmp_load, one thread),
      CPU per player-second and RSS.

  With --together N (passthrough) and --players-together N (fan-out): both servers at once,
  each with its own publishers and players, CPU over the same windows; --baseline-build DIR
  adds a second sluice (another build, e.g. main's) to those windows, so a change is measured
  against what it changes in the same run. --hls-format and --baseline-format choose each
  sluice's hls.format (default mpegts): e.g. low-latency against mpegts of the same build.

Usage: bench/rtmp_bench.py [--build build] [--seconds 30] [--publishers 1,4,8]
                           [--players 50,200,500] [--together 1 --windows 5]
                           [--baseline-build DIR] [--players-together 50,500]
                           [--hls-format F] [--baseline-format F]
Needs: nginx, libnginx-mod-rtmp, ffmpeg (scripts/install-bench-deps.sh)."""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # bench/benchlib.py, however this script is started
from benchlib import (cpu_seconds, cpu_seconds_fine, free_port, group_pids, rss_mib,  # noqa: E402
                      stop, wait_port)

HLS_FORMAT = {"sluice": "mpegts", "baseline": "mpegts"}  # by server name; set from the flags


class Server:
    def __init__(self, kind, work, build, hls, name=None):
        self.kind, self.name, self.port = kind, name or kind, free_port()
        log = open(os.path.join(work, f"{self.name}.log"), "wb")
        if kind == "sluice":
            args = [os.path.join(build, "sluice"), "serve", "--rtmp-listen",
                    f"127.0.0.1:{self.port}", "--http-listen", "127.0.0.1:0", "--data-dir",
                    os.path.join(work, f"{self.name}-data"), "--playback-id", "key", "--io-threads",
                    "1", "--log-level", "warn",
                    # What nginx-rtmp does here: package the source, no ladder, no recording.
                    "--transcode-ladder", "source", "--dvr", "off",
                    "--hls-format", HLS_FORMAT.get(self.name, "mpegts")]
        else:
            hls_dir = os.path.join("/dev/shm", os.path.basename(work) + "-nginx-hls")
            conf = open(os.path.join(HERE, "nginx-rtmp.conf.in")).read()
            conf = (conf.replace("@WORK@", work).replace("@RTMP_PORT@", str(self.port))
                    .replace("@HLS@", "on" if hls else "off").replace("@HLS_DIR@", hls_dir))
            path = os.path.join(work, "nginx.conf")
            open(path, "w").write(conf)
            args = ["nginx", "-c", path, "-p", work]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(self.port)

    def pids(self):
        # nginx: master plus workers (the workers do the work); sluice: one process.
        return group_pids(self.proc)

    def url(self, name):
        return f"rtmp://127.0.0.1:{self.port}/stream/{name}"

    def close(self):
        stop(self.proc)


def publisher(url, source):
    return subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop",
                             "-1", "-i", source, "-c", "copy", "-f", "flv", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def measure(server, seconds):
    """CPU seconds per second from the scheduler's nanosecond counters (the tick-based
    utime+stime is kept as a cross-check in the result), and RSS."""
    pids = server.pids()
    f0, c0, t0 = cpu_seconds_fine(pids), cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    f1, c1, t1 = cpu_seconds_fine(pids), cpu_seconds(pids), time.monotonic()
    return (f1 - f0) / (t1 - t0), rss_mib(pids), (c1 - c0) / (t1 - t0)


def scenario_publishers(kind, work, build, source, n, seconds):
    server = Server(kind, work, build, hls=True)
    pubs = [publisher(server.url(f"s{i}"), source) for i in range(n)]
    try:
        time.sleep(5)  # first GOPs and segments
        cpu, rss, ticks = measure(server, seconds)
        alive = sum(p.poll() is None for p in pubs)
        return {"server": kind, "publishers": n, "alive": alive, "cpu_per_stream": cpu / n,
                "ticks_cpu_per_stream": ticks / n, "rss_mib": rss}
    finally:
        for p in pubs:
            stop(p)
        server.close()


def start_servers(work, build, baseline_build):
    """sluice and nginx, and a baseline sluice of another build when one is given."""
    servers = [Server(kind, work, build, hls=True) for kind in ("sluice", "nginx")]
    if baseline_build:
        servers.append(Server("sluice", work, baseline_build, hls=True, name="baseline"))
    return servers


def measure_windows(servers, n, seconds, windows):
    """CPU per unit (stream or player) per second of each server over the same windows."""
    out = []
    for _ in range(windows):
        pids = [server.pids() for server in servers]
        f0, t0 = [cpu_seconds_fine(p) for p in pids], time.monotonic()
        time.sleep(seconds)
        f1, t1 = [cpu_seconds_fine(p) for p in pids], time.monotonic()
        cpu = [(b - a) / (t1 - t0) / n for a, b in zip(f0, f1)]
        window = {"sluice": cpu[0], "nginx": cpu[1], "ratio": cpu[0] / max(cpu[1], 1e-9)}
        if len(cpu) > 2:
            window.update(baseline=cpu[2], baseline_ratio=cpu[2] / max(cpu[1], 1e-9))
        out.append(window)
    return out


def scenario_publishers_together(work, build, source, n, seconds, windows, warmup,
                                 baseline_build=None):
    """Both servers at once, each with its own n publishers, measured over the same windows:
    whatever else the machine does in a window, both see it. (One after the other, a window's
    ratio moved by +-10 % at one publisher, more than the clock explains.)"""
    servers = start_servers(work, build, baseline_build)
    pubs = [publisher(server.url(f"s{i}"), source) for server in servers for i in range(n)]
    try:
        time.sleep(warmup)
        out = measure_windows(servers, n, seconds, windows)
        alive = sum(p.poll() is None for p in pubs)
        return {"publishers": n, "alive": alive, "windows": out,
                "rss_mib": {s.name: rss_mib(s.pids()) for s in servers}}
    finally:
        for p in pubs:
            stop(p)
        for server in servers:
            server.close()


def scenario_players(kind, work, build, source, n, seconds):
    # Both servers package HLS here too (sluice always does), so the work compared is equal.
    server = Server(kind, work, build, hls=True)
    pub = publisher(server.url("live"), source)
    try:
        time.sleep(4)
        load = subprocess.Popen([os.path.join(build, "rtmp_load"), "--url", server.url("live"),
                                 "--players", str(n), "--seconds", str(seconds + 6)],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(4)  # everyone connected and past the GOP burst
        cpu, rss, ticks = measure(server, seconds)
        load_cpu = cpu_seconds([load.pid])
        result = json.loads(load.communicate(timeout=seconds + 60)[0])
        return {"server": kind, "players": n, "connected": result["connected"],
                "mbit_per_player": result["bytes_min"] * 8 / 1e6 / result["elapsed_s"],
                "cpu_per_player_s": cpu / n, "ticks_cpu_per_player_s": ticks / n,
                "cpu_total": cpu, "rss_mib": rss,
                "loadgen_cpu_s": load_cpu}
    finally:
        stop(pub)
        server.close()


def scenario_players_together(work, build, source, n, seconds, windows, baseline_build=None):
    """Fan-out with both servers at once: one publisher and n players (one rtmp_load each)
    per server, CPU per player-second over the same windows, as for passthrough."""
    servers = start_servers(work, build, baseline_build)
    pubs = [publisher(server.url("live"), source) for server in servers]
    loads = []
    try:
        time.sleep(4)
        loads = [subprocess.Popen([os.path.join(build, "rtmp_load"), "--url", server.url("live"),
                                   "--players", str(n),
                                   "--seconds", str(seconds * windows + 10)],
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
                 for server in servers]
        time.sleep(6)  # everyone connected and past the GOP burst
        out = measure_windows(servers, n, seconds, windows)
        rss = {s.name: rss_mib(s.pids()) for s in servers}
        results = [json.loads(load.communicate(timeout=seconds * windows + 60)[0])
                   for load in loads]
        return {"players": n, "windows": out, "rss_mib": rss,
                "connected": {s.name: r["connected"] for s, r in zip(servers, results)},
                "slowest_mbit_per_player": {
                    s.name: r["bytes_min"] * 8 / 1e6 / r["elapsed_s"]
                    for s, r in zip(servers, results)}}
    finally:
        for p in loads + pubs:
            stop(p)
        for server in servers:
            server.close()


def summarize(windows):
    """Mean CPU per server over the windows, and the ratios of the means."""
    mean = {k: sum(w[k] for w in windows) / len(windows)
            for k in windows[0] if not k.endswith("ratio")}
    out = {"mean_cpu": mean,
           "cpu_ratio_sluice_over_nginx": round(mean["sluice"] / max(mean["nginx"], 1e-9), 3)}
    if "baseline" in mean:
        out["cpu_ratio_baseline_over_nginx"] = round(mean["baseline"] / max(mean["nginx"], 1e-9), 3)
        out["cpu_ratio_sluice_over_baseline"] = round(
            mean["sluice"] / max(mean["baseline"], 1e-9), 3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--publishers", default="1,4,8")
    ap.add_argument("--players", default="50,200,500")
    ap.add_argument("--together", default="",
                    help="publisher counts to also run with both servers at once, e.g. 1,4")
    ap.add_argument("--windows", type=int, default=5, help="windows per --together count")
    ap.add_argument("--players-together", default="",
                    help="player counts to also run with both servers at once, e.g. 50,500")
    ap.add_argument("--baseline-build", default="",
                    help="another build dir whose sluice runs in the --together windows too")
    ap.add_argument("--warmup", type=float, default=5,
                    help="seconds before the --together windows; 90 lets sluice's HLS window "
                         "(10 x 6 s) turn over, so segment buffers are being recycled")
    ap.add_argument("--hls-format", default="mpegts", help="sluice's hls.format")
    ap.add_argument("--baseline-format", default="mpegts",
                    help="the baseline sluice's hls.format (its build: --baseline-build)")
    args = ap.parse_args()
    HLS_FORMAT.update(sluice=args.hls_format, baseline=args.baseline_format)

    work = tempfile.mkdtemp(prefix="sluice-bench-")
    source = os.path.join(work, "input.flv")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264",
                    "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k", "-bufsize",
                    "3000k", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                    source], check=True)
    print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"{platform.platform()}")
    print(f"# {subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}")
    print(f"# hls.format: sluice {args.hls_format}, baseline {args.baseline_format}")
    rows = []
    try:
        for n in [int(x) for x in args.publishers.split(",") if x]:
            pair = [scenario_publishers(k, work, args.build, source, n, args.seconds)
                    for k in ("sluice", "nginx")]
            ratio = pair[0]["cpu_per_stream"] / max(pair[1]["cpu_per_stream"], 1e-9)
            rows.append(("publishers", n, pair, ratio))
            print(json.dumps({"scenario": "passthrough_hls", "n": n, "results": pair,
                              "cpu_ratio_sluice_over_nginx": round(ratio, 3)}), flush=True)
        for n in [int(x) for x in args.together.split(",") if x]:
            r = scenario_publishers_together(work, args.build, source, n, args.seconds,
                                             args.windows, args.warmup, args.baseline_build)
            print(json.dumps({"scenario": "passthrough_hls_together", "n": n, "results": r,
                              **summarize(r["windows"])}), flush=True)
        for n in [int(x) for x in args.players_together.split(",") if x]:
            r = scenario_players_together(work, args.build, source, n, args.seconds,
                                          args.windows, args.baseline_build)
            print(json.dumps({"scenario": "rtmp_play_together", "n": n, "results": r,
                              **summarize(r["windows"])}), flush=True)
        for n in [int(x) for x in args.players.split(",") if x]:
            pair = [scenario_players(k, work, args.build, source, n, args.seconds)
                    for k in ("sluice", "nginx")]
            ratio = pair[0]["cpu_per_player_s"] / max(pair[1]["cpu_per_player_s"], 1e-9)
            rows.append(("players", n, pair, ratio))
            print(json.dumps({"scenario": "rtmp_play", "n": n, "results": pair,
                              "cpu_ratio_sluice_over_nginx": round(ratio, 3)}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for d in os.listdir("/dev/shm"):
            if d.startswith(os.path.basename(work)):
                shutil.rmtree(os.path.join("/dev/shm", d), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
