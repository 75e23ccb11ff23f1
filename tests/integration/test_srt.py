"""SRT ingest (libsrt): ffmpeg publishing MPEG-TS with the access-control stream ID and with a
plain key, Debian's srt-live-transmit, passphrase encryption, the same admission as RTMP, and
bad input (malformed stream IDs, garbage and truncated MPEG-TS, stalled callers, a flood of
handshake packets) refused without harm to the stream that is live."""

import os
import socket
import subprocess

from harness import (Process, Sluice, SluiceTestCase, ffmpeg_srt, ffprobe_json, free_udp_port,
                     wait_until)


class Srt(SluiceTestCase):
    def start(self, *extra):
        self.srt_port = free_udp_port()
        return self.track(Sluice(self.workdir, "--srt-listen", f"127.0.0.1:{self.srt_port}",
                                 *extra))

    def url(self, stream_id, extra=""):
        return f"srt://127.0.0.1:{self.srt_port}?streamid={stream_id}{extra}"

    def stream(self, s, pid):
        return next((x for x in s.streams() if x["playback_id"] == pid), None)

    def test_ffmpeg_and_srt_live_transmit_publish(self):
        s = self.start()
        self.track(ffmpeg_srt(self.url("#!::r=stream/access-form,m=publish"), self.path("a.log")))
        self.track(ffmpeg_srt(self.url("plain-key"), self.path("b.log")))
        a, b = s.playback_id("access-form"), s.playback_id("plain-key")
        for pid in (a, b):
            wait_until(lambda: s.get(f"/{pid}/live.m3u8")[0] == 200, 20, what="HLS from SRT")
        info = self.stream(s, a)
        self.assertEqual((info["protocol"], info["remote"]), ("srt", "127.0.0.1"))
        self.assertRegex(s.output(), r"srt#\d+ 127\.0\.0\.1: publishing key acc")
        # What comes out is what went in: H.264 and AAC, through the HLS packaging.
        wait_until(lambda: self.stream(s, a)["audio_frames"] > 0, 10, what="audio")
        probe = ffprobe_json(s.http_url(f"/{a}/source/index.m3u8"))
        codecs = {x["codec_type"]: x["codec_name"] for x in probe["streams"]}
        self.assertEqual(codecs, {"video": "h264", "audio": "aac"})
        self.assertEqual(int(next(x for x in probe["streams"]
                                  if x["codec_type"] == "video")["width"]), 320)
        # RTMP players of an SRT stream get it as from an RTMP publisher.
        probe = ffprobe_json(s.rtmp_url(b), ("-read_intervals", "%+1"))
        self.assertEqual({x["codec_type"] for x in probe["streams"]}, {"video", "audio"})
        # SRT play (m=request): MPEG-TS out, as it came in.
        probe = ffprobe_json(self.url(f"#!::r={a},m=request"), ("-read_intervals", "%+2"))
        streams = {x["codec_type"]: x for x in probe["streams"]}
        self.assertEqual((streams["video"]["codec_name"], streams["video"]["width"]),
                         ("h264", 320))
        self.assertEqual((streams["audio"]["codec_name"], streams["audio"]["sample_rate"]),
                         ("aac", "48000"))
        self.assertRegex(s.output(), rf"srt#\d+ 127\.0\.0\.1: playing {a}")
        wait_until(lambda: "player left" in s.output(), 10, what="the SRT player to leave")
        self.assertEqual(s.metric("sluice_srt_players_active"), 0)

        # srt-live-transmit relaying an MPEG-TS read from its standard input.
        ts = self.path("clip.ts")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine", "-t", "12",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
                        "-f", "mpegts", ts], check=True, timeout=120)
        feeder = self.track(Process(
            ["sh", "-c", f"ffmpeg -hide_banner -loglevel error -re -i {ts} -c copy -f mpegts - | "
             f"srt-live-transmit -q file://con 'srt://127.0.0.1:{self.srt_port}"
             f"?streamid=#!::r=slt-key,m=publish'"], self.path("slt.log")))
        slt_pid = s.playback_id("slt-key")
        wait_until(lambda: s.get(f"/{slt_pid}/live.m3u8")[0] == 200, 20,
                   what="HLS from srt-live-transmit")
        self.assertEqual(self.stream(s, slt_pid)["protocol"], "srt")
        self.assertGreater(s.metric("sluice_srt_received_bytes_total"), 0)
        feeder.stop()

    def test_passphrase(self):
        s = self.start("--srt-passphrase", "correct horse battery")
        self.track(ffmpeg_srt(self.url("secret-ok", "&passphrase=correct horse battery"),
                              self.path("ok.log")))
        ok = s.playback_id("secret-ok")
        wait_until(lambda: s.get(f"/{ok}/live.m3u8")[0] == 200, 20, what="the encrypted stream")
        wrong = self.track(ffmpeg_srt(self.url("secret-wrong", "&passphrase=incorrect horse"),
                                      self.path("wrong.log"), seconds=5))
        none = self.track(ffmpeg_srt(self.url("secret-none"), self.path("none.log"), seconds=5))
        self.assertNotEqual(wrong.wait(30), 0)
        self.assertNotEqual(none.wait(30), 0)
        live = {x["playback_id"] for x in s.streams()}
        self.assertIn(ok, live)
        self.assertNotIn(s.playback_id("secret-wrong"), live)
        self.assertNotIn(s.playback_id("secret-none"), live)

    def test_bad_input_is_refused_without_harm(self):
        keys = self.path("keys.txt")
        with open(keys, "w") as f:
            f.write("good-key\ngarbage-key\nstalled-key\n")
        s = self.start("--auth", f"file:{keys}", "--rtmp-idle-timeout", "3")
        self.track(ffmpeg_srt(self.url("good-key"), self.path("good.log"), seconds=40))
        pid = s.playback_id("good-key")
        wait_until(lambda: s.get(f"/{pid}/live.m3u8")[0] == 200, 20, what="the good stream")

        def send(stream_id, data, name, hold=1):
            """srt-live-transmit sending `data`, then holding the connection `hold` s."""
            path = self.path(f"{name}.bin")
            with open(path, "wb") as f:
                f.write(data)
            return self.track(Process(
                ["sh", "-c", f"(cat {path}; sleep {hold}) | timeout {hold + 2} "
                 f"srt-live-transmit -q file://con "
                 f"'srt://127.0.0.1:{self.srt_port}?streamid={stream_id}'"],
                self.path(f"{name}.log")))

        ts_like = b"\x47" + bytes(187)
        send("#!::r=stream/good-key,m=bidirectional", ts_like * 7, "mode")
        send("#!::r=no-such-stream,m=request", b"", "unknown-play")
        send("live/good-key", ts_like * 7, "app")
        send("#!::r=x,r=y", ts_like * 7, "twice")
        send("not-a-listed-key", ts_like * 7, "unlisted")
        send("garbage-key", os.urandom(1316 * 50), "garbage")
        send("stalled-key", b"", "stalled", hold=8)
        # A flood of datagrams that are not SRT at the listener's port.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for _ in range(2000):
                u.sendto(os.urandom(64), ("127.0.0.1", self.srt_port))
        for text in ("mode 'bidirectional'", "unknown application 'live'", "'r' given twice",
                     "play of unknown stream 'no-such-stream'",
                     "refused: publish of key not",
                     f"publish of {s.playback_id('garbage-key')} ended",
                     f"publish of {s.playback_id('stalled-key')} ended: idle timeout"):
            wait_until(lambda: text in s.output(), 20, what=f"'{text}' in the log")
        self.assertGreaterEqual(s.metric("sluice_srt_connections_refused_total"), 5)
        self.assertGreaterEqual(s.metric("sluice_srt_demux_errors_total"), 1)
        # The good stream went on, and is the only one left.
        before = s.get(f"/{pid}/source/index.m3u8")[2]
        wait_until(lambda: s.get(f"/{pid}/source/index.m3u8")[2] != before, 10,
                   what="the good stream to go on")
        self.assertEqual([x["playback_id"] for x in s.streams()], [pid])
        wait_until(lambda: s.metric("sluice_srt_connections_active") == 1, 15,
                   what="every bad caller to be closed")

if __name__ == "__main__":
    import unittest
    unittest.main()
