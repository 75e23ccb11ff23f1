"""Thumbnails: /<playbackId>/thumbnail.jpg is the latest keyframe of a live stream as a JPEG
(ffprobe reads it), scaled to thumbnail.width, made only when asked and kept for
thumbnail.interval, and served through the origin with the server's max-age."""

import json

from harness import (Origin, Redis, Sluice, SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     wait_until)


class Thumbnail(SluiceTestCase):
    def probe(self, data, name):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        stream = ffprobe_json(path)["streams"][0]
        return stream["codec_name"], stream["width"], stream["height"]

    def test_latest_keyframe_as_jpeg_through_server_and_origin(self):
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-resync", "0.5")
        s = self.track(Sluice(self.workdir, *fleet, "--thumbnail-width", "320",
                              "--thumbnail-interval", "30"))
        origin = self.track(Origin(self.workdir, *fleet))
        self.track(ffmpeg_publish(s.rtmp_url("thumbs"), self.path("pub.log"), seconds=60,
                                  size="640x360", gop=30))
        pid = s.playback_id("thumbs")
        self.assertEqual(s.get(f"/{pid}/thumbnail.jpg")[0], 404)  # not live yet
        s.wait_master(pid)
        self.assertEqual(s.metric("sluice_thumbnails_made_total"), 0)  # nobody asked yet

        status, headers, body = s.get(f"/{pid}/thumbnail.jpg")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "image/jpeg")
        self.assertEqual(headers["Cache-Control"], "max-age=30")
        self.assertEqual(headers["Access-Control-Allow-Origin"], "*")
        self.assertEqual(self.probe(body, "a.jpg"), ("mjpeg", 320, 180))
        # Kept for the interval: the same picture, not made again.
        self.assertEqual(s.get(f"/{pid}/thumbnail.jpg")[2], body)
        self.assertEqual(s.metric("sluice_thumbnails_made_total"), 1)
        self.assertGreaterEqual(s.metric("sluice_thumbnails_reused_total"), 1)

        # Through the origin: the same picture, cached for the server's max-age.
        wait_until(lambda: redis.cli("EXISTS", f"sluice:stream:{pid}") == "1", 15,
                   what="the stream in the registry")
        status, headers, via = origin.get(f"/{pid}/thumbnail.jpg")
        self.assertEqual(status, 200)
        self.assertEqual(via, body)
        self.assertEqual(headers["Cache-Control"], "max-age=30")
        self.assertEqual(origin.get(f"/{pid}/thumbnail.jpg")[1]["X-Cache"], "HIT")
        self.assertEqual(origin.get("/nosuchstream/thumbnail.jpg")[0], 404)
        self.assertEqual(s.get("/nosuchstream/thumbnail.jpg")[0], 404)
        streams = json.loads(s.get("/api/streams")[2])["streams"]
        self.assertEqual([x["playback_id"] for x in streams], [pid])

    def test_refreshed_after_the_interval_and_off_when_zero(self):
        s = self.track(Sluice(self.workdir, "--thumbnail-interval", "1"))
        self.track(ffmpeg_publish(s.rtmp_url("fresh"), self.path("pub.log"), seconds=60,
                                  size="320x240", gop=30))
        pid = s.playback_id("fresh")
        s.wait_master(pid)
        first = s.get(f"/{pid}/thumbnail.jpg")
        self.assertEqual(first[0], 200)
        self.assertEqual(self.probe(first[2], "a.jpg"), ("mjpeg", 320, 240))  # never upscaled
        # A second later there is a newer keyframe (one a second): a new picture is made.
        wait_until(lambda: s.get(f"/{pid}/thumbnail.jpg")[2] != first[2] and
                   s.metric("sluice_thumbnails_made_total") >= 2, 10, what="a newer picture")

        off = self.track(Sluice(self.path("off"), "--thumbnail-interval", "0"))
        self.track(ffmpeg_publish(off.rtmp_url("dark"), self.path("dark.log"), seconds=30,
                                  size="320x240", gop=30))
        dark = off.playback_id("dark")
        off.wait_master(dark)
        self.assertEqual(off.get(f"/{dark}/thumbnail.jpg")[0], 404)
