"""Stream lifecycle: ENDLIST at the end, republish continuity, and the grace period."""

import unittest

from harness import SluiceTestCase, ffmpeg_publish, parse_media_playlist, wait_until


class Lifecycle(SluiceTestCase):
    hls_format = "mpegts"  # these tests read MPEG-TS segments

    def playlist(self, sluice, pid):
        status, _, body = sluice.get(f"/{pid}/source/index.m3u8")
        return status, body.decode()

    def test_republish_continues_sequence_with_discontinuity_then_grace_expires(self):
        sluice = self.start_sluice("--hls-grace", "4", "--hls-window", "20",
                                   "--hls-endlist-delay", "1")
        key = "lifekey"
        pid = sluice.playback_id(key)
        first = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("1.log"), seconds=6))
        sluice.wait_master(pid)
        first.wait(60)
        wait_until(lambda: "#EXT-X-ENDLIST" in self.playlist(sluice, pid)[1], 15, what="ENDLIST")
        _, before = parse_media_playlist(self.playlist(sluice, pid)[1])

        second = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("2.log"), seconds=6))
        wait_until(lambda: len(parse_media_playlist(self.playlist(sluice, pid)[1])[1]) >
                   len(before) + 1, 20, what="segments of the republish")
        tags, after = parse_media_playlist(self.playlist(sluice, pid)[1])
        self.assertNotIn("#EXT-X-ENDLIST", self.playlist(sluice, pid)[1])
        seqs = [int(uri[:-3]) for _, uri, _ in after]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "numbers continue")
        first_new = len(before)
        self.assertEqual(after[first_new][1], f"{int(before[-1][1][:-3]) + 1}.ts")
        self.assertTrue(after[first_new][2], "EXT-X-DISCONTINUITY before the republish")
        self.assertFalse(any(d for _, _, d in after[:first_new]))
        second.wait(60)

        # After the grace period the stream is gone, and a new session starts numbering at
        # the current epoch milliseconds (never reusing a number).
        wait_until(lambda: self.playlist(sluice, pid)[0] == 404, 20, what="grace expiry")
        third = self.track(ffmpeg_publish(sluice.rtmp_url(key), self.path("3.log"), seconds=5))
        sluice.wait_master(pid)
        wait_until(lambda: parse_media_playlist(self.playlist(sluice, pid)[1])[1], 20,
                   what="a segment of the new session")
        _, fresh = parse_media_playlist(self.playlist(sluice, pid)[1])
        self.assertGreater(int(fresh[0][1][:-3]), seqs[-1] + 1000)
        third.wait(60)


if __name__ == "__main__":
    unittest.main()
