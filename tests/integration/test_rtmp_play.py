"""RTMP play with ffmpeg and rtmpdump (librtmp, the client family OBS derives from)."""

import re
import signal
import subprocess
import time
import unittest

from harness import Process, SluiceTestCase, ffmpeg_publish, ffprobe_json, wait_until


class RtmpPlay(SluiceTestCase):
    def test_ffmpeg_and_rtmpdump_play_a_live_stream(self):
        sluice = self.start_sluice()
        key = "playkey"
        pid = sluice.playback_id(key)
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("pub.log"), seconds=20))
        wait_until(lambda: any(s["playback_id"] == pid and s["video_frames"] > 60
                               for s in sluice.streams()), 20, what="publish to be live")

        # ffmpeg as a player: copies 4 s of the live stream to a file.
        out = self.path("ffmpeg-play.flv")
        r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                            "-i", sluice.rtmp_url(pid), "-t", "4", "-c", "copy", "-y", out],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        probe = ffprobe_json(out, extra=["-count_packets"])
        video = next(s for s in probe["streams"] if s["codec_type"] == "video")
        self.assertEqual((video["codec_name"], video["width"]), ("h264", 640))
        self.assertGreater(int(video["nb_read_packets"]), 60)
        self.assertIn("aac", [s["codec_name"] for s in probe["streams"]])

        # rtmpdump (librtmp) records for 4 s, then is interrupted as a user would (it
        # finalises the FLV on SIGINT). librtmp makes the digest handshake only when it has
        # SWF verification data (a hash and a size), as Flash-era players did.
        dump = self.path("rtmpdump.flv")
        log_before = len(sluice.output())
        player = self.track(Process(["rtmpdump", "--live", "-r", sluice.rtmp_url(pid),
                                     "--swfhash", "ab" * 32, "--swfsize", "12345", "-o", dump],
                                    self.path("rtmpdump.log")))
        time.sleep(4)
        player.stop(signal.SIGINT)
        probe = ffprobe_json(dump, extra=["-count_packets"])
        video = next(s for s in probe["streams"] if s["codec_type"] == "video")
        self.assertEqual(video["codec_name"], "h264")
        self.assertGreater(int(video["nb_read_packets"]), 30)
        # The player starts on a keyframe thanks to the GOP cache: the first video packet
        # of the dump is a keyframe.
        frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                                 "-show_entries", "packet=flags", "-of", "csv=p=0",
                                 "-read_intervals", "%+#1", dump],
                                capture_output=True, timeout=30).stdout.decode().split()
        self.assertTrue(frames and frames[0].startswith("K"), frames)
        # The one session since rtmpdump started is its own, and it made the digest handshake
        # (the ffmpeg clients before it make it too, so the whole log would not tell).
        log = sluice.output()[log_before:]
        handshakes = re.findall(r"(rtmp#\d+) [\d.]+: handshake done \((\w+)\)", log)
        self.assertEqual(len(handshakes), 1, handshakes)
        session, handshake = handshakes[0]
        self.assertIn(f"{session} 127.0.0.1: playing {pid}", log)
        self.assertEqual(handshake, "digest", log)

    def test_play_of_unknown_stream_fails_cleanly(self):
        sluice = self.start_sluice()
        r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                            "-i", sluice.rtmp_url("nosuchstream"), "-t", "1", "-f", "null", "-"],
                           capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("play of unknown stream", sluice.output())


if __name__ == "__main__":
    unittest.main()
