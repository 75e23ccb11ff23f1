"""`sluice proxy` in front of `sluice serve` nodes and a real redis-server: placement by
capacity, the full-fleet refusal, discovery, drain, sticky republish, a server killed
mid-stream, playback through the proxy, and bad input."""

import http.server
import json
import os
import signal
import socket
import threading
import time
import unittest

from harness import (Process, Proxy, Redis, Sluice, SluiceTestCase, ffmpeg_publish, ffmpeg_srt,
                     ffprobe_json, free_udp_port, gst_publish, wait_until)

SECRET = "test-secret"  # the harness's servers use it; the proxy must derive the same IDs


class BadPlaybackIdWebhook(http.server.BaseHTTPRequestHandler):
    """Allows every publish but names a playback ID no server may use."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("X-Playback-Id", "../not-an-id")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class ProxyFleet(SluiceTestCase):
    def setUp(self):
        super().setUp()
        self.redis = self.track(Redis(self.workdir))
        self.n = 0

    ttl = "3"  # seconds: a dead server's entries vanish quickly in tests

    def fleet_args(self):
        return ("--registry", self.redis.url, "--registry-ttl", self.ttl,
                "--registry-resync", "0.5")

    def server(self, capacity, *extra):
        self.n += 1
        return self.track(Sluice(self.path(f"server{self.n}"), *self.fleet_args(),
                                 "--max-streams", str(capacity), *extra))

    def proxy(self, *extra):
        p = self.track(Proxy(self.workdir, *self.fleet_args(), "--playback-secret", SECRET,
                             "--proxy-health-interval", "0.5", *extra))
        return p

    def publish(self, proxy, key, seconds=40, name=None):
        return self.track(ffmpeg_publish(proxy.rtmp_url(key), self.path(name or f"{key}.log"),
                                         seconds=seconds, size="320x240", gop=30))

    def holder(self, servers, key):
        """The server whose hub has the stream of `key`."""
        pid = servers[0].playback_id(key)
        for s in servers:
            if s.alive() and any(x["playback_id"] == pid for x in s.streams()):
                return s
        return None

    def wait_nodes(self, proxy, count):
        wait_until(lambda: proxy.metric("sluice_proxy_servers") == count, 10,
                   what=f"the proxy to see {count} servers")

    def test_placement_by_capacity_and_full_fleet_refusal(self):
        a, b = self.server(1), self.server(2)
        proxy = self.proxy()
        self.wait_nodes(proxy, 2)
        self.publish(proxy, "first")
        wait_until(lambda: self.holder([a, b], "first"), 15, what="first stream placed")
        self.assertIs(self.holder([a, b], "first"), b)  # b has the most free capacity
        wait_until(lambda: json.loads(self.redis.cli("GET", f"sluice:node:127.0.0.1:{b.http_port}"))
                   ["load"] == 1, 5, what="b's load in the registry")
        # GStreamer's rtmp2sink too: both servers now have one free slot; a (fewer streams).
        self.track(gst_publish(proxy.rtmp_url("second"), self.path("gst.log"), buffers=1200))
        wait_until(lambda: self.holder([a, b], "second"), 15, what="second stream placed")
        self.assertIs(self.holder([a, b], "second"), a)
        self.publish(proxy, "third", name="third-b.log")
        wait_until(lambda: self.holder([a, b], "third"), 15, what="third stream placed")
        self.assertIs(self.holder([a, b], "third"), b)

        # Full: the encoder gets a proper error at once, not a hang.
        started = time.monotonic()
        full = self.publish(proxy, "fourth", seconds=10)
        self.assertNotEqual(full.wait(15), 0)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("no media server has free capacity", full.output())
        self.assertEqual(proxy.metric("sluice_proxy_rejected_capacity_total"), 1)

        # Playback through the proxy: routed to the server that holds the stream.
        pid = a.playback_id("third")
        wait_until(lambda: self.redis.cli("EXISTS", f"sluice:stream:{pid}") == "1", 15,
                   what="the stream to be registered")
        probe = ffprobe_json(proxy.rtmp_url(pid), ("-read_intervals", "%+2"))
        self.assertEqual({s["codec_type"] for s in probe["streams"]}, {"video", "audio"})
        self.assertEqual(proxy.metric("sluice_proxy_plays_routed_total"), 1)
        self.assertEqual(proxy.get("/anything")[0], 200)  # health for DNS checks

    def test_new_server_discovered_and_draining_server_skipped(self):
        a = self.server(1, "--drain-timeout", "60")
        proxy = self.proxy()
        self.wait_nodes(proxy, 1)
        pub = self.publish(proxy, "draining", seconds=30)
        wait_until(lambda: self.holder([a], "draining"), 15, what="stream on a")
        # A new server takes traffic within a second of registering.
        b = self.server(1)
        registered = time.monotonic()
        self.wait_nodes(proxy, 2)
        self.assertLess(time.monotonic() - registered, 1.5)

        a.proc.send_signal(signal.SIGTERM)  # drain: a keeps its stream, takes nothing new
        wait_until(lambda: json.loads(self.redis.cli("GET", f"sluice:node:127.0.0.1:{a.http_port}"))
                   ["draining"], 5, what="a to mark itself draining")
        pid = a.playback_id("draining")
        before = a.get(f"/{pid}/source/index.m3u8")[2]
        self.publish(proxy, "newcomer")
        wait_until(lambda: self.holder([a, b], "newcomer"), 15, what="newcomer placed")
        self.assertIs(self.holder([a, b], "newcomer"), b)
        # New media (a segment, or in low-latency mode a part) changes the playlist.
        wait_until(lambda: a.get(f"/{pid}/source/index.m3u8")[2] != before, 15,
                   what="the draining server's stream to go on")
        self.assertTrue(pub.alive())
        pub.wait(40)
        self.assertEqual(a.wait(20), 0)  # exits once its publisher is gone
        self.assertIn("drain: no publisher left", a.output())

    def test_republish_sticks_to_its_server(self):
        a = self.server(3)
        proxy = self.proxy("--proxy-splice", "false")  # the copying relay (no kernel pipes)
        self.wait_nodes(proxy, 1)
        self.publish(proxy, "sticky", seconds=6).wait(30)
        # A normal unpublish (the server closes on deleteStream) is no server failure.
        wait_until(lambda: proxy.metric("sluice_proxy_connections_active") == 0, 5,
                   what="the session to end")
        self.assertEqual(proxy.metric("sluice_proxy_server_failures_total"), 0)
        b = self.server(10)  # more free capacity than a
        self.wait_nodes(proxy, 2)
        self.publish(proxy, "sticky", seconds=8, name="sticky2.log")
        wait_until(lambda: self.holder([a, b], "sticky"), 15, what="republish placed")
        self.assertIs(self.holder([a, b], "sticky"), a)
        # A different key goes by capacity.
        self.publish(proxy, "other")
        wait_until(lambda: self.holder([a, b], "other"), 15, what="other placed")
        self.assertIs(self.holder([a, b], "other"), b)

    def test_player_routed_before_the_first_segment(self):
        a = self.server(2)
        proxy = self.proxy()
        self.wait_nodes(proxy, 1)
        # Keyframes every 10 s: no HLS segment for 10 s, yet RTMP players can watch at once.
        self.track(ffmpeg_publish(proxy.rtmp_url("early"), self.path("early.log"), seconds=30,
                                  size="320x240", gop=300))
        pid = a.playback_id("early")
        wait_until(lambda: self.redis.cli("EXISTS", f"sluice:stream:{pid}") == "1", 5,
                   what="the stream registered as its publish starts")
        self.assertEqual(a.get(f"/{pid}/live.m3u8")[0], 404)
        probe = ffprobe_json(proxy.rtmp_url(pid), ("-read_intervals", "%+1"))
        self.assertEqual({s["codec_type"] for s in probe["streams"]}, {"video", "audio"})
        self.assertEqual(a.get(f"/{pid}/live.m3u8")[0], 404)  # still before the first segment
        self.assertEqual(proxy.metric("sluice_proxy_plays_routed_total"), 1)

    def test_server_killed_mid_stream_disconnects_the_encoder(self):
        a = self.server(1)
        proxy = self.proxy()
        self.wait_nodes(proxy, 1)
        pub = self.publish(proxy, "victim", seconds=60)
        wait_until(lambda: self.holder([a], "victim"), 15, what="stream on a")
        a.expect_exit(-signal.SIGKILL)
        a.stop(signal.SIGKILL)
        pub.wait(20)  # the encoder sees its connection end and can reconnect
        wait_until(lambda: proxy.metric("sluice_proxy_connections_active") == 0, 10,
                   what="the proxy to close the session")
        self.assertGreaterEqual(proxy.metric("sluice_proxy_server_failures_total"), 1)
        # Nothing left to take a publish: refused with a reason.
        wait_until(lambda: proxy.metric("sluice_proxy_servers_healthy") == 0, 10,
                   what="the dead server to fail its check")
        again = self.publish(proxy, "victim", seconds=5, name="again.log")
        self.assertNotEqual(again.wait(15), 0)
        self.assertTrue(proxy.alive())

    def test_players_follow_a_publisher_that_moved(self):
        # A TTL long enough that the registry still names the dead server when the stream is
        # live again on the other one (it cuts its first segment 10 s after the republish).
        self.ttl = "15"
        a, b = self.server(1), self.server(1)
        proxy = self.proxy()
        self.wait_nodes(proxy, 2)
        first = self.track(ffmpeg_publish(proxy.rtmp_url("mover"), self.path("mover.log"),
                                          seconds=60, size="320x240", gop=300))
        wait_until(lambda: self.holder([a, b], "mover"), 15, what="the stream placed")
        dead = self.holder([a, b], "mover")
        other = b if dead is a else a
        pid = a.playback_id("mover")
        dead.expect_exit(-signal.SIGKILL)
        dead.stop(signal.SIGKILL)
        first.wait(20)
        wait_until(lambda: proxy.metric("sluice_proxy_servers_healthy") == 1, 10,
                   what="the dead server to fail its check")
        # The encoder reconnects, as OBS does; the proxy sends it to the other server.
        self.track(ffmpeg_publish(proxy.rtmp_url("mover"), self.path("mover2.log"), seconds=30,
                                  size="320x240", gop=300))
        wait_until(lambda: self.holder([other], "mover"), 15, what="the stream on the other")
        self.assertEqual(json.loads(self.redis.cli("GET", f"sluice:stream:{pid}"))["address"],
                         f"127.0.0.1:{dead.http_port}")  # the registry has not caught up
        probe = ffprobe_json(proxy.rtmp_url(pid), ("-read_intervals", "%+1"))
        self.assertEqual({s["codec_type"] for s in probe["streams"]}, {"video", "audio"})
        self.assertEqual(proxy.metric("sluice_proxy_plays_routed_total"), 1)

    def test_hung_server_loses_its_sessions(self):
        a, b = self.server(1), self.server(1)
        proxy = self.proxy()
        self.wait_nodes(proxy, 2)
        pub = self.publish(proxy, "stuck", seconds=60)
        wait_until(lambda: self.holder([a, b], "stuck"), 15, what="the stream placed")
        hung = self.holder([a, b], "stuck")
        other = b if hung is a else a
        # Stopped, the server still completes TCP connections (the kernel does, into its
        # listen backlog) and its socket buffers take the publisher's writes for a long while.
        os.kill(hung.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            wait_until(lambda: not pub.alive(), 15, what="the proxy to end the session")
            self.assertLess(time.monotonic() - stopped, 10)
            self.assertIn("failed its health checks", proxy.output())
            self.assertGreaterEqual(proxy.metric("sluice_proxy_server_failures_total"), 1)
            # The encoder reconnects and lands on the healthy server.
            self.publish(proxy, "stuck", seconds=20, name="stuck2.log")
            wait_until(lambda: self.holder([other], "stuck"), 15, what="the stream on the other")
        finally:
            os.kill(hung.pid, signal.SIGCONT)

    def test_srt_publisher_lands_on_a_server_with_free_capacity(self):
        """The SRT front door: placement among the servers that take SRT, both hops
        encrypted, SRT play through the proxy, and a stream ID it does not understand."""
        phrase = "correct horse battery"
        srt_ports = [free_udp_port(), free_udp_port()]
        a, b = (self.server(capacity, "--srt-listen", f"127.0.0.1:{port}",
                            "--srt-passphrase", phrase)
                for capacity, port in ((2, srt_ports[0]), (3, srt_ports[1])))
        c = self.server(10)  # the most room, but no SRT
        proxy_srt = free_udp_port()
        proxy = self.proxy("--proxy-srt-listen", f"127.0.0.1:{proxy_srt}",
                           "--srt-passphrase", phrase)
        self.wait_nodes(proxy, 3)
        wait_until(lambda: "srt listening" in proxy.output(), 5, what="the proxy's SRT door")

        def url(stream_id):
            return f"srt://127.0.0.1:{proxy_srt}?streamid={stream_id}&passphrase={phrase}"

        self.track(ffmpeg_srt(url("#!::r=stream/srt-first,m=publish"), self.path("first.log"),
                              seconds=60))
        wait_until(lambda: self.holder([a, b, c], "srt-first"), 20, what="first SRT stream")
        self.assertIs(self.holder([a, b, c], "srt-first"), b)  # b: most free among SRT servers
        first = b.playback_id("srt-first")
        stream = next(x for x in b.streams() if x["playback_id"] == first)
        self.assertEqual(stream["protocol"], "srt")
        wait_until(lambda: json.loads(self.redis.cli("GET", f"sluice:node:127.0.0.1:{b.http_port}"))
                   ["load"] == 1, 5, what="b's load in the registry")
        # a and b now have two free slots each: a, with fewer streams.
        self.track(ffmpeg_srt(url("srt-second"), self.path("second.log"), seconds=60))
        wait_until(lambda: self.holder([a, b, c], "srt-second"), 20, what="second SRT stream")
        self.assertIs(self.holder([a, b, c], "srt-second"), a)
        self.assertEqual(proxy.metric("sluice_proxy_publishes_routed_total"), 2)
        b.wait_master(first)

        # SRT play through the proxy, to the server that holds the stream.
        probe = ffprobe_json(url(f"#!::r={first},m=request"), ("-read_intervals", "%+2"))
        self.assertEqual({x["codec_type"]: x["codec_name"] for x in probe["streams"]},
                         {"video": "h264", "audio": "aac"})
        self.assertEqual(proxy.metric("sluice_proxy_plays_routed_total"), 1)
        self.assertRegex(b.output(), rf"srt#\d+ 127\.0\.0\.1: playing {first}")

        # Refused at the edge: a stream ID for another application, and a play of nothing.
        for stream_id in ("#!::r=other/key,m=publish", "#!::r=0123456789abcdef0123,m=request"):
            bad = self.track(Process(
                ["ffprobe", "-v", "error", "-rw_timeout", "5000000", url(stream_id)],
                self.path("bad.log")))
            self.assertNotEqual(bad.wait(20), 0)
        self.assertEqual(proxy.metric("sluice_proxy_srt_connections_refused_total"), 1)
        self.assertEqual(proxy.metric("sluice_proxy_rejected_unknown_total"), 1)
        self.assertTrue(all(x["playback_id"] != first for x in a.streams()))

    def test_srt_publisher_address_reaches_the_server(self):
        """With proxy.send_proxy_protocol the proxy names the SRT caller in the stream ID it
        sends on; a server believes that only from the proxies it trusts."""
        srt_port, proxy_srt = free_udp_port(), free_udp_port()
        server = self.server(4, "--srt-listen", f"127.0.0.1:{srt_port}",
                             "--rtmp-proxy-protocol-from", "127.0.0.1/32")
        proxy = self.proxy("--proxy-srt-listen", f"127.0.0.1:{proxy_srt}",
                           "--proxy-send-proxy-protocol", "true")
        self.wait_nodes(proxy, 1)

        def feed(port, stream_id, local_ip, name):
            # srt-live-transmit calls from its own address (adapter=), as a remote encoder.
            return self.track(Process(
                ["sh", "-c", "ffmpeg -hide_banner -loglevel error -re -f lavfi -i "
                 "testsrc2=size=320x240:rate=30 -f lavfi -i sine -t 40 -c:v libx264 -preset "
                 "ultrafast -g 30 -c:a aac -f mpegts - | srt-live-transmit -q file://con "
                 f"'srt://127.0.0.1:{port}?mode=caller&adapter={local_ip}&streamid={stream_id}'"],
                self.path(name)))

        feed(proxy_srt, "#!::r=via-proxy,m=publish", "127.0.0.5", "via-proxy.log")
        # A caller that is not a trusted proxy cannot name an address for itself.
        feed(srt_port, "#!::r=direct,m=publish,sluice_client=203.0.113.9", "127.0.0.6",
             "direct.log")

        def remote(key):
            pid = server.playback_id(key)
            return next((x["remote"] for x in server.streams() if x["playback_id"] == pid), None)

        wait_until(lambda: remote("via-proxy") and remote("direct"), 20, what="both streams")
        self.assertEqual(remote("via-proxy"), "127.0.0.5")
        self.assertEqual(remote("direct"), "127.0.0.6")
        self.assertIn("ignoring the client address 127.0.0.6", server.output())
        self.assertRegex(server.output(), r"srt#\d+ 127\.0\.0\.5: publishing key via")

    def test_authorizer_playback_id_is_checked_at_the_edge(self):
        # The proxy runs the servers' admission step, so it refuses what a server would refuse
        # instead of placing a publisher on the ID the authorizer gave.
        webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BadPlaybackIdWebhook)
        threading.Thread(target=webhook.serve_forever, daemon=True).start()
        self.addCleanup(webhook.shutdown)
        server = self.server(1)
        proxy = self.proxy("--auth", f"webhook:http://127.0.0.1:{webhook.server_address[1]}/")
        self.wait_nodes(proxy, 1)
        publisher = self.publish(proxy, "anykey", seconds=5)
        self.assertNotEqual(publisher.wait(30), 0)
        self.assertIn("authorizer gave an invalid playback ID", proxy.output())
        self.assertIn("Server error: authorizer gave an invalid playback ID", publisher.output())
        self.assertEqual(proxy.metric("sluice_proxy_publishes_routed_total"), 0)
        self.assertGreaterEqual(proxy.metric("sluice_proxy_rejected_auth_total"), 1)
        self.assertNotIn("publish of key", server.output())

    def test_bad_input_is_cut_off(self):
        self.server(1)
        proxy = self.proxy("--rtmp-handshake-timeout", "1")
        garbage = socket.create_connection(("127.0.0.1", proxy.rtmp_port), timeout=5)
        garbage.sendall(b"\x07" + b"x" * 2000)  # not RTMP version 3
        self.assertEqual(garbage.recv(10), b"")
        stalled = socket.create_connection(("127.0.0.1", proxy.rtmp_port), timeout=5)
        stalled.sendall(b"\x03" + b"\x00" * 100)  # half a C1, then silence
        started = time.monotonic()
        self.assertEqual(stalled.recv(10), b"")
        self.assertLess(time.monotonic() - started, 4)
        garbage.close()
        stalled.close()
        wait_until(lambda: proxy.metric("sluice_proxy_connections_active") == 0, 5,
                   what="connections closed")
        self.assertGreaterEqual(proxy.metric("sluice_proxy_protocol_errors_total"), 1)
        self.assertTrue(proxy.alive())
        # A splice into a reset connection raises SIGPIPE; the process ignores it.
        os.kill(proxy.pid, signal.SIGPIPE)
        time.sleep(0.3)
        self.assertTrue(proxy.alive())


if __name__ == "__main__":
    unittest.main()
