"""The player page in a real browser (Debian's chromium driven by playwright-core): it lists
the live stream, plays it, switches rendition, and plays the recording. Screenshots are kept
under the test artifacts (web/)."""

import json
import os
import subprocess
import unittest

from harness import ARTIFACTS, SluiceTestCase, ffmpeg_publish

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tools")


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

        shots = os.path.join(ARTIFACTS, "web") if ARTIFACTS else self.path("shots")
        os.makedirs(shots, exist_ok=True)
        out = subprocess.run(["node", os.path.join(TOOLS, "web_check.mjs"),
                              sluice.http_url("/"), playback_id, shots],
                             capture_output=True, timeout=240)
        lines = out.stdout.decode().strip().splitlines()
        self.assertTrue(lines, out.stderr.decode()[-3000:])
        result = json.loads(lines[-1])
        self.assertTrue(result["ok"], f"{result}\n{out.stderr.decode()[-3000:]}")
        self.assertEqual(result["renditions"], "180p, 240p")
        self.assertEqual(sorted(result["levels"]), [180, 240])
        self.assertIn("180p", result["switched_to_0"])
        self.assertIn("240p", result["switched_to_1"])
        self.assertTrue(os.path.getsize(os.path.join(shots, "player-live.png")) > 10_000)
        self.assertTrue(os.path.exists(os.path.join(shots, "player-recording.png")))
        # The browser counted as an HLS viewer while it played.
        self.assertGreaterEqual(max(s["viewers"] for s in sluice.streams()), 1)


if __name__ == "__main__":
    unittest.main()
