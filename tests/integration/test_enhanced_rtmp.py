"""Enhanced RTMP in: the spec lab's own AV1 + Opus clips, HEVC from libx265 and AV1 from
SVT-AV1 (Debian's ffmpeg) wrapped into Enhanced RTMP by `sluice publish`. Out: the source
passed through in fMP4 with its CODECS, the H.264/AAC ladder decoded from it (ffprobe and
ffmpeg decode every rendition; hls.js in Chromium plays the ladder of an AV1 source), the
recording in the source's codecs, and a clear refusal for a legacy RTMP player instead of a stream it cannot decode."""

import os
import subprocess
import unittest

import urllib.parse

import signal

from harness import (SLUICE, NginxRtmp, Process, Proxy, Redis, Sluice, SluiceTestCase,
                     ffprobe_json, free_udp_port, wait_until)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/eflv")
RUNG_360P = "360p:640x360:856k:1200k:96k"


def sluice_publish(url, path, log_path, loops=1):
    return Process([SLUICE, "publish", path, url, "--loop", str(loops)], log_path)


def encode(path, video_args, audio_args, seconds=4, size="640x360"):
    """A short test pattern with a tone, encoded by the ffmpeg CLI into `path`."""
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-t", str(seconds), *video_args, *audio_args, path],
                   check=True, timeout=120)
    return path


class EnhancedRtmp(SluiceTestCase):
    def codecs(self, sluice, playback_id, rendition):
        """The codec names ffprobe reads from a rendition's playlist (video first)."""
        info = ffprobe_json(sluice.http_url(f"/{playback_id}/{rendition}/index.m3u8"))
        kinds = {s["codec_type"]: s for s in info["streams"]}
        return tuple(kinds[k]["codec_name"] for k in ("video", "audio") if k in kinds), kinds

    def decodes(self, sluice, playback_id, rendition):
        """ffmpeg decodes three seconds of the rendition without an error."""
        out = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
                              "-i", sluice.http_url(f"/{playback_id}/{rendition}/index.m3u8"),
                              "-t", "3", "-f", "null", "-"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr.decode()[-2000:])
        self.assertEqual(out.stderr.decode().strip(), "")

    def variants(self, sluice, playback_id):
        """{rendition: its EXT-X-STREAM-INF line} of the master playlist."""
        lines = sluice.get(f"/{playback_id}/live.m3u8")[2].decode().splitlines()
        return {lines[i + 1].split("/")[0]: line for i, line in enumerate(lines)
                if line.startswith("#EXT-X-STREAM-INF")}

    def test_av1_opus_clip_from_the_spec_lab(self):
        sluice = self.start_sluice(ladder=f"{RUNG_360P},source")
        self.track(sluice_publish(sluice.rtmp_url("lab"), os.path.join(FIXTURES, "testsrc.flv"),
                                  self.path("publish.log"), loops=4))
        pid = sluice.playback_id("lab")
        sluice.wait_master(pid, timeout=60)
        variants = self.variants(sluice, pid)
        self.assertEqual(sorted(variants), ["360p", "source"])
        # The source as it came: AV1 (profile 1 as the clip's av1C says) and Opus.
        self.assertIn('CODECS="av01.1.04M.08,Opus"', variants["source"])
        self.assertIn("RESOLUTION=980x540", variants["source"])
        self.assertRegex(variants["360p"], r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"')
        codecs, streams = self.codecs(sluice, pid, "source")
        self.assertEqual(codecs, ("av1", "opus"))
        self.assertEqual((streams["video"]["width"], streams["video"]["height"]), (980, 540))
        self.assertEqual(self.codecs(sluice, pid, "360p")[0], ("h264", "aac"))
        for rendition in ("source", "360p"):
            self.decodes(sluice, pid, rendition)
        # A thumbnail is decoded from the AV1 keyframe.
        status, headers, _ = sluice.get(f"/{pid}/thumbnail.jpg")
        self.assertEqual((status, headers["Content-Type"]), (200, "image/jpeg"))

        # ffmpeg 5.1's RTMP player announces no Enhanced RTMP codec: it is refused, saying why.
        out = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i",
                              sluice.rtmp_url(pid), "-t", "2", "-f", "null", "-"],
                             capture_output=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("did not announce", out.stderr.decode())
        self.assertIn("which the other side did not announce", sluice.output())
        # rtmpdump (librtmp) too.
        out = subprocess.run(["rtmpdump", "-r", sluice.rtmp_url(pid), "-o", os.devnull,
                              "-B", "2"], capture_output=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("NetStream.Play.Failed", out.stderr.decode())

    def test_hevc_from_x265_and_av1_from_svt_av1(self):
        sluice = self.start_sluice(ladder=f"{RUNG_360P},source")
        hevc = encode(self.path("hevc.mp4"),
                      ["-c:v", "libx265", "-x265-params", "log-level=error:keyint=30"],
                      ["-c:a", "libopus", "-b:a", "64k"])
        av1 = encode(self.path("av1.mkv"), ["-c:v", "libsvtav1", "-g", "30"],
                     ["-c:a", "aac", "-b:a", "96k"])
        for key, path, source_codecs, codec_prefix in (
                ("hevc", hevc, ("hevc", "opus"), 'CODECS="hvc1.1.6.L'),
                ("av1", av1, ("av1", "aac"), 'CODECS="av01.0.')):
            publisher = self.track(sluice_publish(sluice.rtmp_url(key), path,
                                                  self.path(f"{key}.log"), loops=5))
            pid = sluice.playback_id(key)
            sluice.wait_master(pid, timeout=60)
            variants = self.variants(sluice, pid)
            self.assertIn(codec_prefix, variants["source"])
            self.assertIn("RESOLUTION=640x360", variants["source"])
            self.assertEqual(self.codecs(sluice, pid, "source")[0], source_codecs)
            self.assertEqual(self.codecs(sluice, pid, "360p")[0], ("h264", "aac"))
            for rendition in ("source", "360p"):
                self.decodes(sluice, pid, rendition)
            publisher.stop()
            wait_until(lambda: not any(s["playback_id"] == pid for s in sluice.streams()), 20,
                       what=f"{key} to end")
            # The recording keeps the source's codecs, in fMP4.
            recording = wait_until(lambda: [r for r in sluice.recordings()
                                            if r["playback_id"] == pid and r["finished"]],
                                   30, what=f"the recording of {key}")[0]
            self.assertEqual(recording["rendition"], "source")
            info = ffprobe_json(sluice.http_url(recording["playlist"]))
            self.assertEqual(tuple(s["codec_name"] for s in info["streams"]), source_codecs)

    def test_hevc_and_opus_over_srt_from_ffmpeg(self):
        # The same encoders over SRT, in MPEG-TS as every SRT encoder sends: parameter sets in
        # band (the server builds the hvcC), Opus with the demuxer's identification header.
        port = free_udp_port()
        sluice = self.start_sluice("--srt-listen", f"127.0.0.1:{port}",
                                   ladder=f"{RUNG_360P},source")
        self.track(Process(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-re",
                            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                            "-t", "40", "-c:v", "libx265", "-preset", "ultrafast",
                            "-x265-params", "log-level=error:keyint=30", "-c:a", "libopus",
                            "-b:a", "64k", "-f", "mpegts",
                            f"srt://127.0.0.1:{port}?streamid=srt-hevc"],
                           self.path("ffmpeg.log")))
        pid = sluice.playback_id("srt-hevc")
        sluice.wait_master(pid, timeout=60)
        variants = self.variants(sluice, pid)
        self.assertIn('CODECS="hvc1.1.6.L', variants["source"])
        self.assertIn(",Opus", variants["source"])
        self.assertEqual(self.codecs(sluice, pid, "source")[0], ("hevc", "opus"))
        self.assertEqual(self.codecs(sluice, pid, "360p")[0], ("h264", "aac"))
        for rendition in ("source", "360p"):
            self.decodes(sluice, pid, rendition)
        # SRT play sends MPEG-TS with H.264 and AAC only: it says so rather than send garbage.
        out = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "5000000",
                              f"srt://127.0.0.1:{port}?streamid=#!::r={pid},m=request"],
                             capture_output=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        wait_until(lambda: "SRT play sends H.264 and AAC only" in sluice.output(), 15,
                   what="the SRT player's refusal")

    def test_relays_send_av1_only_to_a_destination_that_announced_it(self):
        # A second Sluice announces av01 and Opus in its connect answer and gets the copy;
        # nginx-rtmp (standing in for a legacy destination) announces nothing: its relay
        # stops, saying why, instead of sending what it cannot decode.
        b = self.track(Sluice(self.path("b")))
        nginx = self.track(NginxRtmp(self.workdir, app="live2"))
        a = self.start_sluice("--relay-youtube-url",
                              f"rtmp://127.0.0.1:{nginx.port}/live2/{{key}}")
        push = urllib.parse.quote(b.rtmp_url("relayed"), safe="")
        self.track(sluice_publish(a.rtmp_url("lab") + f"?push={push}&youtube=yt-key",
                                  os.path.join(FIXTURES, "testsrc.flv"), self.path("publish.log"),
                                  loops=4))
        pid = a.playback_id("lab")

        def relays():
            return {r["destination"]: r for s in a.streams() if s["playback_id"] == pid
                    for r in s.get("relays", [])}

        wait_until(lambda: "did not announce" in relays().get("youtube", {}).get("last_error", ""),
                   30, what="the legacy destination's relay to stop")
        self.assertRegex(relays()["youtube"]["last_error"], r"stream is (av1|opus)")
        relayed = b.playback_id("relayed")
        b.wait_master(relayed, timeout=60)
        self.assertEqual(relays()["push1"]["state"], "live")
        self.assertEqual(self.codecs(b, relayed, "source")[0], ("av1", "opus"))

    def test_draining_server_moves_its_publisher_with_a_reconnect_request(self):
        # Through the fleet's door: a drained server asks its Enhanced RTMP publisher to
        # reconnect; `sluice publish` does, at a keyframe, through the proxy, which places it
        # on the other server; the first exits once its publisher has gone.
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-ttl", "3", "--registry-resync", "0.5")
        a = self.track(Sluice(self.path("a"), *fleet, "--max-streams", "2",
                              "--drain-timeout", "60"))
        b = self.track(Sluice(self.path("b"), *fleet, "--max-streams", "1"))
        proxy = self.track(Proxy(self.workdir, *fleet, "--playback-secret", a.secret,
                                 "--proxy-health-interval", "0.5"))
        wait_until(lambda: proxy.metric("sluice_proxy_servers") == 2, 10, what="both servers")
        publisher = self.track(sluice_publish(proxy.rtmp_url("moving"),
                                              os.path.join(FIXTURES, "testsrc.flv"),
                                              self.path("publish.log"), loops=6))
        pid = a.playback_id("moving")

        def holds(server):
            try:
                return server.alive() and any(x["playback_id"] == pid for x in server.streams())
            except OSError:  # the drained server exited between the two questions
                return False

        def holders():
            return [s for s in (a, b) if holds(s)]

        wait_until(lambda: holders() == [a], 15, what="the stream on a (the most room)")
        a.wait_master(pid, timeout=60)
        a.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: holders() == [b], 30, what="the publisher to move to b")
        self.assertEqual(a.wait(30), 0)
        self.assertIn("asked the publisher to reconnect", a.output())
        self.assertIn("drain: no publisher left", a.output())
        self.assertTrue(publisher.alive())
        self.assertIn("reconnected", publisher.output())
        b.wait_master(pid, timeout=60)
        self.assertEqual(self.codecs(b, pid, "source")[0], ("av1", "opus"))

    def test_mpegts_mode_serves_the_h264_ladder_of_an_av1_source_to_hls_js(self):
        # MPEG-TS cannot carry AV1 for browsers: no source rendition, only the ladder, which
        # hls.js in Chromium plays (live, switching rendition, and the recording).
        sluice = self.start_sluice("--hls-format", "mpegts",
                                   ladder="180p:320x180:300k:600k:64k,240p:426x240:500k:1000k:64k,"
                                          "source")
        self.track(sluice_publish(sluice.rtmp_url("web"), os.path.join(FIXTURES, "testsrc.flv"),
                                  self.path("publish.log"), loops=12))
        pid = sluice.playback_id("web")
        sluice.wait_master(pid, timeout=60)
        self.assertEqual(sorted(self.variants(sluice, pid)), ["180p", "240p"])
        self.assertEqual(self.codecs(sluice, pid, "240p")[0], ("h264", "aac"))
        # The clip is 980x540: its rungs keep that shape.
        self.check_player_page(sluice.http_url("/"), pid, "enhanced-rtmp-web", heights=(176, 234))


if __name__ == "__main__":
    unittest.main()
