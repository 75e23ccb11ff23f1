"""Hostile and broken clients get a log line and a closed connection; a good stream running
beside them is unaffected."""

import os
import socket
import struct
import time
import unittest

from harness import SluiceTestCase, ffmpeg_publish, parse_media_playlist, wait_until


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def handshake(s):
    s.sendall(b"\x03" + bytes(1536))
    got = b""
    while len(got) < 3073:
        chunk = s.recv(8192)
        if not chunk:
            raise AssertionError("server closed during handshake")
        got += chunk
    s.sendall(got[1:1537])  # C2 echoes S1


def closed_by_peer(s, timeout=10):
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


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
        handshake(s)
        s.sendall(os.urandom(4096))
        self.assertTrue(closed_by_peer(s))
        # 3. A message length past the limit (fmt 0, csid 3, length 0xFFFFFF, type 20).
        s = connect(sluice.rtmp_port)
        handshake(s)
        s.sendall(bytes([0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0]) + b"\x02")
        self.assertTrue(closed_by_peer(s))
        # 4. Set Chunk Size 0 (out of range).
        s = connect(sluice.rtmp_port)
        handshake(s)
        s.sendall(bytes([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0]) + struct.pack(">I", 0))
        self.assertTrue(closed_by_peer(s))
        # 5. An AMF0 command nested 100 deep (limit 16).
        body = b"\x02\x00\x07connect" + b"\x00" + bytes(8) + b"\x0a\x00\x00\x00\x01" * 100
        s = connect(sluice.rtmp_port)
        handshake(s)
        s.sendall(bytes([0x03, 0, 0, 0]) + len(body).to_bytes(3, "big") + bytes([20, 0, 0, 0, 0])
                  + body[:128] + b"".join(bytes([0xC3]) + body[i:i + 128]
                                          for i in range(128, len(body), 128)))
        self.assertTrue(closed_by_peer(s))
        # 6. Stalls mid-handshake and after it: closed by the timeouts.
        stall1 = connect(sluice.rtmp_port)
        stall1.sendall(b"\x03" + bytes(100))
        stall2 = connect(sluice.rtmp_port)
        handshake(stall2)
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


if __name__ == "__main__":
    unittest.main()
