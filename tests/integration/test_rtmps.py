"""RTMPS ingest: ffmpeg and GStreamer's rtmp2sink publishing over TLS to a self-signed
certificate they are told to trust; garbage and stalled TLS handshakes refused without harm;
the certificate replaced on SIGHUP without dropping the publisher."""

import os
import signal
import socket
import ssl
import subprocess

from harness import (Process, Proxy, Redis, Sluice, SluiceTestCase, closed_by_peer, ffmpeg_publish,
                     ffprobe_json, free_port, wait_until)


def make_certificate(directory, name):
    """A self-signed certificate for 127.0.0.1: (cert path, key path, DER bytes)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                         capture_output=True, timeout=10).stdout
    return cert, key, der


def served_certificate(port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


class Rtmps(SluiceTestCase):
    def start(self, *extra):
        self.cert, self.key, self.der = make_certificate(self.workdir, "first")
        self.tls_port = free_port()
        return self.track(Sluice(self.workdir, "--rtmp-tls-listen", f"127.0.0.1:{self.tls_port}",
                                 "--rtmp-tls-cert", self.cert, "--rtmp-tls-key", self.key,
                                 *extra))

    def url(self, key):
        return f"rtmps://127.0.0.1:{self.tls_port}/stream/{key}"

    def test_ffmpeg_and_gstreamer_publish_over_tls(self):
        s = self.start()
        self.assertEqual(served_certificate(self.tls_port), self.der)
        # ffmpeg checks the certificate against the one it is given as its CA.
        self.track(ffmpeg_publish(self.url("ff"), self.path("ff.log"), seconds=20,
                                  size="320x240", extra_out=("-tls_verify", "1",
                                                             "-ca_file", self.cert)))
        ff = s.playback_id("ff")
        wait_until(lambda: s.get(f"/{ff}/live.m3u8")[0] == 200, 20, what="HLS of the ffmpeg stream")
        self.assertRegex(s.output(), r"rtmps#\d+ 127\.0\.0\.1: publishing key")
        # ...and refuses a server whose certificate is not the one it trusts.
        make_certificate(self.workdir, "other")
        wrong = self.track(ffmpeg_publish(self.url("wrong"), self.path("wrong.log"), seconds=5,
                                          size="320x240", extra_out=(
                                              "-tls_verify", "1", "-ca_file",
                                              os.path.join(self.workdir, "other.pem"))))
        self.assertNotEqual(wrong.wait(30), 0)
        # GStreamer's rtmp2sink (GnuTLS through GIO): every check but the unknown CA, which a
        # self-signed certificate is; its name (IP 127.0.0.1) and dates are checked.
        pipeline = (
            "videotestsrc is-live=true num-buffers=450 ! video/x-raw,width=320,height=240,"
            "framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
            "video/x-h264,profile=main ! h264parse ! queue ! mux. "
            "audiotestsrc is-live=true num-buffers=704 ! audio/x-raw,rate=48000,channels=2 ! "
            "avenc_aac ! aacparse ! queue ! mux. flvmux name=mux streamable=true ! "
            f"rtmp2sink location={self.url('gst')} tls-validation-flags=0x7e")
        self.track(Process(["gst-launch-1.0", "-e", *pipeline.split()], self.path("gst.log")))
        gst = s.playback_id("gst")
        wait_until(lambda: s.get(f"/{gst}/live.m3u8")[0] == 200, 20,
                   what="HLS of the GStreamer stream")
        streams = {x["playback_id"]: x for x in s.streams()}
        self.assertLessEqual({ff, gst}, set(streams))
        self.assertNotIn(s.playback_id("wrong"), streams)
        # The publisher's protocol and address, in the API and the metrics.
        self.assertEqual((streams[ff]["protocol"], streams[ff]["remote"]), ("rtmps", "127.0.0.1"))
        metrics = s.get("/metrics")[2].decode()
        for pid in (ff, gst):
            self.assertIn(f'sluice_stream_info{{playback_id="{pid}",protocol="rtmps"}} 1', metrics)

    def test_bad_handshakes_are_refused_and_the_certificate_reloads(self):
        s = self.start("--rtmp-handshake-timeout", "2")
        self.track(ffmpeg_publish(self.url("keeps"), self.path("pub.log"), seconds=40,
                                  size="320x240"))
        pid = s.playback_id("keeps")
        wait_until(lambda: s.get(f"/{pid}/live.m3u8")[0] == 200, 20, what="the RTMPS stream")

        garbage = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
        garbage.sendall(b"\x03" + os.urandom(1536))  # plain RTMP at a TLS port
        self.assertTrue(closed_by_peer(garbage, 10))
        stalled = socket.create_connection(("127.0.0.1", self.tls_port), timeout=10)
        stalled.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello's record header, then nothing
        self.assertTrue(closed_by_peer(stalled, 8))
        for sock in (garbage, stalled):
            sock.close()
        wait_until(lambda: "TLS handshake" in s.output(), 5, what="the refusal logged")
        self.assertIn("handshake/connect timed out", s.output())

        # A renewed certificate: new connections get it, the publisher stays.
        cert, key, der = make_certificate(self.workdir, "second")
        os.replace(cert, self.cert)
        os.replace(key, self.key)
        s.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded the TLS certificate" in s.output(), 5,
                   what="the reload")
        self.assertEqual(served_certificate(self.tls_port), der)
        before = s.get(f"/{pid}/source/index.m3u8")[2]
        wait_until(lambda: s.get(f"/{pid}/source/index.m3u8")[2] != before, 10,
                   what="the stream to go on after the reload")
        self.assertEqual(sum(1 for line in s.output().splitlines()
                             if "publish of" in line and "ended" in line), 0)
        # A broken file keeps the certificate in use.
        with open(self.key, "w") as f:
            f.write("not a key\n")
        s.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "keeping the certificate in use" in s.output(), 5,
                   what="the failed reload")
        self.assertEqual(served_certificate(self.tls_port), der)

    def test_proxy_terminates_rtmps(self):
        cert, key, der = make_certificate(self.workdir, "proxy")
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-ttl", "3", "--registry-resync", "0.5")
        server = self.track(Sluice(self.path("server"), *fleet))
        tls_port = free_port()
        proxy = self.track(Proxy(self.workdir, *fleet, "--playback-secret", server.secret,
                                 "--proxy-tls-listen", f"127.0.0.1:{tls_port}",
                                 "--rtmp-tls-cert", cert, "--rtmp-tls-key", key))
        wait_until(lambda: proxy.metric("sluice_proxy_servers_healthy") == 1, 10,
                   what="the proxy to see the server")
        self.assertEqual(served_certificate(tls_port), der)
        url = f"rtmps://127.0.0.1:{tls_port}/stream"
        tls_options = ("-tls_verify", "1", "-ca_file", cert)
        self.track(ffmpeg_publish(f"{url}/via-proxy", self.path("pub.log"), seconds=30,
                                  size="320x240", extra_out=tls_options))
        pid = server.playback_id("via-proxy")
        wait_until(lambda: server.get(f"/{pid}/live.m3u8")[0] == 200, 20,
                   what="HLS of the stream published over RTMPS through the proxy")
        self.assertRegex(proxy.output(), r"proxy#\d+ 127\.0\.0\.1: publish " + pid)
        # A player over RTMPS through the proxy: the server's messages go out through TLS.
        probe = ffprobe_json(f"{url}/{pid}", (*tls_options, "-read_intervals", "%+1"))
        self.assertEqual({x["codec_type"] for x in probe["streams"]}, {"video", "audio"})
        self.assertEqual(proxy.metric("sluice_proxy_plays_routed_total"), 1)
        garbage = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        garbage.sendall(b"\x03" + os.urandom(1536))
        self.assertTrue(closed_by_peer(garbage, 10))
        garbage.close()
        wait_until(lambda: "TLS handshake" in proxy.output(), 5, what="the refusal logged")


if __name__ == "__main__":
    import unittest
    unittest.main()
