#!/usr/bin/env python3
"""CPU of relaying (restreaming) and of recording in `sluice serve`, side by side with the
reference system's way of doing each, on the same input, at the same time, in one run.

  Seven `sluice serve` (--transcode-ladder source: HLS packaging of the source, no x264), each
  with one publisher of the same pre-encoded 3 Mbit/s 720p30 H.264 + AAC FLV (ffmpeg -re
  -stream_loop -1 -c copy, made once by the script; the publishers' CPU is not counted):

    base      --dvr off, no relays: the baseline every other figure is taken against
    relay1    --dvr off, publish option push=<sink> once: one in-process relay (codec copy)
    relay3    --dvr off, push= three times: three in-process relays
    ffrelay1  as base, plus one `ffmpeg -fflags nobuffer -i rtmp://<sluice>/stream/<key>
              -c copy -f flv <sink>` (the reference's relay: one ffmpeg per destination,
              reading the server's own RTMP output)
    ffrelay3  as base, plus three of those ffmpegs
    dvr       recording on (the default; data_dir/recordings on the same disk as the rest)
    ffhls     as base, plus one `ffmpeg -fflags nobuffer -i rtmp://... -c copy -f hls
              -hls_time 6 -hls_list_size 0` writing the stream to disk as HLS: the
              reference's copy to disk, which its recorder then watches and uploads

  Every destination is a stream on one nginx with Debian's nginx-rtmp module (live on, HLS
  off; its CPU is not counted), so both ways push to the same kind of sink.

  All seven run at once, so a shared machine's other work lands on every scenario alike.
  After a warm-up, over --seconds (cut into --parts equal parts), the script reads utime+stime
  of each scenario's processes from /proc: the sluice process, plus the ffmpeg processes for
  the reference ways. A way's marginal CPU is its scenario's CPU minus base's, in CPU seconds
  per minute of stream; the ratio is reference / sluice. The spread over the parts shows the
  noise (at ~1 % of a core a part is a few dozen 10 ms ticks).

  Checked (the run fails loudly otherwise): every process stayed up; every sluice relay is
  "live" with one connect, no failure and no dropped media from start to end of the window
  and sent at least 80 % of the input's bitrate; every sink stream (sluice's and ffmpeg's)
  received at least 80 % of it (nginx-rtmp's rtmp_stat bytes_in); sluice recorded every
  segment it packaged (sluice_dvr_segments_* and the files, against the live playlist) with
  none dropped, and ffmpeg's HLS grew by a segment per ~6 s. A way whose cost is within the
  noise (a part measured it at or below zero) gets a lower bound for its ratio.

Usage: bench/relay_bench.py [--build build] [--seconds 180] [--parts 6] [--warmup 10]
                            [--bitrate-kbps 3000] [--json results.json]
Needs: ffmpeg, nginx, libnginx-mod-rtmp (scripts/install-bench-deps.sh)."""

import argparse
import glob
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import types
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # bench/benchlib.py, however this script is started
from benchlib import (all_cpu_seconds, cpu_seconds, first_line, free_port,  # noqa: E402
                      group_pids, machine_details, other_cpu_seconds, rss_mib, start, stop,
                      wait_port)
from proxy_bench import make_input, metrics, publisher  # noqa: E402  the same input and publisher

KEY = "live"  # every sluice's stream key (and, with --playback-id key, its playback ID)

# name, sluice --dvr, in-process relays (push=), ffmpeg RTMP->FLV relays, ffmpeg RTMP->HLS
SCENARIOS = [
    ("base", "off", 0, 0, 0),
    ("relay1", "off", 1, 0, 0),
    ("relay3", "off", 3, 0, 0),
    ("ffrelay1", "off", 0, 1, 0),
    ("ffrelay3", "off", 0, 3, 0),
    ("dvr", None, 0, 0, 0),
    ("ffhls", "off", 0, 0, 1),
]

# (label, sluice's scenario, reference's scenario, destinations the figure is divided by)
COMPARISONS = [
    ("relay, 1 destination", "relay1", "ffrelay1", 1),
    ("relay, 3 destinations, per destination", "relay3", "ffrelay3", 3),
    ("recording to local disk", "dvr", "ffhls", 1),
]

NGINX_HTTP = """
http {{
  access_log off;
  client_body_temp_path {work}/client_temp;
  proxy_temp_path {work}/proxy_temp;
  fastcgi_temp_path {work}/fastcgi_temp;
  uwsgi_temp_path {work}/uwsgi_temp;
  scgi_temp_path {work}/scgi_temp;
  server {{
    listen 127.0.0.1:{port};
    location /stat {{ rtmp_stat all; }}
  }}
}}
"""


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


class Scenario:
    def __init__(self, name, dvr, pushes, ff_relays, ff_hls):
        self.name, self.dvr, self.pushes = name, dvr, pushes
        self.ff_relays, self.ff_hls = ff_relays, ff_hls
        self.sluice = self.publisher = None
        self.ffmpegs = []

    def sinks(self, kind):
        """Stream names at the sink for this scenario's relays."""
        n = self.pushes if kind == "sluice" else self.ff_relays
        return [f"{self.name}-{i + 1}" for i in range(n)]

    def pids(self):
        return [self.sluice.pid] + [p.pid for p in self.ffmpegs]

    def procs(self):
        return [p for p in [self.sluice, self.publisher] + self.ffmpegs if p is not None]

    def stream(self):
        for s in http_json(self.http_port, "/api/streams")["streams"]:
            if s["playback_id"] == KEY:
                return s
        return None

    def relays(self):
        s = self.stream()
        return {r["destination"]: r for r in (s or {}).get("relays", [])}


def sink_bytes(stat_port):
    """bytes_in per stream at the nginx-rtmp sink (rtmp_stat)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stat_port}/stat", timeout=5) as r:
        root = ET.fromstring(r.read())
    return {s.findtext("name"): int(s.findtext("bytes_in") or 0) for s in root.iter("stream")}


def wait_for(what, cond, timeout, procs=()):
    deadline = time.time() + timeout
    while True:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"waiting for {what}: {len(dead)} process(es) exited "
                               f"({[p.args[0] for p in dead]}; see the logs)")
        try:
            if cond():
                return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(0.25)


def count_files(pattern):
    return len(glob.glob(pattern, recursive=True))


def snapshot(scn, stat_port, work):
    """Counters checked over the window."""
    m = metrics(scn.http_port)
    out = {"relays": scn.relays(), "sink": sink_bytes(stat_port),
           "dvr_recorded": m.get("sluice_dvr_segments_recorded_total"),
           "dvr_dropped": m.get("sluice_dvr_segments_dropped_total"),
           "bytes_in": (scn.stream() or {}).get("bytes_in", 0)}
    if scn.ff_hls:
        out["ffhls_segments"] = count_files(os.path.join(work, scn.name + "-hls", "*.ts"))
    if scn.dvr is None:
        out["dvr_files"] = count_files(os.path.join(scn.data_dir, "recordings", "**", "*.ts"))
        # The number of the newest live HLS segment: recording must keep up with packaging.
        with urllib.request.urlopen(f"http://127.0.0.1:{scn.http_port}/{KEY}/source/index.m3u8",
                                    timeout=5) as r:
            names = [x for x in r.read().decode().splitlines() if x.endswith(".ts")]
        out["hls_last_segment"] = int(os.path.basename(names[-1])[:-3])
    return out


def check(scn, s0, s1, window, min_bytes_s, problems):
    """Relays live and delivering, recordings growing; appends what is wrong to `problems`."""
    tag = scn.name
    if scn.stream() is None:
        problems.append(f"{tag}: the stream is no longer live")
    rate = (s1["bytes_in"] - s0["bytes_in"]) / window
    if rate < min_bytes_s:
        problems.append(f"{tag}: sluice received {rate * 8 / 1e6:.2f} Mbit/s from the publisher")
    for name in [f"push{i + 1}" for i in range(scn.pushes)]:
        r0, r1 = s0["relays"].get(name), s1["relays"].get(name)
        if not r0 or not r1:
            problems.append(f"{tag}: relay {name} missing from /api/streams")
            continue
        if r0["state"] != "live" or r1["state"] != "live":
            problems.append(f"{tag}: relay {name} state {r0['state']} -> {r1['state']}")
        if r1["connects"] != 1 or r1["failures"] or r1["media_dropped"]:
            problems.append(f"{tag}: relay {name} connects {r1['connects']}, failures "
                            f"{r1['failures']}, media dropped {r1['media_dropped']} "
                            f"({r1['last_error']})")
        sent = (r1["bytes_sent"] - r0["bytes_sent"]) / window
        if sent < min_bytes_s:
            problems.append(f"{tag}: relay {name} sent {sent * 8 / 1e6:.2f} Mbit/s")
    for kind in ("sluice", "ffmpeg"):
        for sink in scn.sinks(kind):
            got = (s1["sink"].get(sink, 0) - s0["sink"].get(sink, 0)) / window
            if got < min_bytes_s:
                problems.append(f"{tag}: sink stream {sink} received {got * 8 / 1e6:.2f} Mbit/s")
    # Segments: 6 s target, cut on keyframes; sluice cuts at the first keyframe at or past
    # 6 s (7.9 s with this input's 1.97 s GOP), ffmpeg's hls muxer keeps a 6 s average.
    expected = int(window // 10)
    if scn.dvr is None:
        rec = s1["dvr_recorded"] - s0["dvr_recorded"]
        hls = s1["hls_last_segment"] - s0["hls_last_segment"]
        files = s1["dvr_files"] - s0["dvr_files"]
        if hls < expected or abs(rec - hls) > 1 or abs(files - hls) > 1 or \
                s1["dvr_dropped"] != s0["dvr_dropped"]:
            problems.append(f"{tag}: {hls} HLS segments packaged, {rec:.0f} recorded, {files} "
                            f"new .ts files in recordings/, "
                            f"{s1['dvr_dropped'] - s0['dvr_dropped']:.0f} dropped")
    elif s1["dvr_recorded"] is not None and s1["dvr_recorded"] > 0:
        problems.append(f"{tag}: recorded although --dvr off")
    if scn.ff_hls:
        n = s1["ffhls_segments"] - s0["ffhls_segments"]
        if n < int(window // 6) - 1:
            problems.append(f"{tag}: ffmpeg wrote {n} HLS segments in {window:.0f} s")
    for p in scn.procs():
        if p.poll() is not None:
            problems.append(f"{tag}: {os.path.basename(p.args[0])} exited ({p.returncode})")


def fmt_range(values):
    return f"{min(values):.2f}-{max(values):.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=180, help="measurement window")
    ap.add_argument("--parts", type=int, default=6, help="equal parts of the window, for spread")
    ap.add_argument("--warmup", type=float, default=10,
                    help="seconds after every relay and reader is up, before the window")
    ap.add_argument("--bitrate-kbps", type=int, default=3000, help="video bitrate of the input")
    ap.add_argument("--input-seconds", type=int, default=20)
    ap.add_argument("--io-threads", default="0", help="sluice serve --io-threads (0: per core)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, _: sys.exit(128 + s))
    sluice = os.path.join(args.build, "sluice")
    if not os.access(sluice, os.X_OK):
        raise SystemExit(f"no sluice in {args.build} (build it, or pass --build)")
    for exe in ("ffmpeg", "ffprobe", "nginx"):
        if not shutil.which(exe):
            raise SystemExit(f"{exe} not found (scripts/install-bench-deps.sh)")
    if not os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so"):
        raise SystemExit("nginx-rtmp module not found (scripts/install-bench-deps.sh)")

    machine = machine_details(args.build, {
        "nginx": first_line(["nginx", "-v"]), "ffmpeg": first_line(["ffmpeg", "-version"])})
    for k, v in machine.items():
        print(f"# {k}: {v}")

    work = tempfile.mkdtemp(prefix="sluice-relay-bench-")
    scns = [Scenario(*s) for s in SCENARIOS]
    nginx = None
    results = {"machine": machine, "args": vars(args)}
    try:
        # Every sluice runs this copy, the binary described above, even if build/ is rebuilt
        # meanwhile.
        sluice = shutil.copy2(sluice, os.path.join(work, "sluice"))
        source = os.path.join(work, "input.flv")
        mbit = make_input(types.SimpleNamespace(bitrate_kbps=args.bitrate_kbps,
                                                input_seconds=args.input_seconds), source)
        results["input_mbit_s"] = mbit
        min_bytes_s = 0.8 * mbit * 1e6 / 8
        print(f"# input: {args.input_seconds} s 1280x720 30 fps H.264 (x264 veryfast, "
              f"{args.bitrate_kbps}k CBR, 2 s GOP) + AAC 128k FLV, {mbit:.2f} Mbit/s overall; "
              f"{args.warmup:g} s warm-up, {args.seconds:g} s window in {args.parts} parts",
              flush=True)

        # The sink: nginx-rtmp (bench/nginx-rtmp.conf.in, HLS off) plus rtmp_stat over HTTP.
        sink_port, stat_port = free_port(), free_port()
        conf = open(os.path.join(HERE, "nginx-rtmp.conf.in")).read()
        conf = (conf.replace("@WORK@", work).replace("@RTMP_PORT@", str(sink_port))
                .replace("@HLS@", "off").replace("@HLS_DIR@", os.path.join(work, "nginx-hls")))
        conf += NGINX_HTTP.format(work=work, port=stat_port)
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(conf)
        nginx = start(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work],
                      os.path.join(work, "nginx.log"))
        wait_port(sink_port, nginx, "nginx")
        wait_port(stat_port, nginx, "nginx")

        def sink_url(name):
            return f"rtmp://127.0.0.1:{sink_port}/stream/{name}"

        for scn in scns:
            scn.rtmp_port, scn.http_port = free_port(), free_port()
            scn.data_dir = os.path.join(work, scn.name)
            cmd = [sluice, "serve", "--rtmp-listen", f"127.0.0.1:{scn.rtmp_port}",
                   "--http-listen", f"127.0.0.1:{scn.http_port}", "--data-dir", scn.data_dir,
                   "--transcode-ladder", "source", "--playback-id", "key", "--auth", "open",
                   "--io-threads", args.io_threads, "--log-level", "warn"]
            if scn.dvr is not None:
                cmd += ["--dvr", scn.dvr]
            scn.sluice = start(cmd, os.path.join(work, f"{scn.name}-sluice.log"))
        for scn in scns:
            wait_port(scn.rtmp_port, scn.sluice, f"sluice serve ({scn.name})")
            wait_port(scn.http_port, scn.sluice, f"sluice serve ({scn.name})")
        for scn in scns:
            query = "&".join("push=" + urllib.parse.quote(sink_url(s), safe="")
                             for s in scn.sinks("sluice"))
            url = f"rtmp://127.0.0.1:{scn.rtmp_port}/stream/{KEY}" + (f"?{query}" if query else "")
            scn.publisher = publisher(url, source, os.path.join(work, f"{scn.name}-pub.log"))
        for scn in scns:
            wait_for(f"{scn.name}: stream live", lambda: scn.stream() is not None, 20,
                     scn.procs())
        # The reference's readers start once the stream is live (as its on-publish hook does).
        for scn in scns:
            play = f"rtmp://127.0.0.1:{scn.rtmp_port}/stream/{KEY}"
            for i, sink in enumerate(scn.sinks("ffmpeg")):
                scn.ffmpegs.append(start(
                    ["ffmpeg", "-nostdin", "-loglevel", "error", "-fflags", "nobuffer", "-i",
                     play, "-c", "copy", "-f", "flv", sink_url(sink)],
                    os.path.join(work, f"{scn.name}-ffmpeg{i + 1}.log")))
            if scn.ff_hls:
                out = os.path.join(work, scn.name + "-hls")
                os.makedirs(out)
                scn.ffmpegs.append(start(
                    ["ffmpeg", "-nostdin", "-loglevel", "error", "-fflags", "nobuffer", "-i",
                     play, "-c", "copy", "-f", "hls", "-hls_time", "6", "-hls_list_size", "0",
                     "-hls_segment_filename", os.path.join(out, "%06d.ts"),
                     os.path.join(out, "index.m3u8")],
                    os.path.join(work, f"{scn.name}-ffmpeg-hls.log")))
        every_sink = [s for scn in scns for k in ("sluice", "ffmpeg") for s in scn.sinks(k)]
        every_proc = [nginx] + [p for scn in scns for p in scn.procs()]
        for scn in scns:
            if scn.pushes:
                wait_for(f"{scn.name}: relays live",
                         lambda: [r["state"] for r in scn.relays().values()]
                         == ["live"] * scn.pushes, 20, every_proc)
        wait_for("every sink stream receiving",
                 lambda: all(sink_bytes(stat_port).get(s, 0) > 0 for s in every_sink), 20,
                 every_proc)
        for scn in scns:  # a first segment packaged (and recorded) everywhere
            wait_for(f"{scn.name}: first HLS segment", lambda: urllib.request.urlopen(
                f"http://127.0.0.1:{scn.http_port}/{KEY}/source/index.m3u8", timeout=5).status
                == 200, 20, every_proc)
        print(f"# up: {len(scns)} sluice serve, {len(scns)} publishers, "
              f"{sum(len(s.ffmpegs) for s in scns)} reference ffmpegs, nginx-rtmp sink with "
              f"{len(every_sink)} streams; warming up", flush=True)
        time.sleep(args.warmup)

        # The window, in parts.
        ours = {p.pid for p in every_proc} | set(group_pids(nginx)) | {os.getpid()}
        s0 = {scn.name: snapshot(scn, stat_port, work) for scn in scns}
        all0 = all_cpu_seconds()
        cpu = {scn.name: [] for scn in scns}
        ff_cpu = {scn.name: [] for scn in scns}
        part_s = []
        load = []
        t_start = time.monotonic()
        c_prev = {scn.name: (cpu_seconds(scn.pids()), cpu_seconds([p.pid for p in scn.ffmpegs]))
                  for scn in scns}
        t_prev = t_start
        for i in range(args.parts):
            time.sleep(max(0.0, t_start + args.seconds * (i + 1) / args.parts - time.monotonic()))
            now = time.monotonic()
            c = {scn.name: (cpu_seconds(scn.pids()), cpu_seconds([p.pid for p in scn.ffmpegs]))
                 for scn in scns}
            for scn in scns:
                cpu[scn.name].append(c[scn.name][0] - c_prev[scn.name][0])
                ff_cpu[scn.name].append(c[scn.name][1] - c_prev[scn.name][1])
            part_s.append(now - t_prev)
            load.append(float(open("/proc/loadavg").read().split()[0]))
            c_prev, t_prev = c, now
            print(f"  part {i + 1}/{args.parts}: " + "  ".join(
                f"{scn.name} {cpu[scn.name][-1]:.2f}" for scn in scns) + " CPU s"
                f"  (load {load[-1]:.2f})", flush=True)
        window = time.monotonic() - t_start
        all1 = all_cpu_seconds()
        s1 = {scn.name: snapshot(scn, stat_port, work) for scn in scns}
        rss = {scn.name: rss_mib(scn.pids()) for scn in scns}
        other = other_cpu_seconds(all0, all1, ours)
        pub_cpu = cpu_seconds([scn.publisher.pid for scn in scns])
        nginx_cpu = cpu_seconds(group_pids(nginx))

        problems = []
        for scn in scns:
            check(scn, s0[scn.name], s1[scn.name], window, min_bytes_s, problems)
        if nginx.poll() is not None:
            problems.append(f"nginx exited ({nginx.returncode})")

        # Figures: CPU seconds per minute of stream.
        def per_min(values, seconds):
            return sum(values) / seconds * 60

        total = {scn.name: per_min(cpu[scn.name], window) for scn in scns}
        ff_total = {scn.name: per_min(ff_cpu[scn.name], window) for scn in scns}
        results.update({"window_s": window, "parts_s": part_s, "loadavg_per_part": load,
                        "cpu_s_per_part": cpu, "ffmpeg_cpu_s_per_part": ff_cpu,
                        "cpu_s_per_min": total, "ffmpeg_cpu_s_per_min": ff_total,
                        "rss_mib": rss, "other_processes_cpu_s": other,
                        "checks": {k: {"start": s0[k], "end": s1[k]} for k in s0}})

        print(f"\nper scenario, {window:.1f} s window: CPU-s per minute of stream "
              f"(% of one core), parts {'/'.join(f'{x:.0f}' for x in part_s)} s")
        for scn in scns:
            parts = [c / s * 60 for c, s in zip(cpu[scn.name], part_s)]
            extra = (f"  (ffmpeg {ff_total[scn.name]:.2f}, sluice "
                     f"{total[scn.name] - ff_total[scn.name]:.2f})" if scn.ffmpegs else "")
            print(f"  {scn.name:9s} {total[scn.name]:6.2f} ({total[scn.name] / 60 * 100:5.2f} %)"
                  f"  parts {fmt_range(parts)}  RSS {rss[scn.name]:5.0f} MiB{extra}")

        print("\nmarginal over base (CPU-s per minute of stream; per destination where divided)")
        print(f"  {'':40s} {'sluice':>8s} {'parts':>11s} {'reference':>10s} {'parts':>11s} "
              f"{'ref/sluice':>10s}")
        comparisons = []
        base_parts = cpu["base"]
        for label, ours_name, ref_name, n in COMPARISONS:
            row = {"label": label, "sluice_scenario": ours_name, "reference_scenario": ref_name,
                   "destinations": n}
            for way, name in (("sluice", ours_name), ("reference", ref_name)):
                row[way] = (total[name] - total["base"]) / n
                row[way + "_parts"] = [(c - b) / s * 60 / n for c, b, s in
                                       zip(cpu[name], base_parts, part_s)]
                row[way + "_rss_mib"] = (rss[name] - rss["base"]) / n
            ref = ref_name
            row["reference_ffmpeg"] = ff_total[ref] / n
            row["reference_sluice_extra"] = (total[ref] - ff_total[ref] - total["base"]) / n
            # Below the noise when a part measured it at or under zero: then only a lower
            # bound, against the highest part (or one 10 ms tick per part, if higher).
            tick = 0.01 / (args.seconds / args.parts) * 60 / n
            row["sluice_within_noise"] = min(row["sluice_parts"]) <= 0
            den = (max(max(row["sluice_parts"]), tick) if row["sluice_within_noise"]
                   else row["sluice"])
            row["ratio"] = row["reference"] / den
            # The reference's server is not sluice: its ffmpeg alone, against sluice's way.
            row["ratio_ffmpeg_only"] = row["reference_ffmpeg"] / den
            comparisons.append(row)
            ratio = (f"{'>= ' if row['sluice_within_noise'] else ''}{row['ratio']:.2f}")
            print(f"  {label:40s} {row['sluice']:8.3f} {fmt_range(row['sluice_parts']):>11s} "
                  f"{row['reference']:10.3f} {fmt_range(row['reference_parts']):>11s} {ratio:>10s}")
            only = f"{'>= ' if row['sluice_within_noise'] else ''}{row['ratio_ffmpeg_only']:.2f}"
            print(f"  {'':40s}   reference = ffmpeg {row['reference_ffmpeg']:.3f} + sluice "
                  f"serving the RTMP reader {row['reference_sluice_extra']:.3f} (ffmpeg alone / "
                  f"sluice {only}); RSS {row['sluice_rss_mib']:+.0f} / "
                  f"{row['reference_rss_mib']:+.0f} MiB")
            if row["sluice_within_noise"]:
                print(f"  {'':40s}   sluice's cost is within the noise here (a part measured "
                      f"it at or below zero): the ratio is a lower bound")
        results["comparisons"] = comparisons
        print(f"\nnot counted: publishers {pub_cpu:.1f} CPU s over their life, nginx sink "
              f"{nginx_cpu:.1f}; other processes on the machine during the window: "
              f"{other:.1f} CPU s ({other / window * 100:.0f} % of one core)")

        results["problems"] = problems
        print("\nchecks: " + ("; ".join(problems) if problems else
                              "every process stayed up; every relay live (one connect, no "
                              "failure, no drop) and every sink stream received >= 80 % of "
                              "the input bitrate; recordings grew with nothing dropped"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        return 1 if problems else 0
    finally:
        for scn in scns:
            for p in scn.ffmpegs:
                stop(p)
            stop(scn.publisher)
        for scn in scns:
            stop(scn.sluice)
        stop(nginx)
        for scn in scns:
            log = os.path.join(work, f"{scn.name}-sluice.log")
            # Past the two start-up warnings --auth open and --playback-id key always print.
            lines = [line for line in open(log, errors="replace").read().splitlines()
                     if line and "auth = open" not in line and "playback_id = key" not in line] \
                if os.path.exists(log) else []
            if lines:
                print(f"\n# {scn.name}-sluice.log (last 20 lines):\n" + "\n".join(lines[-20:]))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
