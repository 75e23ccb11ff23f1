"""Hostile and broken clients get a log line and a closed connection; a good stream running
beside them is unaffected."""

import http.client
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import (SLUICE, Origin, Role, SluiceTestCase, closed_by_peer, ffmpeg_publish,
                     parse_media_playlist, rtmp_handshake, wait_until)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s




class BadInput(SluiceTestCase):
    def test_garbage_clients_do_not_hurt_a_live_stream(self):
        sluice = self.start_sluice("--rtmp-handshake-timeout", "2", "--rtmp-idle-timeout", "3",
                                   "--rtmp-max-message-size", "1048576")
        pid = sluice.playback_id("goodstream")
        pub = self.track(ffmpeg_publish(sluice.rtmp_url("goodstream"), self.path("p.log"), 20))
        sluice.wait_master(pid)

        # 1. Wrong version byte.
        s = connect(sluice.rtmp_port)
        s.sendall(b"\x06" + os.urandom(1536))
        self.assertTrue(closed_by_peer(s))
        # 2. Random garbage after a valid handshake.
        s = connect(sluice.rtmp_port)
        rtmp_handshake(s)
        s.sendall(os.urandom(4096))
        self.assertTrue(closed_by_peer(s))
        # 3. A message length past the limit (fmt 0, csid 3, length 0xFFFFFF, type 20).
        s = connect(sluice.rtmp_port)
        rtmp_handshake(s)
        s.sendall(bytes([0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0]) + b"\x02")
        self.assertTrue(closed_by_peer(s))
        # 4. Set Chunk Size 0 (out of range).
        s = connect(sluice.rtmp_port)
        rtmp_handshake(s)
        s.sendall(bytes([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]) + struct.pack(">I", 0))
        self.assertTrue(closed_by_peer(s))
        # 5. An AMF0 command nested 100 deep (limit 16).
        body = b"\x02\x00\x07connect" + b"\x00" + bytes(8) + b"\x0a\x00\x00\x00\x01" * 100
        s = connect(sluice.rtmp_port)
        rtmp_handshake(s)
        s.sendall(bytes([0x03, 0, 0, 0]) + len(body).to_bytes(3, "big") + bytes([20, 0, 0, 0, 0])
                  + body[:128] + b"".join(bytes([0xC3]) + body[i:i + 128]
                                          for i in range(128, len(body), 128)))
        self.assertTrue(closed_by_peer(s))
        # 6. Stalls mid-handshake and after it: closed by the timeouts.
        stall1 = connect(sluice.rtmp_port)
        stall1.sendall(b"\x03" + bytes(100))
        stall2 = connect(sluice.rtmp_port)
        rtmp_handshake(stall2)
        start = time.monotonic()
        self.assertTrue(closed_by_peer(stall1, timeout=10))
        self.assertTrue(closed_by_peer(stall2, timeout=10))
        self.assertLess(time.monotonic() - start, 9)

        log = sluice.output()
        for expected in ["rtmp handshake: version 6", "message length 16777215 > limit",
                         "invalid set chunk size", "nesting deeper than 16"]:
            self.assertIn(expected, log)
        self.assertEqual(log.count("handshake/connect timed out"), 2)

        # The good stream kept going: its playlist still grows and the publisher finishes.
        _, before = parse_media_playlist(sluice.get(f"/{pid}/source/index.m3u8")[2].decode())
        wait_until(lambda: parse_media_playlist(
            sluice.get(f"/{pid}/source/index.m3u8")[2].decode())[1][-1] != before[-1], 15,
            what="new segments after the attacks")
        self.assertEqual(pub.wait(60), 0)
        self.assertTrue(sluice.alive())

    def test_http_rejects_bad_requests(self):
        sluice = self.start_sluice("--http-header-limit", "1024", "--http-read-timeout", "2")
        s = socket.create_connection(("127.0.0.1", sluice.http_port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4000 + b"\r\n\r\n")
        reply = s.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 4"), reply[:100])
        s = socket.create_connection(("127.0.0.1", sluice.http_port), timeout=10)
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 400"))
        slow = socket.create_connection(("127.0.0.1", sluice.http_port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        self.assertTrue(closed_by_peer(slow, timeout=8))
        for path in ["/%2e%2e/%2e%2e/etc/passwd", "/a/b/c/d/e", "/x/../../live.m3u8"]:
            self.assertEqual(sluice.get(path)[0], 404, path)
        self.assertEqual(sluice.get("/healthz", method="DELETE")[0], 405)
        self.assertEqual(sluice.get("/healthz")[0], 200)


def exchange(port, request, timeout=5):
    """Sends raw bytes; returns everything the server sends until it closes (None if it keeps
    the connection open past `timeout`)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got
    except socket.timeout:
        return None
    finally:
        s.close()


class HttpFraming(SluiceTestCase):
    """RFC 9112 framing and Host rules on both HTTP roles: a request whose body length is in
    doubt gets a 400 and a closed connection, never a second (smuggled) request."""

    def roles(self):
        sluice = self.start_sluice()
        origin = self.track(Origin(self.workdir))
        return [sluice, origin]

    def test_smuggling_through_transfer_encoding_is_refused(self):
        smuggled = b"GET /smuggled-marker/live.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n"
        for role in self.roles():
            for coding in [b"gzip", b"xchunked", b"chunked, gzip", b"chunked\r\nContent-Length: 3"]:
                reply = exchange(role.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                 b"Transfer-Encoding: " + coding + b"\r\n\r\n" + smuggled)
                self.assertIsNotNone(reply, f"{role.name}: connection left open ({coding})")
                self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), (role.name, coding, reply))
                self.assertEqual(reply.count(b"HTTP/1.1 "), 1, (role.name, coding, reply))
                self.assertNotIn(b"smuggled-marker", reply)
            # HTTP/1.0 has no chunked coding: its framing is faulty whatever follows.
            reply = exchange(role.http_port, b"GET /healthz HTTP/1.0\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), (role.name, reply))
            # A well-framed chunked body is read and the request served.
            reply = exchange(role.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                             b"3\r\nabc\r\n0\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), (role.name, reply))

    def test_expect_continue_host_and_nosniff(self):
        for role in self.roles():
            s = socket.create_connection(("127.0.0.1", role.http_port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 5\r\n\r\n")
            interim = s.recv(4096)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"),
                            (role.name, interim))
            s.sendall(b"hello")
            final = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
            while b"\r\n\r\n" not in final:
                final += s.recv(4096)
            self.assertTrue(final.startswith(b"HTTP/1.1 200 "), (role.name, final))
            s.close()
            reply = exchange(role.http_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                             b"Expect: something-else\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.1 417 "), (role.name, reply))

            for head in [b"GET /healthz HTTP/1.1\r\n\r\n",
                         b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                         b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n"]:
                reply = exchange(role.http_port, head)
                self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), (role.name, head, reply))
            reply = exchange(role.http_port, b"GET /healthz HTTP/1.0\r\n\r\n")
            self.assertTrue(reply.startswith(b"HTTP/1.0 200 "), (role.name, reply))

            for path in ["/healthz", "/", "/nope/live.m3u8", "/metrics"]:
                status, headers, _ = role.get(path)
                self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff",
                                 (role.name, path, status))
            reply = exchange(role.http_port, b"NOT HTTP\r\n\r\n")
            self.assertIn(b"\r\nX-Content-Type-Options: nosniff\r\n", reply)

    def test_malformed_requests_cannot_flood_the_log(self):
        sluice = self.start_sluice()
        for _ in range(300):
            exchange(sluice.http_port, b"NOT HTTP\r\n\r\n")
        lines = [line for line in sluice.output().splitlines()
                 if "refused a request" in line or "bad request" in line]
        self.assertGreater(len(lines), 0)
        self.assertLessEqual(len(lines), 25, "\n".join(lines[-5:]))
        self.assertGreaterEqual(sluice.metric("sluice_log_lines_suppressed_total"), 250)
        self.assertEqual(sluice.get("/healthz")[0], 200)
        # Once the window has passed, the next line says how many were dropped.
        time.sleep(10.5)
        exchange(sluice.http_port, b"NOT HTTP\r\n\r\n")
        wait_until(lambda: "were suppressed" in sluice.output(), 5, what="suppressed count")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DescriptorExhaustion(SluiceTestCase):
    def test_out_of_descriptors_sheds_new_connections_and_serves_open_ones(self):
        # 200 descriptors, 400 idle connections: most of them wait in the backlog.
        workdir = os.path.join(self.workdir, "s")
        os.makedirs(workdir)
        sluice = self.track(Role("sluice", [
            "prlimit", "--nofile=200:200", SLUICE, "serve", "--rtmp-listen", "127.0.0.1:0",
            "--http-listen", "127.0.0.1:0", "--data-dir", os.path.join(workdir, "data"),
            "--hls-segment-duration", "1", "--transcode-ladder", "source", "--dvr", "off",
            "--log-level", "info"], os.path.join(workdir, "sluice.log")))
        self.track(ffmpeg_publish(sluice.rtmp_url("fdstream"), self.path("p.log"), 60))
        streams = wait_until(lambda: json.loads(sluice.get("/api/streams")[2])["streams"], 30,
                             what="the stream")
        pid = streams[0]["playback_id"]
        wait_until(
            lambda: sluice.get(f"/{pid}/source/index.m3u8")[0] == 200, 30, what="the playlist")
        # A viewer's keep-alive connection, open before the flood.
        viewer = http.client.HTTPConnection("127.0.0.1", sluice.http_port, timeout=10)

        def playlist():
            viewer.request("GET", f"/{pid}/source/index.m3u8")
            r = viewer.getresponse()
            self.assertEqual(r.status, 200)
            return parse_media_playlist(r.read().decode())[1]

        before = wait_until(playlist, 30, what="a segment")
        idle = [socket.create_connection(("127.0.0.1", sluice.http_port), timeout=10)
                for _ in range(400)]
        try:
            cpu_before = cpu_seconds(sluice.pid)
            time.sleep(5)
            cpu_used = cpu_seconds(sluice.pid) - cpu_before
            # A new connection on either listener is closed at once, not left hanging.
            late = connect(sluice.rtmp_port)
            self.assertTrue(closed_by_peer(late, timeout=5))
            # The viewer keeps being served and the stream keeps going.
            wait_until(lambda: playlist()[-1] != before[-1], 15, what="the playlist to advance")
            viewer.request("GET", "/metrics")
            metrics = viewer.getresponse().read().decode()
            shed = float(re.search(r"^sluice_connections_shed_total (\S+)$", metrics, re.M)[1])
            self.assertGreater(shed, 0)
            self.assertLess(cpu_used, 2.5, "the accept loops spin")
        finally:
            for s in idle:
                s.close()
        lines = [l for l in sluice.output().splitlines() if "accept:" in l]
        self.assertLessEqual(len(lines), 60, "\n".join(lines[-5:]))
        # Descriptors free again: new connections are served.
        wait_until(lambda: sluice.get("/healthz")[0] == 200, 15, what="accepting again")
        viewer.close()


class RoleOptions(unittest.TestCase):
    def test_a_flag_of_another_role_stops_it_with_a_hint(self):
        for args, message in [
                (["origin", "--http-listen", "127.0.0.1:0"], "its listener is --origin-listen"),
                (["proxy", "--rtmp-listen", "127.0.0.1:0"], "its listener is --proxy-listen"),
                (["origin", "--dvr", "off"], "an option of sluice serve")]:
            out = subprocess.run([SLUICE, *args], capture_output=True, timeout=10, text=True)
            self.assertEqual(out.returncode, 2, (args, out.stdout, out.stderr))
            self.assertIn(message, out.stderr, args)
        # A file describing the whole fleet may hold every role's options.
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write('dvr = "off"\n[http]\nlisten = "127.0.0.1:0"\n'
                    '[origin]\nlisten = "127.0.0.1:0"\n')
            f.flush()
            out = subprocess.run([SLUICE, "origin", "--config", f.name, "--check-config"],
                                 capture_output=True, timeout=10, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
