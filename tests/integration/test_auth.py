"""Publish authorization: key file (reloadable), nginx-rtmp-style webhook, duplicates."""

import http.server
import threading
import time
import unittest
import urllib.parse

from harness import SluiceTestCase, ffmpeg_publish, wait_until


class Webhook(http.server.BaseHTTPRequestHandler):
    calls = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = dict(urllib.parse.parse_qsl(body))
        Webhook.calls.append((self.headers["Content-Type"], form))
        name = form.get("name")
        if name == "slowkey":
            time.sleep(3)
        if name == "goodkey":
            self.send_response(200)
        elif name == "renameme":
            self.send_response(302)
            self.send_header("Location", "renamedstream")
        else:
            self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Auth(SluiceTestCase):
    def start_webhook(self):
        Webhook.calls = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def test_key_file_allows_listed_keys_rejects_others_and_reloads(self):
        keys = self.path("keys.txt")
        with open(keys, "w") as f:
            f.write("# comment\nallowedkey\nnamedkey my-show\n")
        sluice = self.start_sluice("--auth", f"file:{keys}")

        bad = self.track(ffmpeg_publish(sluice.rtmp_url("wrongkey"), self.path("bad.log"), 5))
        self.assertNotEqual(bad.wait(30), 0)
        self.assertIn("rejected", sluice.output())
        # The encoder was told why (NetStream.Publish.BadName with a description), not just cut.
        self.assertIn("Server error: not authorized: unknown stream key", bad.output())

        good = self.track(ffmpeg_publish(sluice.rtmp_url("namedkey"), self.path("good.log"), 6))
        sluice.wait_master("my-show")  # the key file's second column names the playback ID
        good.wait(60)

        with open(keys, "a") as f:
            f.write("newkey\n")
        later = self.track(ffmpeg_publish(sluice.rtmp_url("newkey"), self.path("new.log"), 5))
        sluice.wait_master(sluice.playback_id("newkey"))
        later.wait(60)

    def test_webhook_allows_renames_and_rejects(self):
        port = self.start_webhook()
        sluice = self.start_sluice("--auth", f"webhook:http://127.0.0.1:{port}/on_publish",
                                   "--auth-timeout", "1")
        good = self.track(ffmpeg_publish(sluice.rtmp_url("goodkey?youtube=abc"),
                                         self.path("good.log"), 5))
        sluice.wait_master(sluice.playback_id("goodkey"))
        content_type, form = Webhook.calls[0]
        self.assertEqual(content_type, "application/x-www-form-urlencoded")
        self.assertEqual((form["call"], form["app"], form["name"], form["addr"], form["youtube"]),
                         ("publish", "stream", "goodkey", "127.0.0.1", "abc"))
        good.wait(60)

        renamed = self.track(ffmpeg_publish(sluice.rtmp_url("renameme"), self.path("r.log"), 5))
        sluice.wait_master("renamedstream")
        renamed.wait(60)

        denied = self.track(ffmpeg_publish(sluice.rtmp_url("otherkey"), self.path("d.log"), 5))
        self.assertNotEqual(denied.wait(30), 0)
        slow = self.track(ffmpeg_publish(sluice.rtmp_url("slowkey"), self.path("s.log"), 5))
        self.assertNotEqual(slow.wait(30), 0)
        log = sluice.output()
        self.assertIn("webhook: answered 403", log)
        self.assertIn("webhook: timed out", log)
        self.assertEqual(sluice.get(f"/{sluice.playback_id('otherkey')}/live.m3u8")[0], 404)

    def test_invalid_key_is_refused_before_auth(self):
        port = self.start_webhook()
        sluice = self.start_sluice("--auth", f"webhook:http://127.0.0.1:{port}/")
        bad = self.track(ffmpeg_publish(sluice.rtmp_url("bad.key"), self.path("b.log"), 3))
        self.assertNotEqual(bad.wait(30), 0)
        self.assertEqual(Webhook.calls, [])
        self.assertIn("invalid stream key", sluice.output())

    def test_second_publisher_is_rejected_or_takes_over(self):
        sluice = self.start_sluice()
        pid = sluice.playback_id("dupkey")
        first = self.track(ffmpeg_publish(sluice.rtmp_url("dupkey"), self.path("1.log"), 14))
        sluice.wait_master(pid)
        second = self.track(ffmpeg_publish(sluice.rtmp_url("dupkey"), self.path("2.log"), 5))
        self.assertNotEqual(second.wait(30), 0)
        self.assertIn("already publishing", sluice.output())
        self.assertIn("Server error: stream already publishing", second.output())
        self.assertTrue(first.alive())
        first.stop()

        sluice2 = self.start_sluice("--rtmp-takeover", "true")
        a = self.track(ffmpeg_publish(sluice2.rtmp_url("dupkey"), self.path("a.log"), 30))
        sluice2.wait_master(pid)
        b = self.track(ffmpeg_publish(sluice2.rtmp_url("dupkey"), self.path("b.log"), 6))
        wait_until(lambda: not a.alive(), 20, what="the first publisher to be cut off")
        self.assertIn("taken over", sluice2.output())
        self.assertEqual(b.wait(60), 0)


if __name__ == "__main__":
    unittest.main()
