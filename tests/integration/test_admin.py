"""Admin API: a listener of its own, bearer token on every request; lists streams and
recordings, kicks a publisher, reloads the key file, drains the node."""

import json
import os
import re
import subprocess
import unittest
import urllib.error
import urllib.request

from harness import SLUICE, SluiceTestCase, ffmpeg_publish, wait_until

TOKEN = "admin-token-0123456789"


class Admin(SluiceTestCase):
    def start(self, *extra):
        sluice = self.start_sluice("--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN, *extra)
        m = wait_until(lambda: re.search(r"admin API listening on [\d.]+:(\d+)", sluice.output()),
                       10, what="the admin listener")
        self.admin_port = int(m.group(1))
        return sluice

    def call(self, path, method="GET", token=TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", method=method,
                                     headers=headers, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def test_token_is_required_and_public_port_has_no_admin(self):
        sluice = self.start()
        self.assertEqual(self.call("/admin/streams", token=None)[0], 401)
        self.assertEqual(self.call("/admin/streams", token="wrong-token-0123456789")[0], 401)
        self.assertEqual(self.call("/admin/streams")[0], 200)
        self.assertEqual(sluice.get("/admin/streams")[0], 404)  # not on the public listener
        self.assertEqual(sluice.get("/api/streams", method="POST")[0], 405)

    def test_refuses_to_start_without_a_strong_token(self):
        out = subprocess.run([SLUICE, "serve", "--admin-listen", "127.0.0.1:0", "--admin-token",
                              "short", "--data-dir", self.path("data")],
                             capture_output=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("admin.token of at least 16 characters", (out.stdout + out.stderr).decode())

    def test_list_kick_reload_recordings_and_drain(self):
        keys = self.path("keys.txt")
        with open(keys, "w") as f:
            f.write("first\n")
        sluice = self.start("--auth", f"file:{keys}", "--hls-endlist-delay", "1")
        first = self.track(ffmpeg_publish(sluice.rtmp_url("first"), self.path("first.log"),
                                          seconds=30))
        playback_id = sluice.playback_id("first")
        sluice.wait_master(playback_id)
        status, body = self.call("/admin/streams")
        self.assertEqual([s["playback_id"] for s in body["streams"]], [playback_id])

        status, body = self.call(f"/admin/streams/{playback_id}/kick", method="POST")
        self.assertEqual((status, body), (200, {"kicked": playback_id}))
        self.assertNotEqual(first.wait(20), 0)  # the encoder was cut off well before its 30 s
        wait_until(lambda: self.call("/admin/streams")[1]["streams"] == [], 10,
                   what="the stream to go")
        self.assertEqual(self.call("/admin/streams/nope/kick", method="POST")[0], 404)
        wait_until(lambda: [r for r in self.call("/admin/recordings")[1]["recordings"]
                            if r["playback_id"] == playback_id and r["finished"]], 20,
                   what="the kicked session's recording")

        # The key file is also re-read when its mtime changes: put the old mtime back, so only
        # the reload can make the server see the new key. Until then the key is refused.
        before = os.stat(keys)
        with open(keys, "a") as f:
            f.write("second\n")
        os.utime(keys, ns=(before.st_atime_ns, before.st_mtime_ns))
        early = self.track(ffmpeg_publish(sluice.rtmp_url("second"), self.path("early.log"),
                                          seconds=4))
        self.assertNotEqual(early.wait(30), 0)
        self.assertIn("unknown stream key", sluice.output())
        self.assertEqual(self.call("/admin/reload", method="POST"), (200, {"reloaded": True}))
        self.assertEqual(self.call("/admin/reload")[0], 405)
        second = self.track(ffmpeg_publish(sluice.rtmp_url("second"), self.path("second.log"),
                                           seconds=4))
        sluice.wait_master(sluice.playback_id("second"))
        self.assertEqual(second.wait(60), 0)

        status, body = self.call("/admin/drain", method="POST")
        self.assertEqual((status, body["draining"]), (200, True))
        refused = self.track(ffmpeg_publish(sluice.rtmp_url("second"), self.path("refused.log"),
                                            seconds=4))
        self.assertNotEqual(refused.wait(30), 0)
        self.assertIn("draining", sluice.output())
        self.assertTrue(sluice.alive())  # draining is not stopping


if __name__ == "__main__":
    unittest.main()
