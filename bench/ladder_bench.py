#!/usr/bin/env python3
"""The ladder, side by side with the reference's single ffmpeg command, in one run.

  1. Speed, CPU and memory: the reference's exact ffmpeg command (three HLS outputs, printed
     below) and Sluice's ladder (bench/ladder_bench: the TranscodeService of `sluice serve`
     fed from the file as fast as it goes) on the same 720p30 input, one after the other.
     Reports media seconds per wall second, CPU seconds and peak RSS of each process, and the
     ratios. --preset-alone adds Sluice with the reference's encoder settings (no libx264
     tuning); --low-latency S adds Sluice with its encoders' delay bound to S seconds, as
     low-latency mode does (transcode.max_delay, one part: 0.334); --together N then starts
     ffmpeg and Sluice at the same moment N times, so both meet the same machine and their CPU
     ratio does not swing with it.
  2. Quality: SSIM of every rung against the source scaled (bicubic) to that rung's size.
  3. Smart ladder: Sluice with the top rung passed through (the input fits 720p), CPU saved.
  4. Live: `sluice serve` with the smart ladder takes two 720p30 publishers paced in real time
     (ffmpeg -re -c copy) and must keep up: no rung shed, no frame or input dropped.

--source-codec hevc|av1 makes the input HEVC (libx265, MP4) or AV1 (SVT-AV1, Matroska) instead
of H.264 in FLV, at the same size, rate and GOP; both contenders read that file, so the
figures are the ladder from such a source (decode, then the same three H.264 encodes). Steps
3 and 4 are H.264 only: the smart ladder passes only an H.264 top rung through, and ffmpeg
5.1 cannot publish HEVC or AV1 over RTMP.

Usage: bench/ladder_bench.py [--build build] [--seconds 50] [--content pattern|pan]
                             [--source-codec h264|hevc|av1] [--rounds 1] [--preset-alone]
                             [--together N] [--x264-variant OPTIONS] [--low-latency S]
Needs: ffmpeg (scripts/install-deps.sh)."""

import argparse
import glob
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # bench/benchlib.py, however this script is started
from benchlib import cpu_seconds, free_port  # noqa: E402

RUNGS = [  # name, reference box, Sluice size for 16:9, -b:v, maxrate, bufsize, audio
    ("360p", "640:360", (640, 360), "800k", "856k", "1200k", "96k"),
    ("480p", "842:480", (854, 480), "1400k", "1498k", "2100k", "128k"),
    ("720p", "1280:720", (1280, 720), "2800k", "2996k", "4200k", "128k"),
]


def reference_command(source, out, start_number):
    """The reference's ffmpeg ladder exactly (per-output -vf, codecs, GOP, HLS, rate)."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-fflags", "nobuffer",
           "-i", source]
    for name, box, _, bv, maxrate, bufsize, ba in RUNGS:
        w, h = box.split(":")
        os.makedirs(os.path.join(out, name), exist_ok=True)
        cmd += ["-vf", f"scale=w={w}:h={h}:force_original_aspect_ratio=decrease",
                "-c:a", "aac", "-ar", "48000", "-b:a", ba,
                "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-crf", "20",
                "-sc_threshold", "0", "-g", "48", "-keyint_min", "48",
                "-hls_time", "6", "-hls_list_size", "10", "-hls_flags", "delete_segments",
                "-max_muxing_queue_size", "1024", "-start_number", str(start_number),
                "-b:v", bv, "-maxrate", maxrate, "-bufsize", bufsize,
                os.path.join(out, name, "index.m3u8")]
    return cmd


def run_measured(cmd):
    """Runs cmd; returns (wall s, CPU s, peak RSS MiB, stdout) of that process alone."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.wait = lambda *a, **k: 0  # already reaped
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def together(cmds):
    """Starts every command at once; returns the CPU seconds of each, in order."""
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    cpu = {}
    for _ in procs:
        pid, status, usage = os.wait4(-1, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"a contender failed (pid {pid})")
        cpu[pid] = usage.ru_utime + usage.ru_stime
    for p in procs:
        p.wait = lambda *a, **k: 0  # already reaped
    return [cpu[p.pid] for p in procs]


CONTENT = {
    # The test pattern: still bars with a few moving shapes.
    "pattern": "testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t",
    # A camera panning (8 px right and 3 px down per frame) over four copies of a smaller
    # pattern: denser detail, and motion everywhere in the picture.
    "pan": "testsrc2=size=640x360:rate=30,split=4[a][b][c][d];"
           "[a][b][c][d]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,split=4[e][f][g][h];"
           "[e][f][g][h]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0,"
           "scroll=horizontal=0.003:vertical=0.002,crop=1280:720,noise=alls=8:allf=t",
}


# The input's video encoding and container per --source-codec. Same bitrate and 2 s closed
# GOPs throughout; FFmpeg 5.1 writes HEVC and AV1 only into MP4 or Matroska, not FLV.
SOURCE = {
    "h264": ("input.flv", "H.264 (x264 fast)",
             ["-c:v", "libx264", "-preset", "fast", "-b:v", "2500k", "-maxrate", "2500k",
              "-bufsize", "5000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0"]),
    "hevc": ("input-hevc.mp4", "HEVC (x265 fast, MP4)",
             ["-c:v", "libx265", "-preset", "fast", "-b:v", "2500k", "-maxrate", "2500k",
              "-bufsize", "5000k", "-tag:v", "hvc1", "-x265-params",
              "log-level=error:keyint=60:min-keyint=60:scenecut=0:open-gop=0"]),
    # SVT-AV1 1.4 in FFmpeg 5.1: -b:v selects VBR; -g 60 gives a key frame (closed GOP, its
    # default) every 60 pictures; preset 8 is in its real-time range.
    "av1": ("input-av1.mkv", "AV1 (SVT-AV1 preset 8, Matroska)",
            ["-c:v", "libsvtav1", "-preset", "8", "-b:v", "2500k", "-g", "60"]),
}


def make_input(path, seconds, content, codec="h264"):
    # 720p30, 2 s GOPs, 2.5 Mbit/s: a stream an OBS user would send, and one that fits the
    # 720p rung, so the smart ladder can pass it through. Temporal noise everywhere, so a
    # rendition frame scored against the wrong source frame scores clearly lower (see ssim).
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", CONTENT[content],
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:beep_factor=4",
                    "-t", str(seconds)] + SOURCE[codec][2] +
                   ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", path],
                   check=True, env=dict(os.environ, SVT_LOG="1"))  # SVT-AV1's banner: errors only


def concat_segments(files, dest):
    with open(dest, "wb") as out:
        for f in files:
            with open(f, "rb") as src:
                shutil.copyfileobj(src, out)
    return dest


OFFSETS = (-2, -1, 0, 1, 2)


def ssim(rendition_ts, source, width, height, work):
    """SSIM of each frame of the rendition against the source scaled (bicubic) to its size,
    and how its frames lined up with the source's.

    An encoder that duplicates or drops a frame (ffmpeg's CLI duplicates one here, to keep a
    constant frame rate) shifts every later frame against the source, so neither matching by
    index nor by timestamp pairs the right pictures. Each output frame is therefore scored
    against source frames i-2 .. i+2 and its best match counts. The source carries temporal
    noise, so a wrong neighbour scores clearly lower and the best match is the true one; the
    offsets chosen are returned, to show where the shift happened."""
    # Frames are paired by their index: timestamps rewritten as frame numbers in a 1/30 time
    # base. (N/(30*TB) in the FLV's 1/1000 base rounds every third frame to the millisecond
    # after its partner's time, and the ssim filter then pairs it with the frame before.)
    graph = [f"[0:v]split={len(OFFSETS)}" + "".join(f"[o{k}]" for k in range(len(OFFSETS))),
             f"[1:v]scale={width}:{height}:flags=bicubic,split={len(OFFSETS)}"
             + "".join(f"[s{k}]" for k in range(len(OFFSETS)))]
    stats = []
    outputs = []
    for k, d in enumerate(OFFSETS):
        stats.append(os.path.join(work, f"ssim-{k}.log"))
        graph.append(f"[o{k}]trim=start_frame={max(0, -d)},settb=1/30,setpts=N[a{k}];"
                     f"[s{k}]trim=start_frame={max(0, d)},settb=1/30,setpts=N[b{k}];"
                     f"[a{k}][b{k}]ssim=stats_file={stats[-1]}:shortest=1[v{k}]")
        outputs += ["-map", f"[v{k}]", "-f", "null", "-"]
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", rendition_ts, "-i", source,
                          "-filter_complex", ";".join(graph)] + outputs,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("ssim failed: " + out.stderr[-2000:])
    per_offset = []
    for path in stats:
        with open(path) as f:
            per_offset.append([float(m.group(1)) for m in
                               (re.search(r"All:([\d.]+)", line) for line in f) if m])
    # Output frame i against source frame i+d: for d < 0 the output was trimmed by -d frames,
    # so its score sits at index i+d.
    best, chosen = [], {}
    for i in range(len(per_offset[OFFSETS.index(0)])):
        score, d = max((scores[i + min(d, 0)], d) for d, scores in zip(OFFSETS, per_offset)
                       if 0 <= i + min(d, 0) < len(scores))
        best.append(score)
        chosen[d] = chosen.get(d, 0) + 1
    return best, chosen


def probe_size(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True)
    w, h = out.stdout.split()[0].split(",")[:2]  # the first video stream
    return int(w), int(h)


def sluice_rung_files(out, stream, name):
    files = glob.glob(os.path.join(out, stream, name, "*.ts"))
    return sorted(files, key=lambda f: int(os.path.basename(f)[:-3]))


def reference_rung_files(out, name):
    with open(os.path.join(out, name, "index.m3u8")) as f:
        return [os.path.join(out, name, line.strip()) for line in f
                if line.strip().endswith(".ts")]


def live_two_streams(build, source, work, seconds):
    """sluice serve, smart ladder, capacity 2, two paced publishers; returns the findings."""
    rtmp, http = free_port(), free_port()
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([os.path.join(build, "sluice"), "serve",
                               "--rtmp-listen", f"127.0.0.1:{rtmp}",
                               "--http-listen", f"127.0.0.1:{http}",
                               "--data-dir", os.path.join(work, "serve-data"),
                               "--playback-id", "key", "--transcode-smart-passthrough", "true",
                               "--transcode-capacity", "2"], stdout=log, stderr=log)
    pubs = []
    try:
        time.sleep(1)
        start_cpu = cpu_seconds([server.pid])
        t0 = time.monotonic()
        for i in range(2):
            pubs.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i", source,
                 "-c", "copy", "-t", str(seconds), "-f", "flv",
                 f"rtmp://127.0.0.1:{rtmp}/stream/live{i}"]))
        worst = {}
        while any(p.poll() is None for p in pubs):
            time.sleep(2)
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/streams") as r:
                for s in json.load(r)["streams"]:
                    t = s.get("transcode", {})
                    w = worst.setdefault(s["playback_id"], {"shed": 0, "dropped": 0, "input": 0,
                                                            "passthrough": []})
                    w["shed"] = max(w["shed"], t.get("rungs_shed", 0))
                    w["dropped"] = max(w["dropped"], t.get("frames_dropped", 0))
                    w["input"] = max(w["input"], t.get("input_dropped", 0))
                    w["passthrough"] = [r["name"] for r in t.get("rungs", []) if r["passthrough"]]
        wall = time.monotonic() - t0
        cpu = cpu_seconds([server.pid]) - start_cpu
        return {"streams": worst, "server_cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
                "cpu_share_of_2_cores": round(cpu / wall / 2, 2)}
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
            p.wait()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def mean_from(frames, first):
    """Mean per-frame SSIM from frame `first` on."""
    return sum(frames[first:]) / len(frames[first:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=50)
    ap.add_argument("--content", choices=sorted(CONTENT), default="pattern",
                    help="what the input shows (see CONTENT)")
    ap.add_argument("--source-codec", choices=sorted(SOURCE), default="h264",
                    help="the input's video codec (see SOURCE); hevc and av1 skip the smart "
                         "ladder and the live check")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--live-seconds", type=int, default=60)
    ap.add_argument("--threads", type=int, default=0, help="transcode.threads for Sluice")
    ap.add_argument("--x264-variant", default="",
                    help="also run Sluice with these libx264 options for every rung instead of "
                         "the default tuning (e.g. me=dia), in the same rounds, with its speed, "
                         "CPU and SSIM")
    ap.add_argument("--preset-alone", action="store_true",
                    help="also run Sluice with the reference's encoder settings (the preset "
                         "alone, no tuning) in the same rounds")
    ap.add_argument("--low-latency", type=float, default=0,
                    help="also run Sluice with its encoders' delay bound to this many seconds "
                         "(transcode.max_delay; low-latency mode uses one part, 0.334)")
    ap.add_argument("--together", type=int, default=0,
                    help="then N rounds with ffmpeg and Sluice started at the same moment: "
                         "both see the same machine, so their CPU ratio is steadier")
    args = ap.parse_args()
    variants = {}  # contender name -> (what it changes, ladder_bench arguments)
    if args.preset_alone:
        variants["sluice_preset"] = ("libx264 options ''", ["--x264-params", ""])
    if args.x264_variant:
        variants["sluice_variant"] = (f"libx264 options '{args.x264_variant}'",
                                      ["--x264-params", args.x264_variant])
    if args.low_latency:
        variants["sluice_lowlat"] = (f"encoder delay <= {args.low_latency} s",
                                     ["--max-delay", str(args.low_latency)])
    bench_bin = os.path.join(args.build, "ladder_bench")
    work = tempfile.mkdtemp(prefix="sluice-ladder-")
    try:
        h264 = args.source_codec == "h264"
        source = os.path.join(work, SOURCE[args.source_codec][0])
        make_input(source, args.seconds, args.content, args.source_codec)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"{platform.platform()}")
        print(f"sluice: transcode.threads = {args.threads}")
        print(f"input: {args.seconds} s of '{args.content}', 1280x720 30 fps"
              f" {SOURCE[args.source_codec][1]} 2.5 Mbit/s, 2 s GOP, AAC 128k\n")
        print("reference command:\n  " + " ".join(reference_command(source, "OUT", 0)) + "\n")

        # The smart ladder passes only an H.264 top rung through: from another source it would
        # just be the full ladder again.
        names = ("ffmpeg", "sluice") + (("sluice_smart",) if h264 else ()) + tuple(variants)
        results = {name: [] for name in names}

        def sluice_command(name, out):
            return [bench_bin, source, out, "--threads", str(args.threads)] + (
                ["--smart"] if name == "sluice_smart" else []) + (
                variants[name][1] if name in variants else [])

        for r in range(args.rounds):
            for name in names:
                out = os.path.join(work, f"{name}-{r}")
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                if name == "ffmpeg":
                    cmd = reference_command(source, out, 1)
                else:
                    cmd = sluice_command(name, out)
                wall, cpu, rss, _ = run_measured(cmd)
                results[name].append({"wall": wall, "cpu": cpu, "rss": rss, "out": out})
                print(f"round {r} {name:13s} speed {args.seconds / wall:5.2f}x  wall {wall:6.1f} s"
                      f"  cpu {cpu:6.1f} s  peak RSS {rss:6.0f} MiB", flush=True)

        def best(name, key):
            return min(x[key] for x in results[name])

        print("\nsummary (best of rounds):")
        f_wall, s_wall = best("ffmpeg", "wall"), best("sluice", "wall")
        print(f"  speed   ffmpeg {args.seconds / f_wall:.2f}x  sluice {args.seconds / s_wall:.2f}x"
              f"  -> sluice/ffmpeg {f_wall / s_wall:.2f}x faster")
        for name in ("sluice",) + tuple(variants):
            per_round = [f["wall"] / x["wall"] for f, x in zip(results["ffmpeg"], results[name])]
            print(f"  {name} / ffmpeg speed per round: " + ", ".join(f"{r:.2f}" for r in per_round))
        f_cpu, s_cpu = best("ffmpeg", "cpu"), best("sluice", "cpu")
        f_rss, s_rss = best("ffmpeg", "rss"), best("sluice", "rss")
        print(f"  CPU s   ffmpeg {f_cpu:.1f}  sluice {s_cpu:.1f}  ratio sluice/ffmpeg {s_cpu / f_cpu:.2f}")
        print(f"  RSS MiB ffmpeg {f_rss:.0f}  sluice {s_rss:.0f}  ratio sluice/ffmpeg {s_rss / f_rss:.2f}")
        if h264:
            m_wall, m_cpu = best("sluice_smart", "wall"), best("sluice_smart", "cpu")
            print(f"  smart ladder: CPU {m_cpu:.1f} s ({(1 - m_cpu / s_cpu) * 100:.0f}% less than the full"
                  f" ladder), speed {args.seconds / m_wall:.2f}x")
        for name, (params, _) in variants.items():
            p_wall, p_cpu = best(name, "wall"), best(name, "cpu")
            print(f"  {params} for every rung: speed {args.seconds / p_wall:.2f}x"
                  f" ({f_wall / p_wall:.2f}x ffmpeg's), CPU {p_cpu:.1f} s ({p_cpu / f_cpu:.2f} of"
                  f" ffmpeg's, {p_cpu / s_cpu:.2f} of the default ladder's)")

        for r in range(args.together):
            outs = [os.path.join(work, f"together-{r}-{k}") for k in ("ffmpeg", "sluice")]
            for out in outs:
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
            cpu = together([reference_command(source, outs[0], 1), sluice_command("sluice", outs[1])])
            print(f"  together, round {r}: ffmpeg {cpu[0]:.1f} CPU s, sluice {cpu[1]:.1f} CPU s,"
                  f" sluice/ffmpeg {cpu[1] / cpu[0]:.2f}", flush=True)

        print("\nSSIM against the source scaled to each rung (first round):")
        ff_out = results["ffmpeg"][0]["out"]
        sl_out = results["sluice"][0]["out"]
        # Over every frame, and from the first 2 s on: the reference's output starts with
        # its first picture repeated for about 2 s (it waits for audio and video to line up),
        # which costs it the first figure but says nothing about its encoding.
        worst = {"all": 1.0, "steady": 1.0}
        for name, _, _, *_ in RUNGS:
            ff_ts = concat_segments(reference_rung_files(ff_out, name), os.path.join(work, f"ff-{name}.ts"))
            sl_ts = concat_segments(sluice_rung_files(sl_out, "s0", name), os.path.join(work, f"sl-{name}.ts"))
            fw, fh = probe_size(ff_ts)
            sw, sh = probe_size(sl_ts)
            f_frames, f_align = ssim(ff_ts, source, fw, fh, work)
            s_frames, s_align = ssim(sl_ts, source, sw, sh, work)
            parts = (("all", 0, "every frame"), ("steady", 60, "from 2 s on"))
            for part, first, label in parts:
                f_mean, s_mean = mean_from(f_frames, first), mean_from(s_frames, first)
                worst[part] = min(worst[part], s_mean - f_mean)
                print(f"  {name} {label:12s}: ffmpeg {fw}x{fh} {f_mean:.4f}   sluice {sw}x{sh}"
                      f" {s_mean:.4f}   delta {s_mean - f_mean:+.4f}")
            print(f"        frames by source offset: ffmpeg {dict(sorted(f_align.items()))}"
                  f"  sluice {dict(sorted(s_align.items()))}")
            for variant, (params, _) in variants.items():
                v_ts = concat_segments(sluice_rung_files(results[variant][0]["out"], "s0", name),
                                       os.path.join(work, f"v-{name}.ts"))
                v_frames, _ = ssim(v_ts, source, sw, sh, work)
                for part, first, label in parts:
                    f_mean, v_mean = mean_from(f_frames, first), mean_from(v_frames, first)
                    print(f"  {name} {label:12s}: {params} {v_mean:.4f}   delta"
                          f" {v_mean - f_mean:+.4f}")
        print(f"  worst delta (sluice - ffmpeg): every frame {worst['all']:+.4f}, from 2 s on"
              f" {worst['steady']:+.4f} (target >= -0.002)")
        if not h264:
            # The publishers copy the input into FLV, which FFmpeg 5.1 cannot do for HEVC or AV1.
            print(f"\nlive: skipped (H.264 only; the input is {args.source_codec})")
            return
        print(f"\nlive: two 720p30 publishers (-re), smart ladder, {args.live_seconds} s:")
        live = live_two_streams(args.build, source, work, args.live_seconds)
        print("  " + json.dumps(live))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
