"""Recording (DVR): the top rendition of each publish session becomes a VOD, on local disk or
in S3 (a real S3-protocol server, s3rver), and no segment is lost to an S3 outage or a
restart. Every test compares the recording with the live playlist segment by segment, byte
for byte: each live segment is fetched while it is in the live window. With hls.format fmp4
or low-latency the recording is fMP4: segments after their init segments."""

import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import (S3Server, Sluice, SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     free_port, parse_media_playlist, wait_until)


class LiveSegments(threading.Thread):
    """Follows a live media playlist from before its first segment to its EXT-X-ENDLIST and
    fetches every segment (and init segment) it lists while it is listed. Start it before the
    publish; result() waits for the end."""

    def __init__(self, sluice, playback_id, rendition, timeout=90):
        super().__init__(daemon=True)
        self.sluice, self.rendition, self.timeout = sluice, rendition, timeout
        self.base = f"/{playback_id}/{rendition}/"
        self.segments = {}  # sequence number -> bytes
        self.inits = {}     # EXT-X-MAP URI -> bytes
        self.error = None
        self.start()

    def fetch(self, uri):
        status, _, body = self.sluice.get(self.base + uri)
        if status != 200:
            raise AssertionError(f"live {self.base}{uri}: HTTP {status}")
        return body

    def run(self):
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                status, _, body = self.sluice.get(self.base + "index.m3u8")
                text = body.decode() if status == 200 else ""
                for line in text.splitlines():
                    if line.startswith("#EXT-X-MAP:"):
                        uri = line.split('"')[1]
                        if uri not in self.inits:
                            self.inits[uri] = self.fetch(uri)
                for _, uri, _ in parse_media_playlist(text)[1]:
                    n = int(uri.rsplit(".", 1)[0])
                    if n not in self.segments:
                        self.segments[n] = self.fetch(uri)
                if "#EXT-X-ENDLIST" in text:
                    return
                time.sleep(0.3)
            self.error = f"live {self.rendition} playlist did not end in {self.timeout}s"
        except Exception as e:  # reported by result()
            self.error = repr(e)

    def result(self):
        """{sequence number: bytes} of every segment the live playlist listed, once it ended;
        the numbers follow each other without a gap."""
        self.join(self.timeout + 30)
        if self.error or self.is_alive():
            raise AssertionError(self.error or "live playlist follower still running")
        numbers = sorted(self.segments)
        if not numbers or numbers != list(range(numbers[0], numbers[-1] + 1)):
            raise AssertionError(f"live segments not contiguous: {numbers}")
        return self.segments


def recorded_uris(playlist_text):
    return [uri for _, uri, _ in parse_media_playlist(playlist_text)[1]]


def constant_bitrate(rate):
    """ffmpeg output options for x264 at a constant `rate` ("3M"), padded with filler data, so
    segments have a known size."""
    return ("-b:v", rate, "-minrate", rate, "-maxrate", rate, "-bufsize", rate,
            "-x264-params", "nal-hrd=cbr")


def decode_errors(url):
    """What ffmpeg reports decoding all of `url` (empty: every frame decoded cleanly)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-f", "null", "-"],
                         capture_output=True, timeout=120)
    return out.stderr.decode() + ("" if out.returncode == 0 else f"exit {out.returncode}")


class LocalRecording(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def publish_whole(self, sluice, key, rendition):
        """Publishes `key` for 10 s to its end; returns the playback ID and the follower of the
        live playlist of `rendition`, which has every live segment."""
        playback_id = sluice.playback_id(key)
        follower = LiveSegments(sluice, playback_id, rendition)
        publisher = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"),
                                              seconds=10))
        self.assertEqual(publisher.wait(60), 0, publisher.output()[-2000:])
        follower.result()
        return playback_id, follower

    def test_top_rendition_is_recorded_and_played_back_over_http(self):
        # Two small rungs under a 640x360 source: the top one, 240p, is recorded.
        sluice = self.start_sluice("--hls-endlist-delay", "1",
                                   ladder="180p:320x180:300k:600k:64k,240p:426x240:500k:1000k:64k")
        playback_id, follower = self.publish_whole(sluice, "dvr-local", "240p")
        live = sorted(follower.segments)
        self.assertGreaterEqual(len(live), 4)

        def finished():
            done = [r for r in sluice.recordings()
                    if r["playback_id"] == playback_id and r["finished"]
                    and r["segments"] == len(live)]
            return done
        recordings = wait_until(finished, 30, what="the recording to hold every segment")
        self.assertEqual(len(recordings), 1, sluice.recordings())
        recording = recordings[0]
        self.assertEqual(recording["rendition"], "240p")
        self.assertEqual(len(recording["id"]), 8)

        status, headers, body = sluice.get(recording["playlist"])
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/vnd.apple.mpegurl")
        text = body.decode()
        self.assertTrue(text.rstrip().endswith("#EXT-X-ENDLIST"), text)
        self.assertEqual(recorded_uris(text), [f"240p/{n}.ts" for n in live])
        tags, _ = parse_media_playlist(text)
        self.assertEqual(int(tags["#EXT-X-MEDIA-SEQUENCE"]), live[0])
        for n, uri in zip(live, recorded_uris(text)):
            status, headers, body = sluice.get(f"/recordings/{playback_id}/{uri}")
            self.assertEqual(status, 200, uri)
            self.assertEqual(headers["Content-Type"], "video/mp2t")
            self.assertEqual(headers["Cache-Control"], "max-age=31536000")
            self.assertTrue(body == follower.segments[n], f"{uri} differs from live segment {n}")
        self.assertEqual(sluice.get(f"/recordings/{playback_id}/240p/{live[-1] + 1}.ts")[0], 404)
        self.assertEqual(sluice.get(f"/recordings/{playback_id}/180p/{live[0]}.ts")[0], 404)

        probe = ffprobe_json(sluice.http_url(recording["playlist"]))
        video = [s for s in probe["streams"] if s["codec_type"] == "video"][0]
        self.assertEqual((video["width"], video["height"]), (426, 240))
        self.assertGreater(float(probe["format"]["duration"]), 8)
        self.assertEqual(sluice.metric("sluice_dvr_segments_dropped_total"), 0)

    def test_slow_readers_of_a_recording_hold_no_copy_of_it(self):
        sluice = self.start_sluice("--hls-endlist-delay", "1")
        key = "dvr-readers"
        playback_id = sluice.playback_id(key)
        # 8 Mb/s in 2 s segments: about 2 MB each.
        publisher = self.track(ffmpeg_publish(
            sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=7,
            extra_out=constant_bitrate("8M")))
        self.assertEqual(publisher.wait(60), 0)
        recording = wait_until(lambda: [r for r in sluice.recordings()
                                        if r["playback_id"] == playback_id and r["finished"]],
                               30, what="the recording")[0]
        uri = recorded_uris(sluice.get(recording["playlist"])[2].decode())[1]
        path = f"/recordings/{playback_id}/{uri}"
        whole = sluice.get(path)[2]
        self.assertGreater(len(whole), 1_500_000)
        status, headers, part = sluice.get(path, headers={"Range": "bytes=1000-1999"})
        self.assertEqual((status, headers["Content-Range"], part),
                         (206, f"bytes 1000-1999/{len(whole)}", whole[1000:2000]))

        def rss():
            with open(f"/proc/{sluice.pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read())[1]) * 1024

        before = rss()
        stalled = []
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        try:
            for _ in range(200):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", sluice.http_port))
                s.sendall(request * 2)  # two pipelined reads, never read
                stalled.append(s)
            time.sleep(3)
            grown = rss() - before
            # A copy per reader would be 200 x 2 MB; the answers come from the file.
            self.assertLess(grown, 60 * 1024 * 1024, f"RSS grew {grown / 1e6:.0f} MB")
            self.assertEqual(sluice.get(path)[2], whole)
        finally:
            for s in stalled:
                s.close()

    def test_low_latency_streams_are_recorded_in_fmp4(self):
        sluice = self.start_sluice("--hls-format", "low-latency", "--hls-endlist-delay", "1")
        playback_id, follower = self.publish_whole(sluice, "dvr-fmp4", "source")
        live = sorted(follower.segments)
        recording = wait_until(lambda: [r for r in sluice.recordings()
                                        if r["finished"] and r["segments"] == len(live)],
                               30, what="the recording to hold every segment")[0]
        status, _, body = sluice.get(recording["playlist"])
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn("#EXT-X-VERSION:6\n", text)
        self.assertEqual(recorded_uris(text), [f"source/{n}.m4s" for n in live])
        tags, _ = parse_media_playlist(text)
        init = tags["#EXT-X-MAP"].split('"')[1]
        status, headers, body = sluice.get(f"/recordings/{playback_id}/{init}")
        self.assertEqual((status, headers["Content-Type"]), (200, "video/mp4"))
        self.assertEqual(body[4:8], b"ftyp")
        self.assertEqual(len(follower.inits), 1, list(follower.inits))
        self.assertTrue(body == list(follower.inits.values())[0], "init segment differs")
        for n in live:
            status, headers, body = sluice.get(f"/recordings/{playback_id}/source/{n}.m4s")
            self.assertEqual((status, headers["Content-Type"]), (200, "video/iso.segment"))
            self.assertEqual(headers["Cache-Control"], "max-age=31536000")
            self.assertTrue(body == follower.segments[n], f"segment {n} differs from live")
        self.assertEqual(sluice.get(f"/recordings/{playback_id}/source/{live[0]}.ts")[0], 404)
        # The whole VOD decodes, for as long as it was live.
        self.assertEqual(decode_errors(sluice.http_url(recording["playlist"])), "")
        probe = ffprobe_json(sluice.http_url(recording["playlist"]))
        self.assertGreater(float(probe["format"]["duration"]), 8)


class S3Recording(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def check_bucket(self, s3, prefix, playback_id, follower, extension=".ts"):
        """Every live segment is in the bucket once, byte for byte, with the reference's
        metadata, and one finished recording playlist lists them all in order (fMP4: after
        the live init segment). Returns that playlist."""
        live = sorted(follower.segments)
        keys = s3.keys(f"{prefix}/{playback_id}/")
        segments = sorted(int(k.rsplit("/", 1)[1][:-len(extension)])
                          for k in keys if k.endswith(extension))
        self.assertEqual(segments, live)
        playlists = [k for k in keys if k.endswith(".m3u8")]
        self.assertEqual(len(playlists), 1, keys)
        status, headers, body = s3.get(playlists[0])
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/x-mpegURL")
        # Complete: it never changes again, so caches may keep it.
        self.assertEqual(headers["Cache-Control"], "max-age=31536000")
        text = body.decode()
        self.assertTrue(text.rstrip().endswith("#EXT-X-ENDLIST"), text)
        self.assertIn("#EXT-X-PLAYLIST-TYPE:VOD\n", text)
        self.assertEqual(recorded_uris(text), [f"source/{n}{extension}" for n in live])
        for n in live:
            status, headers, body = s3.get(f"{prefix}/{playback_id}/source/{n}{extension}")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Cache-Control"], "max-age=31536000")
            self.assertEqual(headers["Content-Type"],
                             "video/MP2T" if extension == ".ts" else "video/iso.segment")
            self.assertTrue(body == follower.segments[n], f"segment {n} differs from live")
        if extension != ".ts":
            init = parse_media_playlist(text)[0]["#EXT-X-MAP"].split('"')[1]
            status, headers, body = s3.get(f"{prefix}/{playback_id}/{init}")
            self.assertEqual((status, headers["Content-Type"]), (200, "video/mp4"))
            self.assertEqual(len(follower.inits), 1, list(follower.inits))
            self.assertTrue(body == list(follower.inits.values())[0], "init segment differs")
        return text

    def wait_uploaded(self, sluice):
        wait_until(lambda: sluice.metric("sluice_dvr_pending_uploads") == 0
                   and sluice.metric("sluice_dvr_recordings") == 0, 60,
                   what="every upload to finish")

    def publish_through_outage(self, s3, sluice, key, seconds, uploads_first, spooled):
        """Publishes `key` for `seconds`; S3 goes away once `uploads_first` objects are
        uploaded, until `spooled` segments wait in the spool, then comes back. Returns the S3
        server, the playback ID and the live segments, once everything is uploaded."""
        playback_id = sluice.playback_id(key)
        follower = LiveSegments(sluice, playback_id, "source")
        publisher = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"),
                                              seconds=seconds))
        wait_until(lambda: sluice.metric("sluice_dvr_uploads_total") >= uploads_first, 30,
                   what="first uploads")
        s3.stop()
        wait_until(lambda: sluice.metric("sluice_dvr_upload_failures_total") >= 1
                   and sluice.metric("sluice_dvr_pending_uploads") >= spooled, 30,
                   what="uploads to fail and segments to spool")
        s3 = self.track(S3Server(self.workdir, "rec", port=s3.port, name="s3rver-back"))
        self.assertEqual(publisher.wait(60), 0)
        follower.result()
        self.wait_uploaded(sluice)
        return s3, playback_id, follower

    def test_s3_outage_mid_stream_loses_nothing(self):
        s3 = self.track(S3Server(self.workdir, "rec"))
        sluice = self.start_sluice(*s3.sluice_args("vod"), "--hls-endlist-delay", "1")
        s3, playback_id, follower = self.publish_through_outage(s3, sluice, "dvr-outage", 16,
                                                                uploads_first=2, spooled=1)
        self.check_bucket(s3, "vod", playback_id, follower)
        self.assertEqual(sluice.metric("sluice_dvr_segments_dropped_total"), 0)

    def test_a_full_spool_leaves_a_marked_gap_and_growing_playlists_are_not_cached(self):
        s3 = self.track(S3Server(self.workdir, "rec"))
        # A 1 MiB spool holds one segment of this 3 Mb/s stream: while S3 is down, the rest
        # are dropped.
        sluice = self.start_sluice(*s3.sluice_args("vod"), "--hls-endlist-delay", "1",
                                   "--dvr-spool-max-mb", "1")
        key = "dvr-gap"
        playback_id = sluice.playback_id(key)
        publisher = self.track(ffmpeg_publish(
            sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=24,
            extra_out=constant_bitrate("3M")))
        wait_until(lambda: sluice.metric("sluice_dvr_uploads_total") >= 2, 30,
                   what="first uploads")
        # While the recording grows, its playlist in S3 is an EVENT playlist caches must not
        # keep.
        playlist = wait_until(lambda: [k for k in s3.keys("vod/") if k.endswith(".m3u8")], 20,
                              what="the playlist in S3")[0]
        status, headers, body = s3.get(playlist)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Cache-Control"], "max-age=1")
        self.assertIn("#EXT-X-PLAYLIST-TYPE:EVENT\n", body.decode())
        self.assertNotIn("#EXT-X-ENDLIST", body.decode())
        s3.stop()
        wait_until(lambda: sluice.metric("sluice_dvr_segments_dropped_total") >= 2, 30,
                   what="segments dropped for a full spool")
        s3 = self.track(S3Server(self.workdir, "rec", port=s3.port, name="s3rver-back"))
        self.assertEqual(publisher.wait(60), 0)
        self.wait_uploaded(sluice)
        text = s3.get(playlist)[2].decode()
        self.assertIn("#EXT-X-ENDLIST", text)
        numbers, gaps = [], 0
        previous_line = ""
        for line in text.splitlines():
            if line.startswith("source/"):
                n = int(line.split("/")[1].split(".")[0])
                if numbers and n != numbers[-1] + 1:
                    gaps += 1
                    self.assertEqual(marker, "#EXT-X-DISCONTINUITY", f"gap before {n}:\n{text}")
                numbers.append(n)
            elif line.startswith("#EXTINF"):
                marker = previous_line
            previous_line = line
        self.assertGreaterEqual(gaps, 1, text)
        self.assertGreater(numbers[-1], numbers[0] + len(numbers) - 1)

    def test_fmp4_recording_survives_an_outage_with_its_init_segment(self):
        s3 = self.track(S3Server(self.workdir, "rec"))
        sluice = self.start_sluice(*s3.sluice_args("vod"), "--hls-endlist-delay", "1",
                                   "--hls-format", "fmp4")
        # Down from the start: the init segment waits in the spool with the first segment.
        s3, playback_id, follower = self.publish_through_outage(
            s3, sluice, "dvr-fmp4-outage", 12, uploads_first=0, spooled=2)
        self.check_bucket(s3, "vod", playback_id, follower, extension=".m4s")
        # Everything uploaded: nothing is left in the spool.
        spool = os.path.join(sluice.data_dir, "spool")
        left = [f for _, _, files in os.walk(spool) for f in files]
        self.assertEqual(left, [])

    def test_pending_uploads_resume_after_a_restart(self):
        s3_port = free_port()
        args = ["--dvr", "s3://rec/vod", "--dvr-s3-endpoint", f"http://127.0.0.1:{s3_port}",
                "--dvr-s3-access-key", S3Server.ACCESS_KEY,
                "--dvr-s3-secret-key", S3Server.SECRET_KEY, "--hls-endlist-delay", "1"]
        sluice = self.start_sluice(*args)  # S3 is not there at all yet
        key = "dvr-restart"
        playback_id = sluice.playback_id(key)
        follower = LiveSegments(sluice, playback_id, "source")
        publisher = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"),
                                              seconds=8))
        self.assertEqual(publisher.wait(60), 0)
        live = follower.result()
        wait_until(lambda: sluice.metric("sluice_dvr_pending_uploads") == len(live), 20,
                   what="every segment in the spool")
        self.assertEqual(sluice.metric("sluice_dvr_uploads_total"), 0)
        sluice.stop()

        s3 = self.track(S3Server(self.workdir, "rec", port=s3_port))
        again = self.track(Sluice(self.workdir, *args, hls_format=self.hls_format))
        self.wait_uploaded(again)
        self.check_bucket(s3, "vod", playback_id, follower)


if __name__ == "__main__":
    unittest.main()
