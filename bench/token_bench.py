#!/usr/bin/env python3
"""Signed playback's cost at the edge: two `sluice origin`s in front of the same server and
stream, one open and one checking tokens (HS256), each loaded with the same keep-alive GETs of
the stream's master playlist (a cache hit) for the same time; reports playlist hits per CPU
second of the origin for both, and the ratio. The signed origin also verifies each token
(libjwt) and writes the viewer's token into the playlist's URIs. Tokens are minted with
PyJWT (Debian's python3-jwt) by Debian's python3.

Usage: bench/token_bench.py [--build build] [--seconds 10] [--clients 4]"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import cpu_seconds, free_port, start, stop, wait_port  # noqa: E402

SECRET = "0123456789abcdef0123456789abcdef-bench"
PLAYBACK_SECRET = "bench-secret"


def mint(claims):
    code = ("import json, sys, jwt; print(jwt.encode(json.loads(sys.argv[1]), sys.argv[2], "
            "algorithm='HS256'))")
    return subprocess.run(["/usr/bin/python3", "-c", code, json.dumps(claims), SECRET],
                          capture_output=True, text=True, check=True).stdout.strip()


def load(port, path, seconds, clients):
    """Keep-alive GETs of `path` from `clients` threads for `seconds`: (answers, errors)."""
    counts = [0] * clients
    errors = [0] * clients
    stop_at = time.monotonic() + seconds

    def run(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop_at:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                counts[i] += 1
            else:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), sum(errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-token-bench-")
    sluice = os.path.join(args.build, "sluice")
    procs = []
    try:
        redis_port = free_port()
        procs.append(start(["redis-server", "--port", str(redis_port), "--save", "",
                            "--appendonly", "no"], os.path.join(work, "redis.log")))
        wait_port(redis_port, procs[-1], "redis")
        fleet = ["--registry", f"redis://127.0.0.1:{redis_port}", "--registry-resync", "0.5",
                 "--log-level", "warn"]
        rtmp, http_port = free_port(), free_port()
        procs.append(start([sluice, "serve", "--rtmp-listen", f"127.0.0.1:{rtmp}",
                            "--http-listen", f"127.0.0.1:{http_port}", "--data-dir",
                            os.path.join(work, "data"), "--dvr", "off", "--transcode-ladder",
                            "source", "--playback-secret", PLAYBACK_SECRET, *fleet],
                           os.path.join(work, "serve.log")))
        wait_port(http_port, procs[-1], "sluice serve")
        origins = {}
        for name, extra in (("open", []), ("signed", ["--playback-token-secret", SECRET])):
            port = free_port()
            proc = start([sluice, "origin", "--origin-listen", f"127.0.0.1:{port}", *fleet,
                          *extra], os.path.join(work, f"origin-{name}.log"))
            procs.append(proc)
            wait_port(port, proc, f"origin {name}")
            origins[name] = (proc, port)
        procs.append(start(["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
                            "-i", "testsrc2=size=320x240:rate=30", "-c:v", "libx264", "-preset",
                            "ultrafast", "-g", "30", "-f", "flv",
                            f"rtmp://127.0.0.1:{rtmp}/stream/bench"],
                           os.path.join(work, "publisher.log")))
        pid = hmac.new(PLAYBACK_SECRET.encode(), b"bench", hashlib.sha256).hexdigest()[:20]
        token = mint({"sub": pid, "exp": int(time.time()) + 3600})
        paths = {"open": f"/{pid}/live.m3u8", "signed": f"/{pid}/live.m3u8?token={token}"}
        for name, (proc, port) in origins.items():
            deadline = time.time() + 30
            while load(port, paths[name], 0.01, 1)[0] == 0:
                if time.time() > deadline:
                    raise RuntimeError(f"origin {name}: no master playlist")
                time.sleep(0.5)
        print(f"# machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
              f"{platform.platform()}; master playlist hits, {args.clients} keep-alive clients, "
              f"{args.seconds:.0f} s per origin")
        results = {}
        for name, (proc, port) in origins.items():
            load(port, paths[name], 1, args.clients)  # warm-up
            before = cpu_seconds([proc.pid])
            answers, errors = load(port, paths[name], args.seconds, args.clients)
            cpu = cpu_seconds([proc.pid]) - before
            results[name] = {"answers": answers, "errors": errors, "cpu_s": cpu,
                             "hits_per_cpu_s": answers / cpu if cpu else float("nan")}
        print(f"{'origin':<10}{'answers':>10}{'errors':>8}{'CPU s':>8}{'hits/CPU s':>12}"
              f"{'us/hit':>8}")
        for name, r in results.items():
            print(f"{name:<10}{r['answers']:>10}{r['errors']:>8}{r['cpu_s']:>8.2f}"
                  f"{r['hits_per_cpu_s']:>12.0f}{1e6 / r['hits_per_cpu_s']:>8.1f}")
        ratio = results["signed"]["hits_per_cpu_s"] / results["open"]["hits_per_cpu_s"]
        extra_us = 1e6 / results["signed"]["hits_per_cpu_s"] - 1e6 / results["open"][
            "hits_per_cpu_s"]
        print(f"signed / open hits per CPU second: {ratio:.2f}; "
              f"{extra_us:.1f} us of CPU more per hit")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"results": results, "ratio": ratio}, f, indent=1)
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
