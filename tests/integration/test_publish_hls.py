"""ffmpeg and GStreamer publish over RTMP; the stream is served as HLS that ffprobe reads."""

import os
import re
import subprocess
import unittest

from harness import (Sluice, SluiceTestCase, ffmpeg_publish, ffprobe_json, gst_publish,
                     parse_media_playlist, wait_until)


class PublishToHls(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def test_ffmpeg_publish_serves_hls_with_reference_headers(self):
        sluice = self.start_sluice()
        key = "obs_like_key-1"
        pid = sluice.playback_id(key)
        pub = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=14))
        sluice.wait_master(pid)

        status, headers, body = sluice.get(f"/{pid}/live.m3u8")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/vnd.apple.mpegurl")
        self.assertEqual(headers["Cache-Control"], "max-age=60")
        self.assertEqual(headers["Access-Control-Allow-Origin"], "*")
        self.assertIn("Access-Control-Expose-Headers", headers)
        master = body.decode()
        self.assertTrue(master.startswith("#EXTM3U"))
        inf = re.search(r"#EXT-X-STREAM-INF:(.*)\n(.*)", master)
        self.assertIsNotNone(inf, master)
        attrs = inf.group(1)
        self.assertIn("RESOLUTION=640x360", attrs)
        self.assertRegex(attrs, r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"')
        bandwidth = int(re.search(r"(?<!-)BANDWIDTH=(\d+)", attrs).group(1))
        self.assertGreater(bandwidth, 96_000)  # measured: video + audio + container
        self.assertEqual(inf.group(2), "source/index.m3u8")

        wait_until(lambda: len(parse_media_playlist(
            sluice.get(f"/{pid}/source/index.m3u8")[2].decode())[1]) >= 3, 30,
            what="three segments")
        status, headers, body = sluice.get(f"/{pid}/source/index.m3u8")
        self.assertEqual(headers["Cache-Control"], "no-cache")
        tags, segments = parse_media_playlist(body.decode())
        self.assertIn("#EXT-X-PROGRAM-DATE-TIME", tags)
        target = int(tags["#EXT-X-TARGETDURATION"])
        first_seq = int(tags["#EXT-X-MEDIA-SEQUENCE"])
        self.assertGreater(first_seq, 1_600_000_000_000)  # starts at epoch milliseconds
        for i, (duration, uri, _) in enumerate(segments):
            self.assertEqual(uri, f"{first_seq + i}.ts")
            self.assertLessEqual(round(duration), target)
            self.assertGreater(duration, 1.5)  # 2 s target, 1 s GOPs: cut on a keyframe

        seg_path = f"/{pid}/source/{segments[0][1]}"
        status, headers, seg = sluice.get(seg_path)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "video/mp2t")
        self.assertEqual(headers["Cache-Control"], "max-age=600")
        self.assertEqual(seg[0], 0x47)  # MPEG-TS sync byte
        status, headers, part = sluice.get(seg_path, headers={"Range": "bytes=188-375"})
        self.assertEqual(status, 206)
        self.assertEqual(part, seg[188:376])
        self.assertEqual(headers["Content-Range"], f"bytes 188-375/{len(seg)}")
        status, headers, empty = sluice.get(seg_path, method="HEAD")
        self.assertEqual((status, empty, int(headers["Content-Length"])), (200, b"", len(seg)))
        status, headers, _ = sluice.get(seg_path, method="OPTIONS")
        self.assertEqual(status, 204)
        self.assertIn("GET", headers["Access-Control-Allow-Methods"])
        self.assertIn("Access-Control-Max-Age", headers)

        with open(self.path("seg.ts"), "wb") as f:
            f.write(seg)
        probe = ffprobe_json(self.path("seg.ts"))
        codecs = sorted(s["codec_name"] for s in probe["streams"])
        self.assertEqual(codecs, ["aac", "h264"])

        probe = ffprobe_json(sluice.http_url(f"/{pid}/live.m3u8"))
        self.assertEqual(sorted(s["codec_name"] for s in probe["streams"]), ["aac", "h264"])
        video = next(s for s in probe["streams"] if s["codec_name"] == "h264")
        self.assertEqual((video["width"], video["height"]), (640, 360))

        # The publisher ends: ENDLIST, still served during the grace period.
        self.assertEqual(pub.wait(60), 0, pub.output()[-2000:])
        wait_until(lambda: "#EXT-X-ENDLIST" in sluice.get(f"/{pid}/source/index.m3u8")[2].decode(),
                   15, what="ENDLIST")
        _, segments = parse_media_playlist(sluice.get(f"/{pid}/source/index.m3u8")[2].decode())
        total = sum(d for d, _, _ in segments)
        self.assertGreater(total, 10.0)  # 14 s published, window holds most of it

        # Neither the key nor its playback URL form may appear in the log.
        self.assertNotIn(key, sluice.output())

    def test_gstreamer_rtmp2sink_publish(self):
        sluice = self.start_sluice()
        key = "gstkey"
        pid = sluice.playback_id(key)
        pub = self.track(gst_publish(sluice.rtmp_url(key), self.path("gst.log"), buffers=300))
        sluice.wait_master(pid, timeout=40)
        wait_until(lambda: len(parse_media_playlist(
            sluice.get(f"/{pid}/source/index.m3u8")[2].decode())[1]) >= 2, 30,
            what="two segments")
        probe = ffprobe_json(sluice.http_url(f"/{pid}/source/index.m3u8"))
        video = next(s for s in probe["streams"] if s["codec_type"] == "video")
        self.assertEqual((video["codec_name"], video["width"], video["height"]),
                         ("h264", 320, 240))
        self.assertIn("aac", [s["codec_name"] for s in probe["streams"]])
        pub.wait(60)
        wait_until(lambda: "#EXT-X-ENDLIST" in sluice.get(f"/{pid}/source/index.m3u8")[2].decode(),
                   15, what="ENDLIST after GStreamer EOS")

    def test_repeated_input_timestamps_come_out_rising(self):
        # GStreamer's flvmux repeats audio timestamps under load (seen: 27 of 941 tags in one
        # loaded run, 7 in another, no video). Here ffmpeg repeats every tenth audio
        # timestamp on purpose. The packager's output must rise by a millisecond at least per
        # stream, and AAC frames must not overlap, in MPEG-TS and in fMP4.
        repeat = "setts=ts=if(eq(mod(N\\,10)\\,5)\\,PREV_OUTDTS\\,DTS)"
        for hls_format in ["mpegts", "low-latency"]:
            sluice = self.track(Sluice(self.path(hls_format), "--hls-format", hls_format,
                                       "--dvr", "off"))
            key = f"repeats-{hls_format}"
            pid = sluice.playback_id(key)
            pub = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path(f"{key}.log"),
                                            seconds=10, extra_out=("-bsf:a", repeat)))
            sluice.wait_master(pid)
            wait_until(lambda: len(parse_media_playlist(
                sluice.get(f"/{pid}/source/index.m3u8")[2].decode())[1]) >= 3, 30,
                what="three segments")
            for kind in ["a", "v"]:
                out = subprocess.run(
                    ["ffprobe", "-v", "error", "-select_streams", kind, "-show_entries",
                     "packet=dts_time", "-of", "csv=p=0",
                     sluice.http_url(f"/{pid}/source/index.m3u8")],
                    capture_output=True, text=True, timeout=60)
                times = [float(t.strip(",")) for t in out.stdout.split() if t.strip(",")]
                self.assertGreater(len(times), 50, out.stderr)
                steps = [b - a for a, b in zip(times, times[1:])]
                least = 1024 / 48000 - 0.0015 if kind == "a" else 0.001 - 1e-6
                self.assertGreaterEqual(min(steps), least, (hls_format, kind, steps[:20]))
            pub.wait(60)

    def test_playback_id_key_mode_and_404_body(self):
        sluice = self.start_sluice("--playback-id", "key", "--hls-mirror", "true")
        status, headers, body = sluice.get("/nosuch/live.m3u8")
        self.assertEqual(status, 404)
        self.assertEqual(body.decode(), "nosuch is not streaming live now")
        self.assertEqual(headers["Access-Control-Allow-Origin"], "*")
        self.assertEqual(sluice.get("/healthz")[0], 200)
        self.assertEqual(sluice.get("/../../etc/passwd")[0], 404)
        pub = self.track(ffmpeg_publish(sluice.rtmp_url("compatkey"), self.path("ffmpeg.log"),
                                        seconds=6))
        sluice.wait_master("compatkey")
        pub.wait(60)
        # hls.mirror: the same playlists and segments are written under data_dir/hls.
        mirror = os.path.join(sluice.data_dir, "hls", "compatkey")
        wait_until(lambda: os.path.exists(os.path.join(mirror, "source", "index.m3u8")), 10,
                   what="mirrored playlist")
        self.assertTrue(os.path.exists(os.path.join(mirror, "live.m3u8")))
        with open(os.path.join(mirror, "source", "index.m3u8")) as f:
            _, segments = parse_media_playlist(f.read())
        self.assertTrue(segments)
        self.assertTrue(os.path.exists(os.path.join(mirror, "source", segments[0][1])))


    def test_mirror_of_low_latency_hls(self):
        """hls.mirror with CMAF: init and .m4s files, and playlists without the parts a file
        server could not serve; ffprobe plays the copy on disk."""
        sluice = self.track(Sluice(self.workdir, "--hls-format", "low-latency",
                                   "--hls-mirror", "true"))
        pub = self.track(ffmpeg_publish(sluice.rtmp_url("mirrored"), self.path("ffmpeg.log"),
                                        seconds=8))
        pid = sluice.playback_id("mirrored")
        sluice.wait_master(pid)
        pub.wait(60)
        mirror = os.path.join(sluice.data_dir, "hls", pid)
        playlist = os.path.join(mirror, "source", "index.m3u8")
        wait_until(lambda: os.path.exists(playlist), 10, what="mirrored playlist")
        with open(playlist) as f:
            text = f.read()
        self.assertNotIn("#EXT-X-PART", text)
        self.assertNotIn("#EXT-X-PRELOAD-HINT", text)
        self.assertIn("#EXT-X-MAP:URI=\"init", text)
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        self.assertTrue(segments and all(s.endswith(".m4s") for s in segments), text)
        for name in segments:
            self.assertTrue(os.path.exists(os.path.join(mirror, "source", name)), name)
        probe = ffprobe_json(os.path.join(mirror, "live.m3u8"))
        self.assertEqual({x["codec_type"] for x in probe["streams"]}, {"video", "audio"})


if __name__ == "__main__":
    unittest.main()
