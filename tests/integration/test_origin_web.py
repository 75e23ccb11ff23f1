"""The player page through `sluice origin`: a real redis-server, one `sluice serve` node
transcoding and recording a stream, and an origin. The page, /api/streams and /api/recordings
(merged across the fleet), a recording and its segments under /node/<address>/, and the page
playing live and the recording in a real browser through the origin (screenshots under the
test artifacts, web-origin/)."""

import json
import threading
import time
import unittest
import urllib.request

from harness import (Origin, Redis, Sluice, SluiceTestCase, ffmpeg_publish,
                     parse_media_playlist, wait_until)

API_FRESH = 1.0  # seconds the origin keeps its merged /api/* answers (origin.api_fresh)


class OriginPlayerPage(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def api(self, path):
        status, headers, body = self.origin.get(path)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "application/json")
        return json.loads(body)

    def origin_stream(self, pid):
        return next((s for s in self.api("/api/streams")["streams"]
                     if s["playback_id"] == pid), None)

    def test_page_and_fleet_apis_through_the_origin(self):
        redis = self.track(Redis(self.workdir))
        fleet_args = ("--registry", redis.url, "--registry-ttl", "3", "--registry-resync", "0.5")
        server = self.track(Sluice(self.path("server"), *fleet_args,
                                   ladder="180p:320x180:300k:600k:64k,240p:426x240:500k:1000k:64k",
                                   hls_format=self.hls_format))
        self.origin = self.track(Origin(self.workdir, *fleet_args))
        node = f"127.0.0.1:{server.http_port}"

        status, _, body = self.origin.get("/")
        self.assertEqual(status, 200)
        self.assertIn(b"hls.min.js", body)
        status, headers, body = self.origin.get("/web/hls.min.js")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        self.assertGreater(len(body), 100_000)
        self.assertEqual(self.origin.get("/web/nothing.js")[0], 404)
        self.assertEqual(self.api("/api/streams"), {"streams": []})

        key = "origin-web-key"
        pid = server.playback_id(key)
        self.track(ffmpeg_publish(server.rtmp_url(key), self.path("ffmpeg.log"), seconds=60))
        stream = wait_until(lambda: self.origin_stream(pid), 30,
                            what="the stream in the origin's /api/streams")
        self.assertEqual([r["name"] for r in stream["transcode"]["rungs"]], ["180p", "240p"])
        self.assertEqual(stream["node"], node)
        self.assertEqual(stream["master"], f"/{pid}/live.m3u8")
        server.wait_master(pid)  # listed as the publish starts; playable at its first segments

        # Viewers are the origin's: a client of the server itself does not count, one of the
        # origin does (after the merged answer's cache time).
        self.assertEqual(server.get(f"/{pid}/180p/index.m3u8")[0], 200)
        time.sleep(API_FRESH + 0.2)
        self.assertEqual(self.origin_stream(pid)["viewers"], 0)
        self.assertEqual(self.origin.get(f"/{pid}/180p/index.m3u8")[0], 200)
        wait_until(lambda: self.origin_stream(pid)["viewers"] == 1, 5, what="the origin's viewer")

        # A herd of pages polling at once makes one request to the server.
        time.sleep(API_FRESH + 0.2)
        before = server.metric("sluice_http_requests_total")
        answers, barrier = [], threading.Barrier(20)

        def poll():
            barrier.wait()
            with urllib.request.urlopen(self.origin.http_url("/api/streams"), timeout=20) as r:
                answers.append(json.loads(r.read()))

        threads = [threading.Thread(target=poll) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(answers), 20)
        self.assertTrue(all(a["streams"][0]["playback_id"] == pid for a in answers))
        # One /api/streams, plus this metrics read itself.
        self.assertEqual(server.metric("sluice_http_requests_total") - before, 2)

        # The recording, played from its server through the origin.
        def recording():
            return next((r for r in self.api("/api/recordings")["recordings"]
                         if r["playback_id"] == pid and r["segments"] > 0), None)

        rec = wait_until(recording, 30, what="the recording in the origin's /api/recordings")
        self.assertEqual(rec["node"], node)
        self.assertEqual(rec["playlist"], f"/node/{node}/recordings/{pid}/vod-{rec['id']}.m3u8")
        status, headers, body = self.origin.get(rec["playlist"])
        self.assertEqual((status, headers["Content-Type"]), (200, "application/vnd.apple.mpegurl"))
        _, segments = parse_media_playlist(body.decode())
        self.assertTrue(segments)
        segment = f"/node/{node}/recordings/{pid}/{segments[0][1]}"  # relative URIs resolve here
        status, headers, body = self.origin.get(segment)
        self.assertEqual((status, body[0]), (200, 0x47))
        self.assertEqual(headers["Cache-Control"], "max-age=31536000")
        self.assertEqual(self.origin.get(segment)[1]["X-Cache"], "HIT")
        # Only the fleet's own servers, and only their recordings.
        for bad in (f"/node/127.0.0.1:1/recordings/{pid}/vod-{rec['id']}.m3u8",
                    f"/node/{node}/api/streams", f"/node/{node}/{pid}/live.m3u8",
                    f"/node/{node}/metrics", f"/node/{node}"):
            self.assertEqual(self.origin.get(bad)[0], 404, bad)

        # A server that is registered but does not answer is left out; the answer is still 200.
        dead = "127.0.0.1:1"
        redis.cli("SET", f"sluice:node:{dead}", json.dumps(
            {"address": dead, "rtmp": "127.0.0.1:2", "capacity": 1, "load": 0,
             "draining": False}), "EX", "30")
        wait_until(lambda: json.loads(self.origin.get("/status")[2])["registry"]["nodes"] == 2,
                   5, what="the origin to see the dead server")
        errors = self.origin.metric("sluice_origin_upstream_errors_total")
        time.sleep(API_FRESH + 0.2)
        self.assertEqual([s["playback_id"] for s in self.api("/api/streams")["streams"]], [pid])
        self.assertGreater(self.origin.metric("sluice_origin_upstream_errors_total"), errors)
        self.assertIn(f"origin: {dead} skipped in /api/streams", self.origin.output())
        redis.cli("DEL", f"sluice:node:{dead}")

        self.assertGreater(self.origin.metric("sluice_origin_upstream_latency_seconds_count"), 0)
        self.assertGreater(self.origin.metric("process_resident_memory_bytes"), 0)

        # The page, through the origin, in a real browser.
        result = self.check_player_page(self.origin.http_url("/"), pid, "web-origin", timeout=120)
        self.assertTrue(result["recording_url"].startswith(f"/node/{node}/recordings/"), result)


if __name__ == "__main__":
    unittest.main()
