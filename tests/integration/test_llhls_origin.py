"""Low-latency HLS through `sluice origin`: a real redis-server, one `sluice serve` node in
low-latency mode with a ladder, and an origin. The validator's rules hold on what the origin
answers; a lone poller always gets a newer playlist; blocking reloads and preload-hint parts
are held and coalesced into one upstream request however many viewers ask; the _HLS_ query is
canonical in the cache key; and hls.js plays through the origin with parts."""

import concurrent.futures
import time
import unittest

from harness import Origin, Redis, Sluice, SluiceTestCase, ffmpeg_publish, wait_until
from llhls import Playlist, validate

LADDER = "source,180p:320x180:300k:600k:64k"
TARGET_S = 2  # the harness's hls.segment_duration
UPSTREAM = "sluice_origin_upstream_requests_total"
FOLLOW = "sluice_origin_follow_requests_total"


class LowLatencyThroughOrigin(SluiceTestCase):
    def playlist(self, role, path, query=""):
        status, headers, body = role.get(path + query, timeout=20)
        self.assertEqual(status, 200, f"{path}{query}: {body[:200]!r}")
        return Playlist(body.decode()), headers

    def herd(self, path, count):
        """`count` viewers ask the origin for `path` at once; returns their answers."""
        def one(_):
            status, headers, body = self.origin.get(path, timeout=30)
            return status, headers.get("X-Cache"), body

        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, range(count)))

    def test_origin_serves_low_latency_hls(self):
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-ttl", "3", "--registry-resync", "0.5")
        server = self.track(Sluice(self.path("server"), *fleet, "--hls-format", "low-latency",
                                   "--dvr", "off", ladder=LADDER))
        self.origin = origin = self.track(Origin(self.workdir, *fleet))
        key = "ll-origin"
        pid = server.playback_id(key)
        self.track(ffmpeg_publish(server.rtmp_url(key), self.path("ffmpeg.log"), seconds=150))
        server.wait_master(pid)
        source, small = f"/{pid}/source/index.m3u8", f"/{pid}/180p/index.m3u8"
        wait_until(lambda: origin.get(source)[0] == 200 and len(
            Playlist(origin.get(source)[2].decode()).segments) >= 2, 30,
            what="two segments through the origin")

        # A lone viewer polling each rendition gets a newer playlist every time, and every
        # answer keeps the rules.
        last = {}
        for _ in range(3):
            for path in (source, small):
                pl, headers = self.playlist(origin, path)
                self.assertEqual(headers["Cache-Control"], "no-cache")
                self.assertEqual(validate(pl, TARGET_S), [], pl.text)
                if path in last:
                    self.assertGreater(pl.last_position(), last[path], path)
                last[path] = pl.last_position()
            time.sleep(1.5)

        # Parts, init segments and segments, with their types; the origin's bytes are the
        # server's.
        pl, _ = self.playlist(origin, source)
        _, _, part = pl.all_parts()[-1]
        status, headers, data = origin.get(f"/{pid}/source/{part['uri']}")
        self.assertEqual((status, headers["Content-Type"]), (200, "video/iso.segment"))
        self.assertEqual(headers["Cache-Control"], "max-age=600")
        self.assertEqual(data, server.get(f"/{pid}/source/{part['uri']}")[2])
        status, headers, init = origin.get(f"/{pid}/source/{pl.maps[0]}")
        self.assertEqual((status, headers["Content-Type"], init[4:8]), (200, "video/mp4", b"ftyp"))
        segment = f"/{pid}/source/{pl.segments[-1]['uri']}"
        status, headers, data = origin.get(segment)
        self.assertEqual((status, headers["Content-Type"], data[4:8]),
                         (200, "video/iso.segment", b"moof"))
        self.assertEqual(origin.get(segment)[1]["X-Cache"], "HIT")

        # Names far outside the live window are answered without asking the server: made-up
        # names cost it nothing.
        last_segment = int(pl.segments[-1]["uri"].split(".")[0])
        last_part = int(part["uri"][len("part"):].split(".")[0])
        names = ([f"{last_segment - 50 - i}.m4s" for i in range(100)]
                 + [f"{last_segment + 50 + i}.m4s" for i in range(100)]
                 + [f"part{last_part - 200 - i}.m4s" for i in range(100)]
                 + [f"part{last_part + 200 + i}.m4s" for i in range(100)])
        upstream, follows = origin.metrics(UPSTREAM, FOLLOW)
        for name in names:
            self.assertEqual(origin.get(f"/{pid}/source/{name}")[0], 404, name)
        upstream_after, follows_after = origin.metrics(UPSTREAM, FOLLOW)
        self.assertLessEqual((upstream_after - upstream) - (follows_after - follows), 5)
        self.assertGreaterEqual(origin.metric("sluice_origin_outside_window_total"), 395)

        # A blocking reload through the origin: held until the part exists, then answered
        # with the server's Cache-Control (cacheable, the URL names a future state).
        pl, _ = self.playlist(origin, source)
        msn, index = pl.last_position()
        started = time.monotonic()
        blocked, headers = self.playlist(origin, source, f"?_HLS_msn={msn}&_HLS_part={index + 1}")
        self.assertLess(time.monotonic() - started, 3 * TARGET_S)
        self.assertTrue(blocked.has(msn, index + 1), blocked.text)
        self.assertRegex(headers["Cache-Control"], r"^max-age=\d+$")
        self.assertEqual(validate(blocked, TARGET_S), [])
        # The same request written another way is the same cache entry.
        _, headers = self.playlist(origin, source,
                                   f"?_HLS_part={index + 1}&player=x&_HLS_msn=0{msn}")
        self.assertEqual(headers["X-Cache"], "HIT")

        # A herd of viewers blocking on the next part: one upstream request answers them all
        # (besides those with which the origin follows the playlist while it is watched). Asked
        # as hls.js asks (with _HLS_skip=YES), the herd shares the origin's own request, so it
        # may need none of its own.
        def own_requests():
            upstream, follow = origin.metrics(UPSTREAM, FOLLOW)
            return upstream - follow

        for skip in ("", "&_HLS_skip=YES"):
            pl, _ = self.playlist(origin, source)
            msn, index = pl.last_position()
            query = f"?_HLS_msn={msn}&_HLS_part={index + 1}{skip}"
            before = own_requests()
            answers = self.herd(source + query, 200)
            self.assertEqual({a[0] for a in answers}, {200})
            self.assertTrue(all(Playlist(a[2].decode()).has(msn, index + 1) for a in answers))
            if skip:
                self.assertLessEqual(own_requests() - before, 1, query)
            else:
                self.assertEqual(own_requests() - before, 1, query)
        self.assertGreater(origin.metric(FOLLOW), 0)

        # The live playlist through the origin is never older than the newest part: what the
        # server lists just before, the origin lists too (given the moment the origin's own
        # blocking request takes to come back).
        for _ in range(20):
            newest = Playlist(server.get(source)[2].decode()).last_position()
            seen = self.playlist(origin, source)[0].last_position()
            if seen < newest:
                time.sleep(0.1)
                seen = self.playlist(origin, source)[0].last_position()
            self.assertGreaterEqual(seen, newest)
            time.sleep(0.13)

        # A herd asking for the part the preload hint names: one upstream request, and every
        # viewer gets the part's bytes.
        blocked = Playlist(self.herd(source + query, 1)[0][2].decode())
        hinted = f"/{pid}/source/{blocked.hint['URI']}"
        before = own_requests()
        answers = self.herd(hinted, 100)
        self.assertEqual({a[0] for a in answers}, {200})
        self.assertEqual(len({a[2] for a in answers}), 1)
        self.assertEqual(answers[0][2][4:8], b"moof")
        self.assertEqual(own_requests() - before, 1)
        self.assertEqual(answers[0][2], server.get(hinted)[2])
        wait_until(lambda: origin.metric("sluice_origin_held_requests") == 0, 10,
                   what="no held requests at the origin")

        # Bad input: a malformed query is refused by the origin itself; the server's answers
        # to a request too far ahead are passed on, not cached.
        before = own_requests()
        for query in ("?_HLS_msn=-1", "?_HLS_msn=abc", "?_HLS_part=1", "?_HLS_skip=NO",
                      "?_HLS_msn=99999999999999999999999"):
            status, headers, _ = origin.get(source + query)
            self.assertEqual((status, headers["Cache-Control"]), (400, "no-cache"), query)
        self.assertEqual(own_requests() - before, 0)
        pl, _ = self.playlist(origin, source)
        far = f"?_HLS_msn={pl.next_msn + 2}"
        before = own_requests()
        for _ in range(2):
            started = time.monotonic()
            self.assertEqual(origin.get(source + far)[0], 400)
            self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(own_requests() - before, 2)

        # A delta update through the origin.
        pl, _ = self.playlist(origin, source)
        msn, index = pl.last_position()
        delta, _ = self.playlist(origin, source, f"?_HLS_msn={msn}&_HLS_part={index}&_HLS_skip=YES")
        self.assertEqual(validate(delta, TARGET_S), [])

        # hls.js through the origin: parts, blocking reload, no stall, near the live edge.
        result = self.check_low_latency_playback(origin.http_url("/"), pid,
                                                 "llhls-origin-player.png")
        self.assertLess(result["median"], 4.0, result)


if __name__ == "__main__":
    unittest.main()
