"""A fleet on loopback: a real redis-server, two `sluice serve` nodes and one `sluice origin`.
Playback through the origin, a stream moving between servers, Redis restarted mid-stream, a
server killed, and a herd of first requests coalesced into one upstream request."""

import json
import os
import re
import signal
import socket
import threading
import time
import unittest
import urllib.request

from harness import (Origin, Redis, Sluice, SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     parse_media_playlist, wait_until)
from llhls import Playlist, part_number, validate

TTL = "3"  # seconds: a dead server's entries vanish quickly in tests


class Fleet(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def start_fleet(self, servers=2, ladder="source", hls_format=None):
        self.redis = self.track(Redis(self.workdir))
        fleet_args = ("--registry", self.redis.url, "--registry-ttl", TTL,
                      "--registry-resync", "0.5")
        self.servers = [self.track(Sluice(self.path(f"server{i}"), *fleet_args, ladder=ladder,
                                          hls_format=hls_format or self.hls_format))
                        for i in range(servers)]
        self.origin = self.track(Origin(self.workdir, *fleet_args))
        return self.servers

    def publish(self, server, key, seconds, name, **kw):
        return self.track(ffmpeg_publish(server.rtmp_url(key), self.path(name), seconds=seconds,
                                          size="426x240", gop=30, **kw))

    def origin_playlist(self, pid, rendition="source"):
        status, headers, body = self.origin.get(f"/{pid}/{rendition}/index.m3u8")
        return (status, headers, parse_media_playlist(body.decode()) if status == 200 else None)

    def registered_address(self, pid):
        value = self.redis.cli("GET", f"sluice:stream:{pid}")
        return json.loads(value)["address"] if value else None

    def test_playback_through_origin(self):
        a, _ = self.start_fleet(ladder="160p:284x160:300k:600k:64k,source")
        pid = a.playback_id("through-origin")
        self.publish(a, "through-origin", 20, "pub.log")
        wait_until(lambda: self.origin.get(f"/{pid}/live.m3u8")[0] == 200, 30,
                   what="master through the origin")
        self.assertEqual(self.registered_address(pid), f"127.0.0.1:{a.http_port}")

        status, headers, body = self.origin.get(f"/{pid}/live.m3u8")
        self.assertEqual(headers["Cache-Control"], "max-age=60")
        self.assertEqual(headers["Content-Type"], "application/vnd.apple.mpegurl")
        self.assertEqual(headers["Access-Control-Allow-Origin"], "*")
        self.assertIn("160p/index.m3u8", body.decode())
        self.assertIn("source/index.m3u8", body.decode())

        # ffprobe reads the master and, through it, every rendition, all via the origin.
        probe = ffprobe_json(self.origin.http_url(f"/{pid}/live.m3u8"))
        heights = sorted({s["height"] for s in probe["streams"] if s["codec_type"] == "video"})
        self.assertEqual(heights, [160, 240])
        self.assertTrue(any(s["codec_type"] == "audio" for s in probe["streams"]))

        status, headers, _ = self.origin.get(f"/{pid}/source/index.m3u8")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Cache-Control"], "no-cache")
        _, _, (tags, segments) = self.origin_playlist(pid)
        status, headers, seg = self.origin.get(f"/{pid}/source/{segments[-1][1]}")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Cache-Control"], "max-age=600")
        self.assertEqual(headers["Content-Type"], "video/mp2t")
        self.assertEqual(seg[0], 0x47)
        status, headers, again = self.origin.get(f"/{pid}/source/{segments[-1][1]}")
        self.assertEqual(headers["X-Cache"], "HIT")
        self.assertEqual(again, seg)
        status, _, part = self.origin.get(f"/{pid}/source/{segments[-1][1]}",
                                          headers={"Range": "bytes=0-187"})
        self.assertEqual((status, part), (206, seg[:188]))

        # Unknown streams: 404 at once, with the reference's body, never cached by a CDN.
        started = time.monotonic()
        status, headers, body = self.origin.get("/nosuchstream/live.m3u8")
        self.assertLess(time.monotonic() - started, 0.5)
        self.assertEqual(status, 404)
        self.assertEqual(body, b"nosuchstream is not streaming live now")
        self.assertEqual(headers["Cache-Control"], "no-cache")
        for bad in ("/../etc/passwd", f"/{pid}/../../x.ts", f"/{pid}/source/%2e%2e.ts"):
            self.assertEqual(self.origin.get(bad)[0], 404, bad)
        status, headers, _ = self.origin.get(f"/{pid}/live.m3u8", method="OPTIONS")
        self.assertEqual(status, 204)
        self.assertEqual(headers["Access-Control-Allow-Origin"], "*")
        self.assertEqual(self.origin.get("/healthcheck")[2], b"healthy\n")
        self.assertEqual(self.origin.get("/healthz")[0], 200)
        status = json.loads(self.origin.get("/status")[2])
        self.assertGreater(status["cache"]["bytes"], 0)
        self.assertGreater(status["cache"]["hit_ratio"], 0)
        self.assertTrue(status["registry"]["connected"])
        self.assertEqual(status["registry"]["nodes"], 2)
        self.assertGreater(self.origin.metric("sluice_origin_cache_hits_total"), 0)
        self.assertEqual(self.origin.metric("sluice_registry_connected"), 1)
        self.assertEqual(a.metric("sluice_registry_connected"), 1)

    def test_herd_of_first_requests_makes_one_upstream_request(self):
        a, _ = self.start_fleet()
        pid = a.playback_id("herd")
        self.publish(a, "herd", 20, "pub.log")
        wait_until(lambda: self.origin.get(f"/{pid}/source/index.m3u8")[0] == 200, 30,
                   what="playlist through the origin")
        # The newest segment, read from the server itself so the origin has not seen it.
        tags, segments = parse_media_playlist(a.get(f"/{pid}/source/index.m3u8")[2].decode())
        path = f"/{pid}/source/{segments[-1][1]}"
        server_before = a.metric("sluice_http_requests_total")
        upstream_before = self.origin.metric("sluice_origin_upstream_requests_total")
        misses_before = self.origin.metric("sluice_origin_cache_misses_total")

        clients, results, barrier = 100, [], threading.Barrier(100)

        def fetch():
            barrier.wait()
            with urllib.request.urlopen(self.origin.http_url(path), timeout=20) as r:
                results.append((r.status, r.read()))

        threads = [threading.Thread(target=fetch) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(results), clients)
        self.assertTrue(all(status == 200 for status, _ in results))
        self.assertEqual(len({body for _, body in results}), 1)
        # The server saw the segment request once (the second metrics read counts itself).
        self.assertEqual(a.metric("sluice_http_requests_total") - server_before, 2)
        self.assertEqual(
            self.origin.metric("sluice_origin_upstream_requests_total") - upstream_before, 1)
        # One request started the fetch; the others waited for it or found it cached,
        # depending on how fast this loopback upstream answered.
        self.assertEqual(self.origin.metric("sluice_origin_cache_misses_total") - misses_before, 1)

    def test_stream_moves_between_servers_and_playlists_continue(self):
        a, b = self.start_fleet()
        key = "moving"
        pid = a.playback_id(key)
        pub = self.publish(a, key, 9, "pub-a.log")
        wait_until(lambda: self.origin_playlist(pid)[0] == 200, 30, what="playlist via origin")
        pub.wait(30)
        # The encoder reconnects at once, and lands on the other server.
        self.publish(b, key, 12, "pub-b.log")
        moved_at, endlists = None, []

        def last_on_a():
            return int(parse_media_playlist(
                a.get(f"/{pid}/source/index.m3u8")[2].decode())[1][-1][1][:-3])

        def from_b():
            nonlocal moved_at
            if moved_at is None and self.registered_address(pid) == f"127.0.0.1:{b.http_port}":
                moved_at = time.monotonic()
            status, _, parsed = self.origin_playlist(pid)
            if status != 200:
                return False
            endlists.append("#EXT-X-ENDLIST" in parsed[0])
            moved = any(int(uri[:-3]) > last_on_a() for _, uri, _ in parsed[1])
            if moved and moved_at is None:  # registered between the two reads above
                moved_at = time.monotonic()
            return moved

        wait_until(from_b, 30, interval=0.1, what="the origin to serve the second server's playlist")
        self.assertIsNotNone(moved_at)
        self.assertLess(time.monotonic() - moved_at, 2.5)  # registry event + 1 s playlist cache
        self.assertFalse(any(endlists), "players polling through the move never saw ENDLIST")
        _, _, (tags, segments) = self.origin_playlist(pid)
        first_b = [s for s in segments if int(s[1][:-3]) > last_on_a()][0]
        self.assertEqual(int(first_b[1][:-3]), last_on_a() + 1)  # numbering continues
        self.assertTrue(first_b[2], "a discontinuity marks the move")
        status, _, seg = self.origin.get(f"/{pid}/source/{first_b[1]}")
        self.assertEqual((status, seg[0]), (200, 0x47))
        # The first server's late withdraw (after its grace period) must not hide the stream:
        # its renewals stop at its next heartbeat, as the second server holds the key now.
        wait_until(lambda: "no longer renewing" in a.output(), 5, what="the old server to let go")

    def test_low_latency_stream_moves_and_its_parts_continue(self):
        a, b = self.start_fleet(hls_format="low-latency")
        key = "moving-ll"
        pid = a.playback_id(key)
        path = f"/{pid}/source/index.m3u8"
        pub = self.publish(a, key, 9, "pub-a.log")
        wait_until(lambda: self.origin.get(path)[0] == 200
                   and len(Playlist(self.origin.get(path)[2].decode()).segments) >= 2, 30,
                   what="a low-latency playlist via the origin")
        pub.wait(30)
        on_a = Playlist(a.get(path)[2].decode())
        last_part_a = max(part_number(p["uri"]) for _, _, p in on_a.all_parts())
        self.publish(b, key, 14, "pub-b.log")

        seen_endlist = []

        def from_b():
            status, _, body = self.origin.get(path)
            if status != 200:
                return None
            pl = Playlist(body.decode())
            seen_endlist.append(pl.ended)
            return pl if pl.segments and pl.segments[-1]["msn"] > on_a.next_msn else None

        pl = wait_until(from_b, 40, interval=0.2, what="the second server's parts via the origin")
        self.assertFalse(any(seen_endlist), "players polling through the move saw ENDLIST")
        self.assertEqual(validate(pl, 2), [], pl.text)
        # Numbering continues: segments after the first server's, parts after its last part,
        # with a discontinuity at the move.
        self.assertIn("#EXT-X-DISCONTINUITY", pl.text)
        msns = [s["msn"] for s in pl.segments]
        self.assertEqual(msns, list(range(msns[0], msns[0] + len(msns))))
        parts_b = [part_number(p["uri"]) for msn, _, p in pl.all_parts() if msn >= on_a.next_msn]
        self.assertTrue(parts_b and min(parts_b) > last_part_a, (last_part_a, parts_b[:3]))
        # A blocking request for the next part is held and answered from the second server.
        msn, index = pl.last_position()
        status, _, body = self.origin.get(f"{path}?_HLS_msn={msn}&_HLS_part={index + 1}",
                                          timeout=20)
        self.assertEqual(status, 200)
        self.assertTrue(Playlist(body.decode()).has(msn, index + 1))
        status, _, data = self.origin.get(f"/{pid}/source/{pl.all_parts()[-1][2]['uri']}")
        self.assertEqual((status, data[4:8]), (200, b"moof"))

    def test_redis_restart_mid_stream(self):
        a, _ = self.start_fleet()
        pid = a.playback_id("redis-restart")
        self.publish(a, "redis-restart", 30, "pub.log")
        wait_until(lambda: self.origin_playlist(pid)[0] == 200, 30, what="playlist via origin")
        port = self.redis.port
        self.redis.stop(signal.SIGKILL)
        # Servers keep ingesting, origins keep serving what they know.
        _, _, (_, before) = self.origin_playlist(pid)
        wait_until(lambda: parse_media_playlist(a.get(f"/{pid}/source/index.m3u8")[2].decode())[1]
                   [-1][1] != before[-1][1], 15, what="ingest to go on without Redis")
        time.sleep(4)  # past the registry TTL: nothing may expire on its own
        self.assertEqual(self.origin_playlist(pid)[0], 200)
        self.assertEqual(self.origin.metric("sluice_registry_connected"), 0)
        # Redis returns empty. The server is held (SIGSTOP) so that the origin reconnects
        # first, as happens when servers back off longer: an empty registry is not "no such
        # stream" until the servers have had their chance to register again.
        os.kill(a.pid, signal.SIGSTOP)
        try:
            self.redis = self.track(Redis(self.workdir, port=port, name="redis2"))
            wait_until(lambda: self.origin.metric("sluice_registry_connected") == 1, 15,
                       what="the origin to reconnect")
            answers = []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    answers.append(self.origin.get(f"/{pid}/source/index.m3u8", timeout=0.5)[0])
                except OSError:
                    answers.append("timeout")  # the held server does not answer
                time.sleep(0.1)
        finally:
            os.kill(a.pid, signal.SIGCONT)
        self.assertNotIn(404, answers, "the origin forgot a live stream on an empty Redis")
        wait_until(lambda: self.registered_address(pid) == f"127.0.0.1:{a.http_port}", 15,
                   what="the server to register again")
        wait_until(lambda: self.redis.cli("EXISTS", f"sluice:node:127.0.0.1:{a.http_port}") == "1",
                   10, what="the node to register again")
        wait_until(lambda: self.origin.metric("sluice_registry_connected") == 1, 15,
                   what="the origin to reconnect")
        self.assertEqual(self.origin_playlist(pid)[0], 200)

    def test_killed_server_leaves_the_registry_within_its_ttl(self):
        a, _ = self.start_fleet()
        pid = a.playback_id("killed")
        self.publish(a, "killed", 30, "pub.log")
        wait_until(lambda: self.origin_playlist(pid)[0] == 200, 30, what="playlist via origin")
        a.expect_exit(-signal.SIGKILL)
        a.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        # Until the TTL runs out the origin serves what it has (stale on upstream error).
        self.assertEqual(self.origin_playlist(pid)[0], 200)
        wait_until(lambda: self.origin_playlist(pid)[0] == 404, 10, interval=0.1,
                   what="the stream to leave the origin")
        self.assertLess(time.monotonic() - killed_at, float(TTL) + 2)
        self.assertIsNone(self.registered_address(pid))
        self.assertEqual(self.redis.cli("EXISTS", f"sluice:node:127.0.0.1:{a.http_port}"), "0")

    def test_slow_upstream_and_bad_requests_are_cut_off(self):
        self.redis = self.track(Redis(self.workdir))
        self.origin = self.track(Origin(self.workdir, "--registry", self.redis.url,
                                        "--origin-upstream-timeout", "1"))
        # A "server" that accepts connections and never answers.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        entry = json.dumps({"id": "stuck", "address": f"127.0.0.1:{silent.getsockname()[1]}",
                            "session": "s", "next_sequence": 1, "discontinuities": 0})
        self.redis.cli("SET", "sluice:stream:stuck", entry)
        self.redis.cli("PUBLISH", "sluice:events", "S" + entry)
        wait_until(lambda: json.loads(self.origin.get("/status")[2])["registry"]["streams"] == 1,
                   5, what="the origin to learn the stream")
        started = time.monotonic()
        status, _, body = self.origin.get("/stuck/source/index.m3u8", timeout=20)
        self.assertEqual(status, 504, body)
        self.assertLess(time.monotonic() - started, 5)
        self.assertGreater(self.origin.metric("sluice_origin_upstream_errors_total"), 0)

        # Oversized and malformed requests get 431 and 400, and a closed connection.
        for request, status in (
                (b"GET /stuck/live.m3u8 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                 b"\r\n\r\n", b"431"), (b"NONSENSE\r\n\r\n", b"400")):
            with socket.create_connection(("127.0.0.1", self.origin.http_port), timeout=5) as c:
                c.sendall(request)
                reply = c.recv(4096)
                self.assertTrue(reply.startswith(b"HTTP/1.1 " + status), reply[:40])
        self.assertTrue(self.origin.alive())


if __name__ == "__main__":
    unittest.main()
