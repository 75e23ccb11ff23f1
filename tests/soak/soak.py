#!/usr/bin/env python3
"""Soak and chaos suite for a Sluice build (docs/reliability.md, "Soak and chaos").

  tests/soak/soak.py [--minutes M] [--chaos] [--keep DIR]   (or scripts/soak.sh M [--chaos])

A fleet on loopback, all real processes started through tests/integration/harness.py and
stopped by PID at the end, whatever happens:

  redis-server (registry), s3rver (S3 protocol, recordings), nginx-rtmp (relay destination),
  three `sluice serve`: A with the default ladder (capacity 1: the laddered stream), B and C
  passthrough (`--transcode-ladder source`); C is reached by the proxy and the origin only
  through a TCP relay this suite controls (C advertises 127.0.0.2:<port>), so it can be
  blackholed; `sluice proxy` (publishers and RTMP players), `sluice origin` (HLS viewers).
  Three publishers (ffmpeg test pattern through the proxy, restarted 1 s after they drop, as
  OBS reconnects): `soak-ladder` (854x480) on A, `soak-b` and `soak-c` (640x360) on B and C;
  `soak-b` also relays (`push=`) to nginx-rtmp. 200 RTMP players through the proxy, 50 HLS
  viewers through the origin (tests/soak/loadgen.py), one RTMP player on nginx-rtmp.

Soak: M minutes (default 10). RSS, open descriptors, threads and CPU of every process every
10 s. Goals: after warm-up (30 % of the soak, at most 3 min) every sluice process's RSS
within +-5 % of its mean and its descriptors flat (range <= 5); every player and viewer
receiving throughout (no stall, gap or reset); every segment a viewer saw is in S3.

Chaos (--chaos), under the same load, each event followed by a recovery window: kill -9 of
the server holding `soak-b` (restarted on its data dir after 45 s); Redis restarted; S3
unreachable for 60 s; server C blackholed for 60 s. For each: what viewers and players saw
(stalls, gaps), where the publisher landed, whether playlists continued, what was lost.

Exit status 0 only if every goal is met; the summary says which were not. The summary is
printed and written to <workdir>/summary.json."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from harness import (NginxRtmp, Process, Redis, Role, S3Server, free_port,  # noqa: E402
                     wait_until)

SECRET = "soak-secret"
KEYS = ["soak-ladder", "soak-b", "soak-c"]
PLAYERS, VIEWERS = 200, 50
SAMPLE_S = 10
LOADGEN = os.path.join(HERE, "loadgen.py")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def playback_id(key):
    import hashlib
    import hmac
    return hmac.new(SECRET.encode(), key.encode(), hashlib.sha256).hexdigest()[:20]


def proc_stat(pid):
    """(rss KiB, fds, threads, cpu seconds) of a live pid, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, fds, threads, cpu
    except (OSError, AttributeError, ValueError):
        return None


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v), idle


class Server(Role):
    """`sluice serve` on fixed ports (so a restart keeps its address), optionally advertised
    at another address (a relay in front of it)."""

    def __init__(self, workdir, name, rtmp_port, http_port, extra, advertise=None):
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.data_dir = os.path.join(self.workdir, "data")
        args = [harness.SLUICE, "serve", "--rtmp-listen", f"127.0.0.1:{rtmp_port}",
                "--http-listen", f"127.0.0.1:{http_port}", "--data-dir", self.data_dir,
                "--playback-secret", SECRET, *extra]
        if advertise:
            args += ["--advertise", advertise]
        n = len([f for f in os.listdir(self.workdir) if f.startswith("sluice")])
        super().__init__(name, args, os.path.join(self.workdir, f"sluice.{n}.log"))
        self.advertised = advertise or f"127.0.0.1:{http_port}"


class Publisher(threading.Thread):
    """ffmpeg publishing a test pattern through the proxy, restarted 1 s after it ends (an
    encoder reconnecting). Records every start and end."""

    def __init__(self, workdir, url, size, procs):
        super().__init__(daemon=True)
        self.workdir, self.url, self.size, self.procs = workdir, url, size, procs
        self.stop_event = threading.Event()
        self.events = []  # [time, "start"|"exit", detail]
        self.proc = None
        self.n = 0

    def run(self):
        while not self.stop_event.is_set():
            self.n += 1
            args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
                    "-f", "lavfi", "-i", f"testsrc2=size={self.size}:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                    "-g", "60", "-pix_fmt", "yuv420p", "-b:v", "600k", "-maxrate", "800k",
                    "-bufsize", "1200k", "-c:a", "aac", "-b:a", "96k",
                    "-rw_timeout", "10000000", "-f", "flv", self.url]
            name = self.url.rsplit("/", 1)[1].split("?")[0]
            self.proc = Process(args, os.path.join(self.workdir, f"ffmpeg-{name}.{self.n}.log"))
            self.procs.append(self.proc)
            self.events.append([time.time(), "start", self.n])
            while self.proc.alive() and not self.stop_event.is_set():
                time.sleep(0.2)
            if self.stop_event.is_set():
                break
            tail = self.proc.output()[-300:].replace("\n", " | ")
            self.events.append([time.time(), "exit", f"rc={self.proc.proc.returncode} {tail}"])
            self.proc.stop()
            self.stop_event.wait(1.0)

    def end(self):
        self.stop_event.set()
        if self.proc:
            self.proc.stop(signal.SIGINT)  # ffmpeg ends the FLV stream cleanly
        self.join(15)


class Soak:
    def __init__(self, args):
        self.args = args
        self.workdir = args.keep or tempfile.mkdtemp(prefix="sluice-soak-")
        os.makedirs(self.workdir, exist_ok=True)
        self.procs = []  # everything started, stopped in reverse order
        self.samples = []  # {time, phase, procs: {name: [rss, fds, threads, cpu]}, machine}
        self.phase = "setup"
        self.events = []  # chaos events
        self.failures = []
        self.sampler_stop = threading.Event()

    # -- processes ------------------------------------------------------------------------

    def track(self, p):
        self.procs.append(p)
        return p

    def named(self):
        """name -> pid of what the sampler follows."""
        out = {"redis": self.redis.pid, "s3rver": self.s3.pid, "nginx": self.nginx.pid,
               "proxy": self.proxy.pid, "origin": self.origin.pid,
               "players": self.players.pid, "viewers": self.viewers.pid,
               "relay": self.relay.pid}
        for name, s in self.servers.items():
            out[f"serve-{name}"] = s.pid
        for p in self.publishers:
            if p.proc:
                out[f"ffmpeg-{p.url.rsplit('/', 1)[1].split('?')[0]}"] = p.proc.pid
        return out

    def sampler(self):
        last = machine_cpu()
        while not self.sampler_stop.wait(SAMPLE_S):
            total, idle = machine_cpu()
            busy = 1 - (idle - last[1]) / max(1, total - last[0])
            last = (total, idle)
            procs = {}
            for name, pid in self.named().items():
                st = proc_stat(pid)
                if st:
                    procs[name] = list(st)
            self.samples.append({"time": time.time(), "phase": self.phase,
                                 "machine_busy": round(busy, 3),
                                 "load1": os.getloadavg()[0], "procs": procs})

    def start_server(self, name):
        extra = list(self.fleet_args)
        if name == "A":
            extra += ["--transcode-capacity", "1"]
        else:
            extra += ["--transcode-ladder", "source"]
        extra += self.s3.sluice_args("vod")
        ports = self.ports[name]
        advertise = f"127.0.0.2:{ports[1]}" if name == "C" else None
        s = self.track(Server(self.workdir, f"serve-{name}", ports[0], ports[1], extra, advertise))
        self.servers[name] = s
        return s

    def holder(self, pid):
        try:
            value = self.redis.cli("GET", f"sluice:stream:{pid}")
            return json.loads(value)["address"] if value else None
        except Exception:  # noqa: BLE001 - Redis may be down (chaos)
            return None

    def server_named(self, address):
        for name, s in self.servers.items():
            host = s.advertised.rsplit(":", 1)[0]
            if address in (s.advertised, f"{host}:{self.ports[name][0]}"):
                return name
        return address

    def loadgen_json(self, path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def start_publisher(self, key, size, query=""):
        p = Publisher(self.workdir, f"rtmp://127.0.0.1:{self.proxy.rtmp_port}/stream/{key}"
                      + query, size, self.procs)
        self.publishers.append(p)
        p.start()
        return p

    def setup(self):
        w = self.workdir
        log(f"workdir {w}; sluice {harness.SLUICE}")
        self.redis = self.track(Redis(w))
        self.s3 = self.track(S3Server(w, "soak"))
        self.nginx = self.track(NginxRtmp(w, app="live"))
        self.fleet_args = ["--registry", self.redis.url, "--log-level", "info",
                           "--hls-endlist-delay", "15"]
        self.ports = {n: (free_port(), free_port()) for n in ("A", "B", "C")}
        self.relay_out = os.path.join(w, "relay.json")
        c = self.ports["C"]
        self.relay = self.track(Process(
            [sys.executable, LOADGEN, "relay", "--listen", f"127.0.0.2:{c[0]}", "--target",
             f"127.0.0.1:{c[0]}", "--listen", f"127.0.0.2:{c[1]}", "--target",
             f"127.0.0.1:{c[1]}", "--out", self.relay_out], os.path.join(w, "relay.log")))
        self.servers = {}
        self.publishers = []
        self.start_server("A")
        # As harness.Proxy and harness.Origin, at log level info (a long run).
        self.proxy = self.track(Role("proxy", [
            harness.SLUICE, "proxy", "--proxy-listen", "127.0.0.1:0", "--proxy-http-listen",
            "127.0.0.1:0", "--data-dir", os.path.join(w, "proxy-data"), "--registry",
            self.redis.url, "--playback-secret", SECRET, "--log-level", "info"],
            os.path.join(w, "proxy.log")))
        self.origin = self.track(Role("origin", [
            harness.SLUICE, "origin", "--origin-listen", "127.0.0.1:0", "--registry",
            self.redis.url, "--log-level", "info", "--origin-cache-bytes", str(32 << 20)],
            os.path.join(w, "origin.log"), rtmp=False))
        # The laddered stream first, while A is the only server (placement fills the server
        # with the most free capacity, and A's is 1).
        self.pids = {k: playback_id(k) for k in KEYS}
        wait_until(lambda: self.proxy_healthy() >= 1, 20, what="proxy to see A")
        self.start_publisher("soak-ladder", "854x480")
        wait_until(lambda: self.holder(self.pids["soak-ladder"]), 30, what="ladder on A")
        self.start_server("B")
        self.start_server("C")
        wait_until(lambda: self.proxy_healthy() >= 3, 20, what="proxy to see 3 servers")
        self.relay_name = "relayed"
        push = urllib.parse.quote(self.nginx.url(self.relay_name), safe="")
        self.start_publisher("soak-b", "640x360", f"?push={push}")
        wait_until(lambda: self.holder(self.pids["soak-b"]), 30, what="soak-b placed")
        self.start_publisher("soak-c", "640x360")
        wait_until(lambda: self.holder(self.pids["soak-c"]), 30, what="soak-c placed")
        placement = {k: self.server_named(self.holder(p)) for k, p in self.pids.items()}
        log(f"placement: {placement}")
        renditions = {}
        for k, pid in self.pids.items():
            def master():
                status, _, body = self.origin.get(f"/{pid}/live.m3u8")
                return status == 200 and body.decode()
            text = wait_until(master, 60, what=f"master of {k} through the origin")
            bw = [(int(m.group(1)), m.group(2)) for m in
                  re.finditer(r"BANDWIDTH=(\d+).*\n([^/\n]+)/index.m3u8", text)]
            renditions[k] = [r for _, r in sorted(bw, reverse=True)]
        self.renditions = renditions
        log(f"renditions: {renditions}")
        self.players_out = os.path.join(w, "players.json")
        self.viewers_out = os.path.join(w, "viewers.json")
        self.players = self.track(Process(
            ["nice", "-n", str(self.args.nice), sys.executable, LOADGEN, "players", "--port",
             str(self.proxy.rtmp_port), "--names", ",".join(self.pids.values()), "--count",
             str(PLAYERS), "--out", self.players_out], os.path.join(w, "players.log")))
        # Viewer 0 of each stream follows its top rendition (the recorded one), the others
        # its bottom one.
        streams = ",".join(f"{self.pids[k]}:{renditions[k][0]}:{renditions[k][-1]}"
                           for k in KEYS)
        self.viewers = self.track(Process(
            ["nice", "-n", str(self.args.nice), sys.executable, LOADGEN, "viewers", "--base",
             f"http://127.0.0.1:{self.origin.http_port}", "--streams", streams, "--count",
             str(VIEWERS), "--out", self.viewers_out], os.path.join(w, "viewers.log")))
        self.relay_watch_out = os.path.join(w, "relay-player.json")
        self.relay_watch = self.track(Process(
            [sys.executable, LOADGEN, "players", "--port", str(self.nginx.port), "--app",
             "live", "--names", self.relay_name, "--count", "1", "--out", self.relay_watch_out],
            os.path.join(w, "relay-player.log")))

    def proxy_healthy(self):
        text = self.proxy.get("/metrics")[2].decode()
        m = re.search(r"^sluice_proxy_servers_healthy (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0

    # -- chaos ----------------------------------------------------------------------------

    def event(self, name, **detail):
        e = {"name": name, "start": time.time(), **detail}
        self.events.append(e)
        log(f"chaos: {name} {detail if detail else ''}")
        return e

    def chaos(self):
        recovery = self.args.recovery
        # 1. kill -9 the server holding soak-b.
        pid_b = self.pids["soak-b"]
        before = self.server_named(self.holder(pid_b))
        victim = self.servers[before]
        pub = self.publishers[1]
        n_before = len(pub.events)
        e = self.event("kill -9 server", server=before, stream="soak-b")
        victim.expect_exit(-signal.SIGKILL)
        victim.stop(signal.SIGKILL)
        landed = None
        deadline = time.time() + 60
        while time.time() < deadline:
            h = self.holder(pid_b)
            if h and self.server_named(h) != before:
                landed = self.server_named(h)
                e["landed_after_s"] = round(time.time() - e["start"], 1)
                break
            time.sleep(0.5)
        e["landed_on"] = landed
        e["publisher_events"] = pub.events[n_before:]
        time.sleep(45)
        e["restarted"] = time.time()
        self.start_server(before)
        e["end"] = time.time()
        time.sleep(recovery)

        # 2. Redis restarted (SIGTERM, then a new redis-server on the same port).
        e = self.event("redis restart")
        port = self.redis.port
        self.redis.stop()
        time.sleep(5)
        self.redis = self.track(Redis(self.workdir, port=port, name="redis-back"))
        e["end"] = time.time()
        time.sleep(recovery)
        e["holders_after"] = {k: self.server_named(self.holder(p)) for k, p in self.pids.items()}

        # 3. S3 unreachable for 60 s.
        e = self.event("s3 down 60 s")
        port = self.s3.port
        self.s3.stop()
        time.sleep(60)
        e["pending_at_worst"] = {n: self.metric_of(s, "sluice_dvr_pending_uploads")
                                 for n, s in self.servers.items()}
        self.s3 = self.track(S3Server(self.workdir, "soak", port=port, name="s3rver-back"))
        e["end"] = time.time()
        time.sleep(recovery)

        # 4. Server C blackholed (packets dropped, not refused) for 60 s.
        on_c = [k for k, p in self.pids.items() if self.server_named(self.holder(p)) == "C"]
        e = self.event("blackhole server C 60 s", streams_on_c=on_c)
        os.kill(self.relay.pid, signal.SIGUSR1)
        moved = {}
        deadline = time.time() + 60
        while time.time() < deadline:
            for k in on_c:
                h = self.server_named(self.holder(self.pids[k]))
                if k not in moved and h not in (None, "C"):
                    moved[k] = [h, round(time.time() - e["start"], 1)]
            time.sleep(1)
        os.kill(self.relay.pid, signal.SIGUSR2)
        e["moved"] = moved
        e["end"] = time.time()
        time.sleep(recovery)
        e["holders_after"] = {k: self.server_named(self.holder(p)) for k, p in self.pids.items()}

    def metric_of(self, role, name):
        try:
            text = role.get("/metrics", timeout=3)[2].decode()
            m = re.search(rf"^{name} (\S+)$", text, re.M)
            return float(m.group(1)) if m else None
        except Exception:  # noqa: BLE001
            return None

    # -- run ------------------------------------------------------------------------------

    def run(self):
        try:
            self.setup()
            sampler = threading.Thread(target=self.sampler, daemon=True)
            sampler.start()
            self.phase = "soak"
            self.t_soak = time.time()
            soak_s = self.args.minutes * 60
            log(f"soak for {self.args.minutes} min")
            while time.time() - self.t_soak < soak_s:
                time.sleep(30)
                self.progress()
            self.t_soak_end = time.time()
            if self.args.chaos:
                self.phase = "chaos"
                self.chaos()
            self.phase = "end"
            self.t_end = time.time()
            self.finish()
        finally:
            self.sampler_stop.set()
            for p in self.publishers:
                p.stop_event.set()
            for p in reversed(self.procs):
                try:
                    p.stop()
                except Exception as e:  # noqa: BLE001 - stop the rest anyway
                    log(f"stopping {p.args[:2]}: {e}")
            log(f"stopped {len(self.procs)} processes; logs in {self.workdir}")

    def progress(self):
        s = self.samples[-1] if self.samples else None
        players = (self.loadgen_json(self.players_out) or {}).get("players", [])
        viewers = (self.loadgen_json(self.viewers_out) or {}).get("viewers", [])
        receiving = sum(1 for p in players if p["media"] > 0)
        log(f"{int(time.time() - self.t_soak)} s: machine busy "
            f"{s and s['machine_busy']:.0%} load {s and s['load1']:.1f}; players with media "
            f"{receiving}/{len(players)}; viewer segments "
            f"{sum(v['segments'] for v in viewers)}" if s else "no sample yet")

    def finish(self):
        """Stop the load, end the publishes cleanly, wait for uploads, then judge."""
        os.kill(self.players.pid, signal.SIGTERM)
        os.kill(self.viewers.pid, signal.SIGTERM)
        os.kill(self.relay_watch.pid, signal.SIGTERM)
        self.players.wait(30)
        self.viewers.wait(60)
        self.relay_watch.wait(30)
        for p in self.publishers:
            p.end()
        log("publishers ended; waiting for recordings to finish uploading")
        try:
            wait_until(lambda: all(self.metric_of(s, "sluice_dvr_pending_uploads") == 0 and
                                   self.metric_of(s, "sluice_dvr_recordings") == 0
                                   for s in self.servers.values() if s.alive()), 120,
                       interval=2, what="uploads")
        except AssertionError as e:
            self.failures.append(f"recordings: {e}")
        self.judge()

    # -- judging --------------------------------------------------------------------------

    def judge(self):
        players = self.loadgen_json(self.players_out)["players"]
        viewers = self.loadgen_json(self.viewers_out)["viewers"]
        relay_watch = self.loadgen_json(self.relay_watch_out)["players"][0]
        soak_s = self.args.minutes * 60
        warm = self.t_soak + min(180, 0.3 * soak_s)
        summary = {"workdir": self.workdir, "minutes": self.args.minutes,
                   "chaos": self.args.chaos, "placement": None, "renditions": self.renditions,
                   "processes": {}, "machine": {}, "players": {}, "viewers": {},
                   "recording": {}, "events": [], "failures": self.failures}

        # Resources over the soak, after warm-up.
        soak_samples = [s for s in self.samples if s["phase"] == "soak" and s["time"] >= warm]
        all_soak = [s for s in self.samples if s["phase"] == "soak"]
        busy = [s["machine_busy"] for s in all_soak]
        summary["machine"] = {"cores": os.cpu_count(),
                              "busy_mean": round(sum(busy) / len(busy), 3) if busy else None,
                              "busy_max": max(busy) if busy else None,
                              "load1_max": max((s["load1"] for s in all_soak), default=None)}
        names = sorted({n for s in self.samples for n in s["procs"]})
        for name in names:
            series = [(round(s["time"] - self.t_soak), s["phase"], *s["procs"][name])
                      for s in self.samples if name in s["procs"]]
            after = [s["procs"][name] for s in soak_samples if name in s["procs"]]
            entry = {"series": series}
            if len(after) >= 3:
                rss = [a[0] for a in after]
                fds = [a[1] for a in after]
                thr = [a[2] for a in after]
                mean = sum(rss) / len(rss)
                cpu_s = after[-1][3] - after[0][3]
                span = soak_samples[-1]["time"] - soak_samples[0]["time"]
                entry.update({
                    "rss_mean_mib": round(mean / 1024, 1), "rss_min_mib": round(min(rss) / 1024, 1),
                    "rss_max_mib": round(max(rss) / 1024, 1),
                    "rss_drift": round((max(rss) - min(rss)) / mean, 4),
                    "rss_dev_max": round(max(max(rss) - mean, mean - min(rss)) / mean, 4),
                    "fds_min": min(fds), "fds_max": max(fds),
                    "threads_min": min(thr), "threads_max": max(thr),
                    "cpu_share": round(cpu_s / span, 3) if span else None})
                if name.startswith("serve-") or name in ("proxy", "origin"):
                    if entry["rss_dev_max"] > 0.05:
                        self.failures.append(
                            f"{name}: RSS outside +-5 % of its mean after warm-up "
                            f"({entry['rss_min_mib']}-{entry['rss_max_mib']} MiB, mean "
                            f"{entry['rss_mean_mib']})")
                    if max(fds) - min(fds) > 5:
                        self.failures.append(f"{name}: descriptors not flat after warm-up "
                                             f"({min(fds)}-{max(fds)})")
            summary["processes"][name] = entry

        # Players and viewers: soak phase and each chaos event.
        def in_window(t, a, b):
            return a <= t < b

        # A stall (silence from its start, the last media or segment received, to the next)
        # belongs to the window in which it became visible: its start plus the threshold
        # (3 s for a player, 3 target durations for a viewer). Windows: the soak, then each
        # chaos event from its start to the next one's (or the end).
        def stall_seconds(stalls, a, b, threshold):
            return sum(st[1] for st in stalls if a <= st[0] + threshold < b)

        def pstall(p, a, b):
            return stall_seconds(p["stalls"], a, b, 3.0)

        def vstall(v, a, b):
            return stall_seconds(v["stalls"], a, b, 3 * v["target"])

        soak_a, soak_b = self.t_soak, self.t_soak_end
        p_soak_stalled = [p["i"] for p in players if pstall(p, soak_a, soak_b)]
        v_soak_stalled = [v["i"] for v in viewers if vstall(v, soak_a, soak_b)]
        v_soak_gaps = [v["i"] for v in viewers
                       if any(in_window(g[0], soak_a, soak_b) for g in v["gaps"])]
        v_soak_resets = [v["i"] for v in viewers
                         if any(in_window(r[0], soak_a, soak_b) for r in v["resets"])]
        summary["players"] = {
            "count": len(players), "bytes_total": sum(p["bytes"] for p in players),
            "bytes_min": min(p["bytes"] for p in players),
            "media_min": min(p["media"] for p in players),
            "connects_max": max(p["connects"] for p in players),
            "soak_stalled": p_soak_stalled,
            "relay_destination_player": {k: relay_watch[k] for k in
                                         ("bytes", "media", "connects", "stalls")}}
        summary["viewers"] = {
            "count": len(viewers), "segments_total": sum(v["segments"] for v in viewers),
            "segments_min": min(v["segments"] for v in viewers),
            "bytes_total": sum(v["bytes"] for v in viewers),
            "soak_stalled": v_soak_stalled, "soak_gaps": v_soak_gaps,
            "soak_resets": v_soak_resets,
            "errors": {k: sum(v["errors"].get(k, 0) for v in viewers)
                       for k in {k for v in viewers for k in v["errors"]}}}
        if p_soak_stalled:
            self.failures.append(f"soak: {len(p_soak_stalled)} RTMP players stalled")
        if v_soak_stalled or v_soak_gaps or v_soak_resets:
            self.failures.append(f"soak: HLS viewers stalled {len(v_soak_stalled)}, with gaps "
                                 f"{len(v_soak_gaps)}, with resets {len(v_soak_resets)}")
        if relay_watch["media"] == 0:
            self.failures.append("relay: nothing reached the relay destination")

        for n, e in enumerate(self.events):
            a = e["start"]
            b = self.events[n + 1]["start"] if n + 1 < len(self.events) else self.t_end
            e["window_s"] = round(b - a, 1)
            pe = [p for p in players if pstall(p, a, b)]
            ve = [v for v in viewers if vstall(v, a, b)]
            gaps = [g for v in viewers for g in v["gaps"] if in_window(g[0], a, b)]
            resets = [r for v in viewers for r in v["resets"] if in_window(r[0], a, b)]
            by_stream = {}
            for v in viewers:
                k = [k for k, p in self.pids.items() if p == v["pid"]][0]
                d = by_stream.setdefault(k, {"viewers": 0, "stalled": 0, "stall_s_max": 0,
                                             "gaps": 0, "missing": 0})
                d["viewers"] += 1
                ov = vstall(v, a, b)
                if ov:
                    d["stalled"] += 1
                    d["stall_s_max"] = max(d["stall_s_max"], round(ov, 1))
                for g in v["gaps"]:
                    if in_window(g[0], a, b):
                        d["gaps"] += 1
                        d["missing"] = max(d["missing"], g[3])
            pstream = {}
            for p in players:
                k = [k for k, pid in self.pids.items() if pid == p["name"]][0]
                d = pstream.setdefault(k, {"players": 0, "stalled": 0, "stall_s_max": 0})
                d["players"] += 1
                ov = pstall(p, a, b)
                if ov:
                    d["stalled"] += 1
                    d["stall_s_max"] = max(d["stall_s_max"], round(ov, 1))
            e_sum = {k: v for k, v in e.items()}
            e_sum["publishes_routed"] = self.routed_publishes(a, b)
            e_sum.update({"players_stalled": len(pe), "viewers_stalled": len(ve),
                          "viewer_gaps": len(gaps), "viewer_resets": len(resets),
                          "viewers_by_stream": by_stream, "players_by_stream": pstream})
            summary["events"].append(e_sum)
            if pe or ve or gaps or resets:
                self.failures.append(
                    f"chaos '{e['name']}': {len(pe)} players and {len(ve)} viewers stalled, "
                    f"{len(gaps)} viewer gaps, {len(resets)} playlist resets")
            if e["name"].startswith("kill") and not e.get("landed_on"):
                self.failures.append("chaos kill -9: the publisher did not land on another "
                                     "server within 60 s")

        # Recording: every segment a viewer saw live is in S3; a sample byte-compared.
        rec = {}
        for k, pid in self.pids.items():
            keys = self.s3.keys(f"vod/{pid}/")
            stored = {}
            for key in keys:
                m = re.match(rf"vod/{pid}/([^/]+)/(\d+)\.(m4s|ts)$", key)
                if m:
                    stored.setdefault(m.group(1), set()).add(int(m.group(2)))
            seen = set()
            for v in viewers:
                if v["pid"] == pid:
                    seen |= set(v["seen"])
            recorded = set().union(*stored.values()) if stored else set()
            missing = sorted(seen - recorded)
            compared, differ = 0, []
            for v in viewers:
                if v["pid"] != pid or not v["hashes"]:
                    continue
                import hashlib
                sample = sorted(v["hashes"].items(), key=lambda x: int(x[0]))
                for msn, sha in sample[::max(1, len(sample) // 10)]:
                    status, _, body = self.s3.get(f"vod/{pid}/{v['rendition']}/{msn}.m4s")
                    compared += 1
                    if status != 200 or hashlib.sha1(body).hexdigest() != sha:
                        differ.append([msn, status])
            rec[k] = {"renditions_in_s3": {r: len(s) for r, s in stored.items()},
                      "playlists": len([x for x in keys if x.endswith(".m3u8")]),
                      "seen_live": len(seen), "recorded": len(recorded),
                      "missing_count": len(missing), "missing": missing[:20],
                      "byte_compared": compared, "byte_differ": differ}
            if missing:
                self.failures.append(f"recording {k}: {len(missing)} segments seen live are "
                                     f"not in S3 (first {missing[:5]})")
            if differ:
                self.failures.append(f"recording {k}: {len(differ)} sampled segments differ "
                                     f"from live or are missing in S3")
        summary["recording"] = rec
        summary["dvr_metrics"] = {n: {m: self.metric_of(s, m) for m in (
            "sluice_dvr_upload_failures_total", "sluice_dvr_segments_dropped_total",
            "sluice_dvr_pending_uploads")} for n, s in self.servers.items() if s.alive()}
        summary["publishers"] = {p.url.rsplit("/", 1)[1].split("?")[0]: p.events
                                 for p in self.publishers}
        self.summary = summary
        with open(os.path.join(self.workdir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        self.print_summary()

    def routed_publishes(self, a, b):
        """[seconds after a, playback ID, server] of each publish the proxy routed in [a, b)."""
        out = []
        for line in open(self.proxy.log_path, errors="replace"):
            m = re.match(r"(\S+) info proxy#\d+ \S+ publish (\w+) via (\S+)", line)
            if not m:
                continue
            t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) + \
                float("0" + m.group(1)[19:])
            if a <= t < b:
                name = [k for k, p in self.pids.items() if p == m.group(2)]
                out.append([round(t - a, 1), name[0] if name else m.group(2),
                            self.server_named(m.group(3))])
        return out

    def print_summary(self):
        s = self.summary
        print("\n==== soak summary ====")
        print(f"soak {s['minutes']} min, chaos {s['chaos']}; machine {s['machine']}")
        print("process        RSS MiB (min-max, mean, dev)   fds        threads   CPU share")
        for name, e in s["processes"].items():
            if "rss_mean_mib" in e:
                print(f"{name:14} {e['rss_min_mib']:7}-{e['rss_max_mib']:<7} {e['rss_mean_mib']:7}"
                      f" {e['rss_dev_max']:6.1%}   {e['fds_min']:4}-{e['fds_max']:<5} "
                      f"{e['threads_min']:3}-{e['threads_max']:<4} {e['cpu_share']}")
        print(f"players: {json.dumps(s['players'])}")
        print(f"viewers: {json.dumps(s['viewers'])}")
        for k, r in s["recording"].items():
            print(f"recording {k}: {json.dumps(r)}")
        print(f"dvr metrics: {json.dumps(s['dvr_metrics'])}")
        for e in s["events"]:
            print(f"event: {json.dumps(e, default=str)}")
        print("goals: " + ("all met" if not s["failures"] else "NOT met:"))
        for f in s["failures"]:
            print(f"  - {f}")


def markdown(path, every=60):
    """Markdown tables of a run's summary.json, for docs/reliability.md."""
    s = json.load(open(path))
    print("| process | RSS MiB min-max (mean) after warm-up | RSS dev from mean | fds | threads "
          "| CPU (cores) |")
    print("|---|---|---|---|---|---|")
    for name, e in s["processes"].items():
        if "rss_mean_mib" in e:
            print(f"| {name} | {e['rss_min_mib']}-{e['rss_max_mib']} ({e['rss_mean_mib']}) | "
                  f"{e['rss_dev_max']:.1%} | {e['fds_min']}-{e['fds_max']} | "
                  f"{e['threads_min']}-{e['threads_max']} | {e['cpu_share']} |")
    names = [n for n in s["processes"] if n.startswith("serve-") or n in ("proxy", "origin")]
    print()
    print("| t (s) | phase | " + " | ".join(f"{n} RSS/fds/thr" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    times = sorted({row[0] for n in names for row in s["processes"][n]["series"]})
    shown = -every
    for t in times:
        if t - shown < every:
            continue
        shown = t
        cells = []
        phase = ""
        for n in names:
            row = [r for r in s["processes"][n]["series"] if r[0] == t]
            if row:
                phase = row[0][1]
                cells.append(f"{row[0][2] / 1024:.1f}/{row[0][3]}/{row[0][4]}")
            else:
                cells.append("-")
        print(f"| {t} | {phase} | " + " | ".join(cells) + " |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        return markdown(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--chaos", action="store_true")
    ap.add_argument("--recovery", type=float, default=40,
                    help="seconds of load after each chaos event before the next")
    ap.add_argument("--nice", type=int, default=10, help="niceness of players and viewers")
    ap.add_argument("--keep", help="work directory (kept); default a new temporary one")
    args = ap.parse_args()
    soak = Soak(args)
    try:
        soak.run()
    except KeyboardInterrupt:
        return 130
    return 1 if soak.failures or not hasattr(soak, "summary") else 0


if __name__ == "__main__":
    sys.exit(main())
