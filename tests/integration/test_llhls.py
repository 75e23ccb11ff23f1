"""Low-latency HLS from `sluice serve`: CMAF parts, blocking playlist reload, preload hints,
delta updates and rendition reports, checked on live output by a validator of the spec's
rules, read by ffmpeg, and fed the query parameters a broken or hostile client sends."""

import concurrent.futures
import json
import subprocess
import time
import unittest

from harness import (SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     wait_until)
from llhls import Playlist, part_number, validate

LADDER = "source,180p:320x180:300k:600k:64k"
TARGET_S = 2  # the harness's hls.segment_duration


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class LowLatencyHls(SluiceTestCase):
    def playlist(self, sluice, path, query=""):
        status, headers, body = sluice.get(path + query, timeout=20)
        self.assertEqual(status, 200, f"{path}{query}: {body[:200]!r}")
        return Playlist(body.decode()), headers

    def test_live_output_keeps_the_low_latency_rules(self):
        sluice = self.start_sluice("--hls-format", "low-latency", "--dvr", "off",
                                   "--hls-endlist-delay", "30",
                                   ladder=LADDER)
        key = "ll-key"
        pid = sluice.playback_id(key)
        pub = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"),
                                        seconds=34))
        sluice.wait_master(pid)
        source = f"/{pid}/source/index.m3u8"
        small = f"/{pid}/180p/index.m3u8"

        status, headers, body = sluice.get(f"/{pid}/live.m3u8")
        master = body.decode()
        self.assertIn('CODECS="avc1.', master)
        self.assertIn("source/index.m3u8", master)

        # The live playlist, polled: every answer keeps the rules.
        wait_until(lambda: len(Playlist(sluice.get(source)[2].decode()).segments) >= 2, 30,
                   what="two segments")
        polls = 0
        seen_parts = set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for path in (source, small):
                pl, headers = self.playlist(sluice, path)
                self.assertEqual(headers["Cache-Control"], "no-cache")
                self.assertEqual(validate(pl, TARGET_S), [], pl.text)
                seen_parts.update(p["uri"] for _, _, p in pl.all_parts())
                polls += 1
            time.sleep(0.25)
        self.assertGreater(polls, 20)

        # /api/streams: each rendition's part target and how late its newest part came,
        # from ingest (so the transcoded rendition's includes its encoding).
        streams = json.loads(sluice.get("/api/streams")[2])["streams"]
        renditions = {r["name"]: r for r in streams[0]["renditions"]}
        self.assertEqual(set(renditions), {"source", "180p"})
        for r in renditions.values():
            self.assertEqual(r["part_target_s"], 0.334)  # hls.part_duration's default
            self.assertGreater(r["part_delay_s"], 0)
            self.assertLess(r["part_delay_s"], 5, r)

        # Parts, init segments and segments are served with their types.
        pl, _ = self.playlist(sluice, source)
        _, _, part = pl.all_parts()[-1]
        status, headers, data = sluice.get(f"/{pid}/source/{part['uri']}")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "video/iso.segment")
        self.assertEqual(headers["Cache-Control"], "max-age=600")
        self.assertEqual(data[4:8], b"moof")
        status, headers, init = sluice.get(f"/{pid}/source/{pl.maps[0]}")
        self.assertEqual((status, headers["Content-Type"]), (200, "video/mp4"))
        self.assertEqual(init[4:8], b"ftyp")
        status, headers, segment = sluice.get(f"/{pid}/source/{pl.segments[-1]['uri']}")
        self.assertEqual((status, headers["Content-Type"]), (200, "video/iso.segment"))
        # A segment is its parts, back to back.
        joined = b"".join(sluice.get(f"/{pid}/source/{p['uri']}")[2]
                          for p in pl.segments[-1]["parts"])
        self.assertEqual(joined, segment)
        # The same number as MPEG-TS is not this stream's.
        self.assertEqual(sluice.get(f"/{pid}/source/{pl.segments[-1]['msn']}.ts")[0], 404)

        # Blocking reload: the next part, then the next whole segment.
        pl, _ = self.playlist(sluice, source)
        msn, index = pl.last_position()
        started = time.monotonic()
        blocked, headers = self.playlist(sluice, source, f"?_HLS_msn={msn}&_HLS_part={index + 1}")
        waited = time.monotonic() - started
        self.assertTrue(blocked.has(msn, index + 1), blocked.text)
        self.assertLess(waited, 3 * TARGET_S)
        self.assertRegex(headers["Cache-Control"], r"^max-age=\d+$")
        self.assertEqual(validate(blocked, TARGET_S), [])
        blocked, _ = self.playlist(sluice, source, f"?_HLS_msn={blocked.next_msn}")
        self.assertEqual(validate(blocked, TARGET_S), [])

        # The preload hint is held until the part exists; the part after it is not there yet.
        pl, _ = self.playlist(sluice, source)
        hinted = pl.hint["URI"]
        after = f"part{part_number(hinted) + 1}.m4s"
        self.assertEqual(sluice.get(f"/{pid}/source/{after}")[0], 404)
        status, headers, data = sluice.get(f"/{pid}/source/{hinted}")
        self.assertEqual(status, 200)
        self.assertEqual(data[4:8], b"moof")
        later, _ = self.playlist(sluice, source)
        self.assertIn(hinted, [p["uri"] for _, _, p in later.all_parts()])

        # Rendition reports name parts that exist in the other rendition.
        self.assertEqual([r["URI"] for r in later.reports], ["../180p/index.m3u8"])
        report = later.reports[0]
        started = time.monotonic()
        other, _ = self.playlist(
            sluice, small, f"?_HLS_msn={report['LAST-MSN']}&_HLS_part={report['LAST-PART']}")
        self.assertLess(time.monotonic() - started, 1.0)  # it exists: no hold
        self.assertTrue(other.has(int(report["LAST-MSN"]), int(report["LAST-PART"])))
        named = [p for m, i, p in other.all_parts()
                 if (m, i) == (int(report["LAST-MSN"]), int(report["LAST-PART"]))]
        self.assertEqual(len(named), 1)
        self.assertEqual(sluice.get(f"/{pid}/180p/{named[0]['uri']}")[0], 200)

        # Delta updates: once the playlist is longer than CAN-SKIP-UNTIL, _HLS_skip=YES lists
        # the same playlist without its oldest segments.
        skip_until = float(later.server_control["CAN-SKIP-UNTIL"])
        wait_until(lambda: sum(s["duration"] for s in Playlist(
            sluice.get(source)[2].decode()).segments) > skip_until + 2 * TARGET_S, 40,
            what="a playlist longer than the skip boundary")
        for _ in range(10):
            pl, _ = self.playlist(sluice, source)
            msn, index = pl.last_position()
            query = f"?_HLS_msn={msn}&_HLS_part={index}"
            full, _ = self.playlist(sluice, source, query)
            delta, _ = self.playlist(sluice, source, query + "&_HLS_skip=YES")
            if full.last_position() == delta.last_position():
                break
        self.assertEqual(full.last_position(), delta.last_position())
        self.assertGreater(delta.skipped, 0, delta.text)
        self.assertEqual(delta.tags["#EXT-X-VERSION"], "9")
        self.assertEqual(delta.tags["#EXT-X-MEDIA-SEQUENCE"], full.tags["#EXT-X-MEDIA-SEQUENCE"])
        self.assertEqual(delta.segments, full.segments[delta.skipped:])
        self.assertEqual(delta.partial, full.partial)
        self.assertEqual(validate(delta, TARGET_S), [])
        # Only what lies before the skip boundary was skipped.
        kept = sum(s["duration"] for s in delta.segments) + sum(
            p["duration"] for p in delta.partial)
        self.assertLess(kept, skip_until + TARGET_S + 0.5)
        self.assertGreaterEqual(kept + full.segments[delta.skipped - 1]["duration"], skip_until)

        # ffmpeg decodes both fMP4 renditions without an error, and their timestamps rise.
        # (-fps_mode vfr: the CLI maps frames onto its own frame-rate grid, and under load it
        # guessed a rate that put two frames in one slot and complained of its own output.)
        for path in (source, small):
            out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i",
                                  sluice.http_url(path), "-t", "4", "-fps_mode", "vfr",
                                  "-f", "null", "-"], capture_output=True, timeout=60)
            self.assertEqual((out.returncode, out.stderr.decode()), (0, ""), path)
            out = subprocess.run(["ffprobe", "-v", "error", "-read_intervals", "%+4",
                                  "-show_entries", "packet=stream_index,dts", "-of", "csv=p=0",
                                  sluice.http_url(path)], capture_output=True, timeout=60)
            last = {}
            for line in out.stdout.decode().split():
                stream, dts = line.split(",")[:2]
                self.assertGreater(int(dts), last.get(stream, -1), f"{path}: stream {stream}")
                last[stream] = int(dts)
            self.assertEqual(len(last), 2, out.stdout.decode()[-500:])
        probe = ffprobe_json(sluice.http_url(f"/{pid}/live.m3u8"))
        self.assertEqual(sorted({s["codec_name"] for s in probe["streams"]}), ["aac", "h264"])

        # Query parameters a broken or hostile client sends: answered at once.
        pl, _ = self.playlist(sluice, source)
        msn, index = pl.last_position()
        for query in ("?_HLS_msn=-1", "?_HLS_msn=abc", "?_HLS_msn=", "?_HLS_part=1",
                      "?_HLS_msn=1&_HLS_msn=2", "?_HLS_msn=9223372036854775807",
                      "?_HLS_msn=99999999999999999999999", f"?_HLS_msn={pl.next_msn + 2}",
                      f"?_HLS_msn={pl.next_msn}&_HLS_part=50", "?_HLS_skip=NO"):
            started = time.monotonic()
            status, headers, _ = sluice.get(source + query)
            self.assertEqual(status, 400, query)
            self.assertEqual(headers["Cache-Control"], "no-cache")
            self.assertLess(time.monotonic() - started, 1.0, query)
        # Long gone is answered at once with the live playlist.
        self.assertEqual(sluice.get(source + "?_HLS_msn=1&_HLS_part=0")[0], 200)

        # Many viewers held at once for the next part: each is answered, and the memory
        # they take comes back.
        pl, _ = self.playlist(sluice, source)
        msn, index = pl.last_position()
        before = rss_kib(sluice.pid)
        query = f"?_HLS_msn={msn}&_HLS_part={index + 1}"

        def held(_):
            status, _, body = sluice.get(source + query, timeout=20)
            return status, Playlist(body.decode()).has(msn, index + 1)

        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(held, range(200)))
        self.assertEqual(results, [(200, True)] * 200)
        self.assertLess(rss_kib(sluice.pid) - before, 64 * 1024)
        wait_until(lambda: sluice.metric("sluice_hls_held_requests") == 0, 10,
                   what="no held requests")

        # The publisher ends. Before ENDLIST, a request for the next part cannot be satisfied:
        # 503 once the hold bound (three target durations) has passed.
        self.assertEqual(pub.wait(60), 0, pub.output()[-2000:])
        # The server may still be flushing the last part (slowly under sanitizers): wait until
        # the stream has left the hub and its playlist stands still.
        wait_until(lambda: all(s["playback_id"] != pid for s in sluice.streams()), 30,
                   what="the stream to leave")

        def settled():
            before = Playlist(sluice.get(source)[2].decode()).last_position()
            time.sleep(1.0)
            return Playlist(sluice.get(source)[2].decode()).last_position() == before

        wait_until(settled, 30, what="the playlist to stand still")
        pl, _ = self.playlist(sluice, source)
        self.assertFalse(pl.ended)
        msn, index = pl.last_position()
        started = time.monotonic()
        status, headers, _ = sluice.get(f"{source}?_HLS_msn={msn}&_HLS_part={index + 1}",
                                        timeout=20)
        waited = time.monotonic() - started
        self.assertEqual(status, 503)
        hold = 3 * int(pl.tags["#EXT-X-TARGETDURATION"])
        self.assertGreater(waited, hold - 0.5)
        self.assertLess(waited, hold + 2)
        self.assertGreaterEqual(sluice.metric("sluice_hls_hold_timeouts_total"), 1)
        # Once it has ended, any blocking request is answered at once, with ENDLIST and no hint.
        wait_until(lambda: Playlist(sluice.get(source)[2].decode()).ended, 45, what="ENDLIST")
        ended, _ = self.playlist(sluice, source, f"?_HLS_msn={msn + 1}&_HLS_part=0")
        self.assertTrue(ended.ended)
        self.assertIsNone(ended.hint)

    def test_hls_js_plays_with_parts_near_the_live_edge(self):
        """hls.js in Chromium, in low-latency mode, on the player page: it sees parts and
        blocking reload, plays 60 s without a stall, and holds back by parts, not segments."""
        sluice = self.start_sluice("--hls-format", "low-latency", "--dvr", "off")
        key = "ll-browser"
        pid = sluice.playback_id(key)
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=110))
        sluice.wait_master(pid)
        result = self.check_low_latency_playback(sluice.http_url("/"), pid, "llhls-player.png")
        # Held back by parts (PART-HOLD-BACK ~1 s), not by segments (HOLD-BACK: 6 s or more).
        self.assertLess(result["median"], 4.0, result)

    def test_fmp4_without_parts(self):
        sluice = self.start_sluice("--hls-format", "fmp4", "--dvr", "off")
        key = "fmp4-key"
        pid = sluice.playback_id(key)
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=12))
        sluice.wait_master(pid)
        source = f"/{pid}/source/index.m3u8"
        wait_until(lambda: len(Playlist(sluice.get(source)[2].decode()).segments) >= 2, 30,
                   what="two segments")
        pl, _ = self.playlist(sluice, source)
        self.assertIsNone(pl.part_target)
        self.assertNotIn("EXT-X-SERVER-CONTROL", pl.text)
        self.assertIsNone(pl.hint)
        self.assertEqual(pl.tags["#EXT-X-VERSION"], "6")
        self.assertEqual(len(pl.maps), 1)
        self.assertTrue(all(s["uri"].endswith(".m4s") and not s["parts"] for s in pl.segments))
        # Blocking parameters are for low-latency playlists only: answered at once.
        started = time.monotonic()
        self.assertEqual(sluice.get(f"{source}?_HLS_msn={pl.next_msn + 1}")[0], 200)
        self.assertLess(time.monotonic() - started, 1.0)
        out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", sluice.http_url(source),
                              "-t", "3", "-f", "null", "-"], capture_output=True, timeout=60)
        self.assertEqual((out.returncode, out.stderr.decode()), (0, ""))


if __name__ == "__main__":
    unittest.main()
