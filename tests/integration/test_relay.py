"""Relays (restreaming): publish options push the stream, codec copy, to other RTMP servers:
a second `sluice serve`, nginx-rtmp (standing in for YouTube through a configured URL
template), and an RTMPS endpoint (socat terminating TLS). A destination that drops is
reconnected without touching the stream."""

import os
import unittest
import urllib.parse

from harness import (NginxRtmp, Sluice, SluiceTestCase, TlsTerminator, ffmpeg_publish,
                     ffprobe_json, free_port, parse_media_playlist, wait_until)


def relays_of(sluice, playback_id):
    for s in sluice.streams():
        if s["playback_id"] == playback_id:
            return {r["destination"]: r for r in s.get("relays", [])}
    return {}


def video_of(probe):
    return [s for s in probe["streams"] if s["codec_type"] == "video"][0]


class Relay(SluiceTestCase):
    def second_server(self, name="b", rtmp_port=0):
        return self.track(Sluice(os.path.join(self.workdir, name), rtmp_port=rtmp_port))

    def test_push_to_sluice_and_youtube_template_to_nginx_rtmp(self):
        b = self.second_server()
        nginx = self.track(NginxRtmp(self.workdir, app="live2"))
        a = self.start_sluice("--relay-youtube-url",
                              f"rtmp://127.0.0.1:{nginx.port}/live2/{{key}}")
        push = urllib.parse.quote(b.rtmp_url("relayed"), safe="")
        key = "source-key"
        publisher = self.track(ffmpeg_publish(
            a.rtmp_url(key) + f"?push={push}&youtube=yt-secret&youtube_x=1", self.path("ffmpeg.log"),
            seconds=14))
        playback_id = a.playback_id(key)
        wait_until(lambda: {r["state"] for r in relays_of(a, playback_id).values()} == {"live"},
                   20, what="both relays live")
        relays = relays_of(a, playback_id)
        self.assertEqual(set(relays), {"push1", "youtube"})
        self.assertEqual(relays["youtube"]["url"], f"rtmp://127.0.0.1:{nginx.port}/live2/***")
        self.assertNotIn("yt-secret", a.get("/metrics")[2].decode() + a.output())

        # The copy reaches nginx-rtmp with the source's codecs and size.
        probe = ffprobe_json(nginx.url("yt-secret?x=1"), extra=("-rw_timeout", "5000000"))
        self.assertEqual(video_of(probe)["codec_name"], "h264")
        self.assertEqual((video_of(probe)["width"], video_of(probe)["height"]), (640, 360))
        self.assertIn("aac", [s["codec_name"] for s in probe["streams"]])

        # ... and the second sluice serves it as HLS.
        relayed_id = b.playback_id("relayed")
        b.wait_master(relayed_id)
        self.assertEqual(publisher.wait(60), 0)
        wait_until(lambda: {r["state"] for r in relays_of(a, playback_id).values()}
                   <= {"stopped"}, 20, what="relays to stop with the stream")
        _, _, body = b.get(f"/{relayed_id}/source/index.m3u8")
        _, segments = parse_media_playlist(body.decode())
        self.assertGreaterEqual(len(segments), 4)
        self.assertGreater(a.metric('sluice_publishes_total'), 0)

    def test_encoding_profile_for_twitch(self):
        nginx = self.track(NginxRtmp(self.workdir, app="app"))
        a = self.start_sluice("--relay-twitch-url", f"rtmp://127.0.0.1:{nginx.port}/app/{{key}}",
                              "--relay-youtube-url", "rtmp://127.0.0.1:1/live2/{key}",
                              "--relay-encode", "twitch:320x180:400k:800k:64k")
        publisher = self.track(ffmpeg_publish(a.rtmp_url("enc") + "?twitch=tw-key&youtube=yt",
                                              self.path("ffmpeg.log"), seconds=14))
        playback_id = a.playback_id("enc")
        relay = wait_until(lambda: relays_of(a, playback_id).get("twitch", {}).get("state")
                           == "live" and relays_of(a, playback_id)["twitch"], 20,
                           what="the twitch relay to go live")
        self.assertEqual(relay["profile"], "320x180")
        self.assertEqual(relays_of(a, playback_id)["youtube"]["profile"], "copy")  # unreachable
        probe = ffprobe_json(nginx.url("tw-key"), extra=("-rw_timeout", "5000000"))
        video = video_of(probe)
        self.assertEqual((video["codec_name"], video["width"], video["height"]),
                         ("h264", 320, 180))
        self.assertIn("aac", [s["codec_name"] for s in probe["streams"]])
        self.assertEqual(publisher.wait(60), 0)

    def test_a_destination_that_drops_is_reconnected(self):
        b_port = free_port()
        b = self.second_server(rtmp_port=b_port)
        a = self.start_sluice("--relay-retry-max", "1")
        push = urllib.parse.quote(f"rtmp://127.0.0.1:{b_port}/stream/relayed", safe="")
        key = "drop-key"
        publisher = self.track(ffmpeg_publish(a.rtmp_url(key) + f"?push={push}",
                                              self.path("ffmpeg.log"), seconds=24))
        playback_id = a.playback_id(key)
        wait_until(lambda: relays_of(a, playback_id).get("push1", {}).get("state") == "live", 20,
                   what="relay live")
        b.stop()  # the destination goes away mid-stream
        wait_until(lambda: relays_of(a, playback_id)["push1"]["failures"] >= 1, 20,
                   what="the relay to notice")
        b2 = self.second_server(name="b2", rtmp_port=b_port)
        wait_until(lambda: relays_of(a, playback_id)["push1"]["connects"] >= 2, 30,
                   what="the relay to reconnect")
        b2.wait_master(b2.playback_id("relayed"))
        # The source stream never noticed: its publisher ran to the end.
        self.assertEqual(publisher.wait(60), 0)
        self.assertIn("relay push1", a.output())

    def test_rtmps_with_certificate_checks(self):
        b = self.second_server()
        tls = self.track(TlsTerminator(self.workdir, b.rtmp_port))
        url = urllib.parse.quote(f"rtmps://127.0.0.1:{tls.port}/stream/secure", safe="")
        # Trusting the endpoint's certificate: the push goes through.
        a = self.start_sluice("--relay-tls-ca-file", tls.cert)
        publisher = self.track(ffmpeg_publish(a.rtmp_url("tls-key") + f"?push={url}",
                                              self.path("ffmpeg.log"), seconds=10))
        b.wait_master(b.playback_id("secure"))
        self.assertEqual(publisher.wait(60), 0)

    def test_rtmps_refuses_an_untrusted_certificate(self):
        b = self.second_server()
        tls = self.track(TlsTerminator(self.workdir, b.rtmp_port))
        url = urllib.parse.quote(f"rtmps://127.0.0.1:{tls.port}/stream/secure", safe="")
        a = self.start_sluice()  # no CA for the self-signed certificate
        publisher = self.track(ffmpeg_publish(a.rtmp_url("tls-key") + f"?push={url}",
                                              self.path("ffmpeg.log"), seconds=8))
        playback_id = a.playback_id("tls-key")

        def settled():
            relay = relays_of(a, playback_id).get("push1", {})
            return (relay.get("connects") or relay.get("failures")) and relay
        # Once the relay has either published or failed, it must have failed on TLS, without
        # ever publishing a byte.
        relay = wait_until(settled, 20, what="the relay to go live or fail")
        self.assertEqual((relay["connects"], relay["bytes_sent"]), (0, 0), relay)
        self.assertGreaterEqual(relay["failures"], 1, relay)
        self.assertIn("tls", relay["last_error"])
        self.assertEqual(b.get(f"/{b.playback_id('secure')}/live.m3u8")[0], 404)
        publisher.stop()

    def test_operator_can_forbid_push_urls(self):
        b = self.second_server()
        a = self.start_sluice("--relay-allow", "youtube,facebook,twitch")
        push = urllib.parse.quote(b.rtmp_url("relayed"), safe="")
        publisher = self.track(ffmpeg_publish(a.rtmp_url("k") + f"?push={push}",
                                              self.path("ffmpeg.log"), seconds=6))
        a.wait_master(a.playback_id("k"))
        self.assertEqual(relays_of(a, a.playback_id("k")), {})
        self.assertIn("push URLs are not allowed", a.output())
        self.assertEqual(publisher.wait(60), 0)
        self.assertEqual(b.get(f"/{b.playback_id('relayed')}/live.m3u8")[0], 404)


if __name__ == "__main__":
    unittest.main()
