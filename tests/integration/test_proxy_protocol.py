"""The PROXY protocol behind Debian's HAProxy (send-proxy-v2 on RTMP, send-proxy on HTTP) and
from `sluice proxy` to its servers: the publisher's and the viewer's own address reach the
log and the webhook; headers from untrusted networks, missing, malformed and late headers are
refused without harm to other streams."""

import http.server
import os
import socket
import struct
import sys
import threading
import urllib.parse

from harness import (HAProxy, Origin, Proxy, Redis, Sluice, SluiceTestCase, closed_by_peer,
                     ffmpeg_publish, rtmp_handshake, wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
from loadgen import amf, rtmp_message  # noqa: E402  (the soak's RTMP message helpers)

BALANCER = "127.0.0.3"  # HAProxy connects to Sluice from here
VIEWER = "127.0.0.5"    # a client with an address of its own


class Webhook(http.server.BaseHTTPRequestHandler):
    forms = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Webhook.forms.append(dict(urllib.parse.parse_qsl(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def connect_from(source, port):
    s = socket.socket()
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def play_from(source, port, name, want=20000):
    """An RTMP player connecting from `source`: handshake, connect, createStream, play; returns
    once `want` bytes of answers and media have come."""
    s = connect_from(source, port)
    try:
        extra = rtmp_handshake(s)
        s.sendall(rtmp_message(3, 20, 0, amf("connect") + amf(1) + amf(
            {"app": "stream", "flashVer": "LNX 9,0,124,2",
             "tcUrl": f"rtmp://127.0.0.1:{port}/stream"})))
        s.sendall(rtmp_message(2, 5, 0, struct.pack(">I", 2500000)))
        s.sendall(rtmp_message(3, 20, 0, amf("createStream") + amf(2) + amf(None)))
        s.sendall(rtmp_message(8, 20, 1, amf("play") + amf(3) + amf(None) + amf(name) +
                               amf(-1000)))
        received = len(extra)
        while received < want:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError(f"closed after {received} bytes")
            received += len(chunk)
        return received
    finally:
        s.close()


class ProxyProtocol(SluiceTestCase):
    def start_webhook(self):
        Webhook.forms = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def test_haproxy_gives_the_clients_address_to_rtmp_and_http(self):
        hook = self.start_webhook()
        s = self.track(Sluice(self.workdir, "--auth", f"webhook:http://127.0.0.1:{hook}/",
                              "--rtmp-proxy-protocol-from", BALANCER,
                              "--http-proxy-protocol-from", f"{BALANCER}/32, 10.0.0.0/8"))
        lb = self.track(HAProxy(self.workdir, [(s.rtmp_port, "send-proxy-v2"),
                                               (s.http_port, "send-proxy")], source=BALANCER))
        rtmp_port, http_port = lb.ports
        self.track(ffmpeg_publish(f"rtmp://127.0.0.1:{rtmp_port}/stream/behind-lb",
                                  self.path("pub.log"), seconds=20, size="320x240"))
        pid = s.playback_id("behind-lb")
        wait_until(lambda: any(x["playback_id"] == pid for x in s.streams()), 15,
                   what="the publish through HAProxy")
        self.assertEqual([f["addr"] for f in Webhook.forms], ["127.0.0.1"])
        publisher = next(x for x in s.streams() if x["playback_id"] == pid)
        self.assertEqual((publisher["protocol"], publisher["remote"]), ("rtmp", "127.0.0.1"))
        log = s.output()
        self.assertRegex(log, r"rtmp#\d+ 127\.0\.0\.1: publishing key")
        self.assertNotIn(f" {BALANCER}: ", log)  # no session is tagged with the balancer

        # HTTP through HAProxy (v1 header): served, and a refusal names the client.
        wait_until(lambda: lb_get(http_port, f"/{pid}/live.m3u8")[0] == 200, 20,
                   what="the master playlist through HAProxy")
        status, _ = lb_get(http_port, "/healthz", extra=b"Transfer-Encoding: gzip\r\n")
        self.assertEqual(status, 400)
        wait_until(lambda: "http: refused a request from 127.0.0.1" in s.output(), 5,
                   what="the refusal logged with the client's address")
        self.assertNotIn(f"refused a request from {BALANCER}", s.output())
        self.assertGreaterEqual(s.metric("sluice_proxy_headers_total"), 3)
        self.assertEqual(s.metric("sluice_proxy_headers_refused_total"), 0)

    def test_untrusted_missing_malformed_and_late_headers_are_refused(self):
        s = self.track(Sluice(self.workdir, "--rtmp-proxy-protocol-from", BALANCER,
                              "--rtmp-handshake-timeout", "2"))
        # A publisher that does not come through the balancer needs no header.
        self.track(ffmpeg_publish(s.rtmp_url("direct"), self.path("pub.log"), seconds=30,
                                  size="320x240"))
        pid = s.playback_id("direct")
        wait_until(lambda: s.get(f"/{pid}/live.m3u8")[0] == 200, 20, what="the direct stream")
        c0c1 = b"\x03" + bytes(1536)

        spoof = connect_from("127.0.0.1", s.rtmp_port)  # claims any address it likes
        spoof.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 4000 1935\r\n" + c0c1)
        self.assertTrue(closed_by_peer(spoof))
        missing = connect_from(BALANCER, s.rtmp_port)
        missing.sendall(c0c1)
        self.assertTrue(closed_by_peer(missing))
        malformed = connect_from(BALANCER, s.rtmp_port)
        malformed.sendall(b"PROXY TCP4 203.0.113.999 127.0.0.1 4000 1935\r\n" + c0c1)
        self.assertTrue(closed_by_peer(malformed))
        v2_udp = connect_from(BALANCER, s.rtmp_port)
        v2_udp.sendall(bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54,
                              0x0A, 0x21, 0x12, 0, 12]) + bytes(12) + c0c1)
        self.assertTrue(closed_by_peer(v2_udp))
        late = connect_from(BALANCER, s.rtmp_port)
        late.sendall(b"PROXY TCP4 203.0.113.9")  # and nothing more
        self.assertTrue(closed_by_peer(late, timeout=6))
        for sock in (spoof, missing, malformed, v2_udp, late):
            sock.close()

        log = s.output()
        for why in ("PROXY header from a network not in proxy_protocol_from",
                    "PROXY header: the connection does not start with one",
                    "PROXY header: v1 address not of its protocol",
                    "PROXY header: v2 UDP on a TCP connection",
                    "no PROXY header in time"):
            self.assertIn(why, log)
        self.assertNotIn("203.0.113.9", log.replace("PROXY TCP4 203.0.113.9", ""))
        self.assertEqual(s.metric("sluice_proxy_headers_refused_total"), 5)
        # The stream went on throughout.
        before = s.get(f"/{pid}/source/index.m3u8")[2]
        wait_until(lambda: s.get(f"/{pid}/source/index.m3u8")[2] != before, 10,
                   what="the direct stream to go on")
        self.assertTrue(s.alive())

    def test_sluice_proxy_passes_the_address_on(self):
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-ttl", "3", "--registry-resync", "0.5")
        # The server trusts the proxy (127.0.0.1); the proxy trusts HAProxy in front of it.
        server = self.track(Sluice(self.path("server"), *fleet,
                                   "--rtmp-proxy-protocol-from", "127.0.0.1"))
        proxy = self.track(Proxy(self.workdir, *fleet, "--playback-secret", server.secret,
                                 "--proxy-health-interval", "0.5",
                                 "--proxy-send-proxy-protocol", "true",
                                 "--rtmp-proxy-protocol-from", BALANCER))
        wait_until(lambda: proxy.metric("sluice_proxy_servers_healthy") == 1, 10,
                   what="the server to pass the proxy's checks (LOCAL headers)")
        lb = self.track(HAProxy(self.workdir, [(proxy.rtmp_port, "send-proxy-v2")],
                                source=BALANCER))
        self.track(ffmpeg_publish(proxy.rtmp_url("chained"), self.path("pub.log"), seconds=30,
                                  size="320x240"))
        pid = server.playback_id("chained")
        wait_until(lambda: any(x["playback_id"] == pid for x in server.streams()), 15,
                   what="the publish through the proxy")
        self.assertGreater(play_from(VIEWER, lb.ports[0], pid), 20000)
        self.assertRegex(server.output(), rf"rtmp#\d+ {VIEWER}: playing {pid}")
        self.assertRegex(proxy.output(), rf"proxy#\d+ {VIEWER}: play {pid}")
        self.assertEqual(server.metric("sluice_proxy_headers_refused_total"), 0)

    def test_origin_behind_haproxy(self):
        redis = self.track(Redis(self.workdir))
        origin = self.track(Origin(self.workdir, "--registry", redis.url,
                                   "--http-proxy-protocol-from", BALANCER))
        lb = self.track(HAProxy(self.workdir, [(origin.http_port, "send-proxy-v2")],
                                source=BALANCER))
        self.assertEqual(lb_get(lb.ports[0], "/healthz")[0], 200)
        self.assertEqual(lb_get(lb.ports[0], "/healthz", extra=b"Expect: teapot\r\n")[0], 417)
        wait_until(lambda: "http: refused a request from 127.0.0.1" in origin.output(), 5,
                   what="the refusal logged with the client's address")
        self.assertNotIn(f"refused a request from {BALANCER}", origin.output())
        # Straight from the balancer's address without a header: refused.
        with connect_from(BALANCER, origin.http_port) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(closed_by_peer(s))
        self.assertEqual(origin.metric("sluice_proxy_headers_refused_total"), 1)


def lb_get(port, path, extra=b""):
    """(status, body) of a GET sent as raw bytes, so that odd headers go through as written."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() + extra +
                  b"\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]) if head else 0, body


if __name__ == "__main__":
    import unittest
    unittest.main()
