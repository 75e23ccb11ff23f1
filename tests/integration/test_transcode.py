"""The adaptive-bitrate ladder: real encoders publish, Sluice transcodes in process, ffprobe
reads every rung and checks sizes, codecs, bitrates, keyframe alignment and A/V sync."""

import json
import re
import subprocess
import unittest

from harness import (Process, SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     parse_media_playlist, wait_until)

DEFAULT_LADDER = ("360p:640x360:856k:1200k:96k:subme=1,480p:854x480:1498k:2100k:128k:subme=1,"
                  "720p:1280x720:2996k:4200k:128k")


def master_variants(text):
    """[(attrs dict, uri)] in order."""
    out = []
    for attrs, uri in re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)", text):
        parsed = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', attrs))
        out.append(({k: v.strip('"') for k, v in parsed.items()}, uri))
    return out


class Ladder(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def start_sluice(self, *extra, max_lag_ms=60000, **kwargs):
        # What these tests check must not hinge on this machine transcoding in real time while
        # other tests run beside them: past max_lag_ms the ladder sheds rungs. The overload
        # test sets the default back.
        return super().start_sluice("--transcode-max-lag-ms", str(max_lag_ms), *extra, **kwargs)

    def fetch(self, sluice, pid, rendition, uri):
        status, _, body = sluice.get(f"/{pid}/{rendition}/{uri}")
        self.assertEqual(status, 200, f"{rendition}/{uri}")
        path = self.path(f"{rendition}-{uri}")
        with open(path, "wb") as f:
            f.write(body)
        return path, body

    def packets(self, path):
        out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_packets",
                              "-show_entries", "packet=codec_type,pts_time,dts_time,flags,size",
                              path], capture_output=True, timeout=60, check=True)
        return json.loads(out.stdout)["packets"]

    def playlist(self, sluice, pid, rendition):
        status, _, body = sluice.get(f"/{pid}/{rendition}/index.m3u8")
        self.assertEqual(status, 200, rendition)
        return parse_media_playlist(body.decode())

    def test_default_ladder_from_720p_is_aligned_and_within_caps(self):
        sluice = self.start_sluice(ladder=DEFAULT_LADDER)
        key = "ladder-720p"
        pid = sluice.playback_id(key)
        pub = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=16,
                                        size="1280x720", gop=60,
                                        extra_out=("-b:v", "4000k", "-ar", "44100")))
        sluice.wait_master(pid, timeout=30)
        master = sluice.get(f"/{pid}/live.m3u8")[2].decode()
        variants = master_variants(master)
        self.assertEqual([uri for _, uri in variants],
                         ["360p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8"], master)
        self.assertEqual([a["RESOLUTION"] for a, _ in variants], ["640x360", "854x480", "1280x720"])
        bandwidths = [int(a["BANDWIDTH"]) for a, _ in variants]
        self.assertEqual(bandwidths, sorted(bandwidths))
        for attrs, _ in variants:
            self.assertRegex(attrs["CODECS"], r"^avc1\.4d40[0-9a-f]{2},mp4a\.40\.2$")
            self.assertEqual(attrs["FRAME-RATE"], "30.000")
            self.assertLessEqual(int(attrs["AVERAGE-BANDWIDTH"]), int(attrs["BANDWIDTH"]))

        # Wait for the publisher to finish so every rung has all its segments.
        self.assertEqual(pub.wait(60), 0, pub.output())
        wait_until(lambda: "#EXT-X-ENDLIST" in sluice.get(f"/{pid}/720p/index.m3u8")[2].decode(),
                   30, what="ENDLIST")
        playlists = {r: self.playlist(sluice, pid, r) for r in ("360p", "480p", "720p")}
        numbers = {r: [uri for _, uri, _ in segs] for r, (_, segs) in playlists.items()}
        self.assertEqual(numbers["360p"], numbers["720p"])
        self.assertEqual(numbers["480p"], numbers["720p"])
        self.assertGreaterEqual(len(numbers["720p"]), 6)

        caps = {"360p": (640, 360, 856, 96), "480p": (854, 480, 1498, 128),
                "720p": (1280, 720, 2996, 128)}
        starts = {}
        for rendition, (width, height, maxrate, audio_kbps) in caps.items():
            segments = playlists[rendition][1]
            video_bits = audio_bits = 0
            duration = 0.0
            for i, (seg_duration, uri, _) in enumerate(segments[:-1]):  # the last is partial
                path, body = self.fetch(sluice, pid, rendition, uri)
                packets = self.packets(path)
                video = [p for p in packets if p["codec_type"] == "video"]
                audio = [p for p in packets if p["codec_type"] == "audio"]
                self.assertTrue(video and audio, f"{rendition}/{uri} has video and audio")
                # Every segment starts on a keyframe at the same time in every rung.
                self.assertIn("K", video[0]["flags"], f"{rendition}/{uri}")
                starts.setdefault(uri, {})[rendition] = float(video[0]["pts_time"])
                keyframes = [float(p["pts_time"]) for p in video if "K" in p["flags"]]
                if i > 0:
                    # Fixed 2 s GOP: one keyframe per 2 s segment.
                    self.assertEqual(len(keyframes), round(seg_duration / 2), f"{rendition}/{uri}")
                video_bits += 8 * sum(int(p["size"]) for p in video)
                audio_bits += 8 * sum(int(p["size"]) for p in audio)
                duration += seg_duration
            probe = ffprobe_json(self.fetch(sluice, pid, rendition, segments[1][1])[0])
            streams = {s["codec_type"]: s for s in probe["streams"]}
            self.assertEqual((streams["video"]["width"], streams["video"]["height"]), (width, height))
            self.assertEqual(streams["video"]["codec_name"], "h264")
            self.assertEqual(streams["video"]["profile"], "Main")
            self.assertEqual(streams["audio"]["codec_name"], "aac")
            self.assertEqual(streams["audio"]["profile"], "LC")
            self.assertEqual(streams["audio"]["sample_rate"], "48000")
            video_kbps = video_bits / duration / 1000
            audio_kbps_measured = audio_bits / duration / 1000
            # CRF capped by VBV: the average stays under maxrate (5% for rounding).
            self.assertLess(video_kbps, maxrate * 1.05, rendition)
            self.assertGreater(video_kbps, maxrate * 0.3, rendition)  # testsrc2 is busy
            self.assertAlmostEqual(audio_kbps_measured, audio_kbps, delta=audio_kbps * 0.15)
        for uri, by_rung in starts.items():
            self.assertEqual(len(set(by_rung.values())), 1, f"segment {uri} starts {by_rung}")
        streams = sluice.streams()
        self.assertEqual(streams, [])  # publisher gone

    def test_small_4x3_source_skips_upscaled_rungs(self):
        sluice = self.start_sluice(ladder=DEFAULT_LADDER)
        key = "ladder-4x3"
        pid = sluice.playback_id(key)
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=8,
                                  size="640x480"))
        sluice.wait_master(pid)
        variants = master_variants(sluice.get(f"/{pid}/live.m3u8")[2].decode())
        self.assertEqual([(a["RESOLUTION"], uri) for a, uri in variants],
                         [("480x360", "360p/index.m3u8"), ("640x480", "480p/index.m3u8")])
        self.assertEqual(sluice.get(f"/{pid}/720p/index.m3u8")[0], 404)

    def test_audio_only_and_video_only_inputs(self):
        sluice = self.start_sluice("--transcode-capacity", "2", ladder=DEFAULT_LADDER)
        audio_pid = sluice.playback_id("audio-only")
        video_pid = sluice.playback_id("video-only")
        self.track(ffmpeg_publish(sluice.rtmp_url("audio-only"), self.path("a.log"), seconds=8,
                                  extra_out=("-vn",)))
        self.track(ffmpeg_publish(sluice.rtmp_url("video-only"), self.path("v.log"), seconds=8,
                                  extra_out=("-an",)))
        sluice.wait_master(audio_pid)
        sluice.wait_master(video_pid)
        audio_master = sluice.get(f"/{audio_pid}/live.m3u8")[2].decode()
        for attrs, uri in master_variants(audio_master):
            self.assertEqual(attrs["CODECS"], "mp4a.40.2", audio_master)
            self.assertNotIn("RESOLUTION", attrs)
        self.assertEqual(len(master_variants(audio_master)), 3)
        video_master = sluice.get(f"/{video_pid}/live.m3u8")[2].decode()
        self.assertEqual([a["RESOLUTION"] for a, _ in master_variants(video_master)], ["640x360"])
        for pid, kinds, rendition in ((audio_pid, {"audio"}, "720p"), (video_pid, {"video"}, "360p")):
            _, segments = self.playlist(sluice, pid, rendition)
            probe = ffprobe_json(self.fetch(sluice, pid, rendition, segments[0][1])[0])
            self.assertEqual({s["codec_type"] for s in probe["streams"]}, kinds)

    def test_audio_and_video_stay_in_sync_over_ten_minutes(self):
        # 600 s of input at ten times real time into one small rung: audio timestamps come from
        # counting resampled samples, video keeps the source's, and both must still end together.
        sluice = self.start_sluice("--transcode-preset", "ultrafast", "--hls-window", "400",
                                   ladder="tiny:160x90:200k:300k:64k")
        key = "ten-minutes"
        pid = sluice.playback_id(key)
        pub = self.track(Process(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-readrate", "10",
             "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
             "-t", "600", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
             "-c:a", "aac", "-b:a", "64k", "-f", "flv", sluice.rtmp_url(key)],
            self.path("ffmpeg.log")))
        self.assertEqual(pub.wait(300), 0, pub.output())
        wait_until(lambda: "#EXT-X-ENDLIST" in sluice.get(f"/{pid}/tiny/index.m3u8")[2].decode(),
                   120, what="ENDLIST")
        _, segments = self.playlist(sluice, pid, "tiny")
        self.assertGreater(sum(d for d, _, _ in segments), 590)
        path, _ = self.fetch(sluice, pid, "tiny", segments[-1][1])
        packets = self.packets(path)
        video = [float(p["pts_time"]) for p in packets if p["codec_type"] == "video"]
        audio = [float(p["pts_time"]) for p in packets if p["codec_type"] == "audio"]
        video_end = max(video) + 1 / 30
        audio_end = max(audio) + 1024 / 48000
        # The source ends both tracks at 600 s; framing alone allows one AAC frame of slack.
        self.assertLess(abs(audio_end - video_end), 1 / 30 + 1024 / 48000,
                        f"audio ends at {audio_end:.3f} s, video at {video_end:.3f} s")
        streams_log = sluice.output()
        self.assertNotIn("input queue over", streams_log)

    def test_resolution_change_mid_stream_replans(self):
        # Two encodes joined without re-encoding: the second half's parameter sets (1280x720)
        # arrive in band, mid-stream, as when an encoder changes its output size.
        parts = []
        for size in ("640x360", "1280x720"):
            part = self.path(f"{size}.ts")
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
                            "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "6",
                            "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                            "-c:a", "aac", part], check=True, timeout=120)
            parts.append(part)
        listing = self.path("parts.txt")
        with open(listing, "w") as f:
            f.writelines(f"file '{p}'\n" for p in parts)
        sluice = self.start_sluice(ladder=DEFAULT_LADDER)
        key = "size-change"
        pid = sluice.playback_id(key)
        pub = self.track(Process(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                                  "-f", "concat", "-safe", "0", "-i", listing, "-c", "copy",
                                  "-f", "flv", sluice.rtmp_url(key)], self.path("ffmpeg.log")))
        sluice.wait_master(pid)
        self.assertEqual(pub.wait(60), 0, pub.output())
        wait_until(lambda: sluice.get(f"/{pid}/720p/index.m3u8")[0] == 200, 30,
                   what="the 720p rung after the source grew")
        self.assertIn("source picture is now 1280x720", sluice.output())
        for rendition in ("360p", "720p"):
            _, segments = self.playlist(sluice, pid, rendition)
            probe = ffprobe_json(self.fetch(sluice, pid, rendition, segments[-1][1])[0])
            video = [s for s in probe["streams"] if s["codec_type"] == "video"][0]
            self.assertEqual(video["height"], int(rendition[:-1]))
        self.assertTrue(sluice.alive())

    def test_smart_ladder_passes_a_fitting_source_through_as_the_top_rung(self):
        sluice = self.start_sluice("--transcode-smart-passthrough", "true", ladder=DEFAULT_LADDER)
        key = "smart"
        pid = sluice.playback_id(key)
        # 720p, 2 s GOPs, under the 720p rung's 2996k cap: it can stand in for that rung.
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=14,
                                  size="1280x720", gop=60,
                                  extra_out=("-b:v", "1500k", "-maxrate", "1500k",
                                             "-bufsize", "1500k", "-sc_threshold", "0")))
        sluice.wait_master(pid, timeout=40)
        streams = sluice.streams()
        rungs = {r["name"]: r for r in streams[0]["transcode"]["rungs"]}
        self.assertTrue(rungs["720p"]["passthrough"])
        self.assertFalse(rungs["360p"]["passthrough"])
        wait_until(lambda: len(self.playlist(sluice, pid, "360p")[1]) >= 3 and
                   len(self.playlist(sluice, pid, "720p")[1]) >= 3, 30, what="three segments")
        uri = self.playlist(sluice, pid, "360p")[1][1][1]
        firsts = {}
        for rendition in ("360p", "720p"):
            path, _ = self.fetch(sluice, pid, rendition, uri)
            video = [p for p in self.packets(path) if p["codec_type"] == "video"]
            self.assertIn("K", video[0]["flags"])
            firsts[rendition] = video[0]["pts_time"]
            probe = ffprobe_json(path)
            profile = [s for s in probe["streams"] if s["codec_type"] == "video"][0]["profile"]
            # The publisher's x264 ultrafast stream is Constrained Baseline; ours is Main.
            self.assertEqual(profile == "Main", rendition == "360p", profile)
        self.assertEqual(firsts["360p"], firsts["720p"])

    def test_capacity_is_advertised_and_excess_streams_get_the_source(self):
        sluice = self.start_sluice("--transcode-capacity", "1", ladder="240p:426x240:400k:600k:64k")
        self.track(ffmpeg_publish(sluice.rtmp_url("first"), self.path("1.log"), seconds=10))
        sluice.wait_master(sluice.playback_id("first"))
        self.track(ffmpeg_publish(sluice.rtmp_url("second"), self.path("2.log"), seconds=10))
        second = sluice.playback_id("second")
        sluice.wait_master(second)
        self.assertIn("source/index.m3u8", sluice.get(f"/{second}/live.m3u8")[2].decode())
        self.assertIn("240p/index.m3u8",
                      sluice.get(f"/{sluice.playback_id('first')}/live.m3u8")[2].decode())
        metrics = sluice.get("/metrics")[2].decode()
        self.assertRegex(metrics, r"\nsluice_transcode_capacity 1\n")
        self.assertRegex(metrics, r"\nsluice_transcode_active 1\n")
        self.assertRegex(metrics, r"\nsluice_transcode_refused_total 1\n")
        streams = {s["playback_id"]: s for s in sluice.streams()}
        rungs = streams[sluice.playback_id("first")]["transcode"]["rungs"]
        self.assertEqual([(r["name"], r["width"], r["height"]) for r in rungs], [("240p", 426, 240)])
        self.assertNotIn("transcode", streams[second])

    def test_overload_sheds_the_top_rung_and_keeps_the_rest(self):
        # A rung this node cannot encode in real time (1080p at x264's slowest preset).
        sluice = self.start_sluice("--transcode-preset", "veryslow", max_lag_ms=3000, ladder=(
            "small:256x144:300k:400k:64k,big:1920x1080:8000k:8000k:128k"))
        key = "overload"
        pid = sluice.playback_id(key)
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=40,
                                  size="1920x1080"))
        # Whether the big rung had a playlist (a segment) before it was shed, polled until then.
        big_had_segments = []

        def shed():
            if sluice.get(f"/{pid}/big/index.m3u8")[0] == 200:
                big_had_segments.append(True)
            return "shedding rung big" in sluice.output()
        wait_until(shed, 60, what="shedding")
        wait_until(lambda: sluice.get(f"/{pid}/live.m3u8")[0] == 200 and "big/" not in
                   sluice.get(f"/{pid}/live.m3u8")[2].decode(), 60, what="master without big")
        streams = sluice.streams()
        self.assertEqual(streams[0]["transcode"]["rungs_shed"], 1)
        shed = [r for r in streams[0]["transcode"]["rungs"] if r["shed"]]
        self.assertEqual([r["name"] for r in shed], ["big"])
        # The small rung keeps going.
        first = self.playlist(sluice, pid, "small")[1][-1][1]
        wait_until(lambda: self.playlist(sluice, pid, "small")[1][-1][1] != first, 20,
                   what="small rung to advance")
        # The shed rung's playlist ends: with EXT-X-ENDLIST if it had segments (a player on it
        # moves to another rung), or it is not there if it never had one.
        status, _, body = sluice.get(f"/{pid}/big/index.m3u8")
        if big_had_segments or status != 404:
            self.assertEqual(status, 200)
            self.assertIn("#EXT-X-ENDLIST", body.decode())


if __name__ == "__main__":
    unittest.main()
