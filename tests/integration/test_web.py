"""The player page in a real browser (Debian's chromium driven by playwright-core): it lists
the live stream, plays it, switches rendition, and plays the recording. Screenshots are kept
under the test artifacts (web/)."""

import unittest

from harness import SluiceTestCase, ffmpeg_publish


class PlayerPage(SluiceTestCase):
    def test_page_plays_live_switches_rendition_and_plays_recording(self):
        sluice = self.start_sluice(ladder="180p:320x180:300k:600k:64k,240p:426x240:500k:1000k:64k")
        status, headers, body = sluice.get("/")
        self.assertEqual(status, 200)
        self.assertIn(b"hls.min.js", body)
        status, headers, body = sluice.get("/web/hls.min.js")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        self.assertGreater(len(body), 100_000)

        key = "web-key"
        self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("ffmpeg.log"), seconds=90))
        playback_id = sluice.playback_id(key)
        sluice.wait_master(playback_id)

        self.check_player_page(sluice.http_url("/"), playback_id, "web")
        # The browser counted as an HLS viewer while it played.
        self.assertGreaterEqual(max(s["viewers"] for s in sluice.streams()), 1)


if __name__ == "__main__":
    unittest.main()
