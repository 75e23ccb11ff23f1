"""Signed playback: tokens minted by a third party's library (Debian's python3-jwt, PyJWT,
run by Debian's own python3) open a stream's HLS files, thumbnail and RTMP play; tampered,
expired, wrong-key, wrong-stream, wrong-address, alg=none, HS/RS-confused and huge tokens
are refused with a 403 that says which. A token in the query travels on in the playlists'
URIs (ffprobe follows them); one in a cookie works too."""

import base64
import hashlib
import hmac
import json
import subprocess
import time

from harness import (Origin, Redis, Sluice, SluiceTestCase, ffmpeg_publish, ffprobe_json,
                     wait_until)

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-jwt
SECRET = "0123456789abcdef0123456789abcdef-signing"


def mint(claims, key, alg="HS256"):
    code = ("import json, sys, jwt; a = json.loads(sys.argv[1]); "
            "print(jwt.encode(a['claims'], a['key'], algorithm=a['alg']))")
    out = subprocess.run([SYSTEM_PYTHON, "-c", code,
                          json.dumps({"claims": claims, "key": key, "alg": alg})],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"PyJWT: {out.stderr}")
    return out.stdout.strip()


def hs256_by_hand(claims, secret):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = (b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." +
                     b64(json.dumps(claims).encode()))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


class SignedPlayback(SluiceTestCase):
    def test_hs256_tokens_on_hls_thumbnail_and_rtmp_play(self):
        s = self.track(Sluice(self.workdir, "--playback-token-secret", SECRET))
        self.track(ffmpeg_publish(s.rtmp_url("private"), self.path("pub.log"), seconds=90,
                                  size="320x240", gop=30))
        pid = s.playback_id("private")
        later = int(time.time()) + 600

        def token(**claims):
            return mint({"sub": pid, "exp": later, **claims}, SECRET)

        good = token()
        # The master playlist, once it is there, and what each refusal says.
        deadline = time.time() + 30
        while s.get(f"/{pid}/live.m3u8?token={good}")[0] != 200 and time.time() < deadline:
            time.sleep(0.3)
        refusals = {
            "": "no playback token",
            "not.a.jwt": "malformed playback token",
            "x" * 5000: "malformed playback token",
            token()[:-4] + "AAAA": "playback token signature does not verify",
            mint({"sub": pid, "exp": later}, "another secret of a good length, 32+"):
                "playback token signature does not verify",
            mint({"sub": pid, "exp": int(time.time()) - 5}, SECRET): "playback token expired",
            mint({"sub": "someoneelse", "exp": later}, SECRET): "playback token is for another stream",
            token(ip="192.0.2.1"): "playback token is for another address",
            mint({"sub": pid, "exp": later}, SECRET, "HS512"):
                "playback token signed with another algorithm",
            mint({"sub": pid, "exp": later}, None, "none"):
                "playback token signed with another algorithm",
        }
        for bad, why in refusals.items():
            status, _, body = s.get(f"/{pid}/live.m3u8?token={bad}")
            self.assertEqual((status, body.decode().split(":")[0].strip()), (403, why), bad[:40])
        for path in (f"/{pid}/thumbnail.jpg", f"/{pid}/source/index.m3u8"):
            self.assertEqual(s.get(path)[0], 403)
            self.assertEqual(s.get(f"{path}?token={good}")[0], 200)
        self.assertEqual(s.get(f"/{pid}/live.m3u8?token={token(ip='127.0.0.1')}")[0], 200)

        # The token goes on in every URI of the playlists: ffprobe follows them and decodes.
        status, _, master = s.get(f"/{pid}/live.m3u8?token={good}")
        self.assertIn(f"index.m3u8?token={good}", master.decode())
        status, _, media = s.get(f"/{pid}/source/index.m3u8?token={good}")
        self.assertTrue(all(f"token={good}" in line for line in media.decode().splitlines()
                            if line and not line.startswith("#")))
        probe = ffprobe_json(s.http_url(f"/{pid}/live.m3u8?token={good}"))
        self.assertIn("video", {x["codec_type"] for x in probe["streams"]})
        # A cookie works as well, and then the URIs stay as they are.
        status, _, master = s.get(f"/{pid}/live.m3u8", headers={"Cookie": f"sluice_token={good}"})
        self.assertEqual(status, 200)
        self.assertNotIn("token=", master.decode())

        # RTMP play: the token in the stream name's query.
        probe = ffprobe_json(s.rtmp_url(f"{pid}?token={good}"), ("-read_intervals", "%+1"))
        self.assertIn("video", {x["codec_type"] for x in probe["streams"]})
        refused = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "5000000",
                                  s.rtmp_url(pid)], capture_output=True, timeout=30)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("no playback token", s.output())

    def test_hls_js_plays_a_signed_page(self):
        """hls.js in Chromium on the player page opened with a token: it plays the live ladder
        and the recording, every request carrying the token the playlists gave it."""
        s = self.start_sluice("--playback-token-secret", SECRET,
                              ladder="180p:320x180:300k:600k:64k,240p:426x240:500k:1000k:64k")
        self.track(ffmpeg_publish(s.rtmp_url("browser"), self.path("pub.log"), seconds=90))
        pid = s.playback_id("browser")
        token = mint({"sub": pid, "exp": int(time.time()) + 600}, SECRET)
        deadline = time.time() + 30
        while s.get(f"/{pid}/live.m3u8?token={token}")[0] != 200 and time.time() < deadline:
            time.sleep(0.3)
        result = self.check_player_page(s.http_url(f"/?token={token}"), pid, "web-signed")
        self.assertIn(f"token={token}", result["recording_url"])
        self.assertEqual(s.get(f"/{pid}/live.m3u8")[0], 403)

    def test_rs256_public_key(self):
        key, public = self.path("key.pem"), self.path("public.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", public], check=True,
                       capture_output=True)
        s = self.track(Sluice(self.workdir, "--playback-token-public-key", public))
        self.track(ffmpeg_publish(s.rtmp_url("rsa"), self.path("pub.log"), seconds=60,
                                  size="320x240", gop=30))
        pid = s.playback_id("rsa")
        later = int(time.time()) + 600
        with open(key) as f:
            private_pem = f.read()
        with open(public) as f:
            public_pem = f.read()
        good = mint({"sub": pid, "exp": later}, private_pem, "RS256")
        deadline = time.time() + 30
        while s.get(f"/{pid}/live.m3u8?token={good}")[0] != 200 and time.time() < deadline:
            time.sleep(0.3)
        self.assertEqual(s.get(f"/{pid}/live.m3u8?token={good}")[0], 200)
        # The public key used as an HS256 secret (made by hand: PyJWT refuses to): refused for
        # its algorithm.
        confused = hs256_by_hand({"sub": pid, "exp": later}, public_pem)
        status, _, body = s.get(f"/{pid}/live.m3u8?token={confused}")
        self.assertEqual((status, body.decode().strip()),
                         (403, "playback token signed with another algorithm: HS256"))

    def test_origin_checks_at_the_edge_and_caches_one_copy(self):
        redis = self.track(Redis(self.workdir))
        fleet = ("--registry", redis.url, "--registry-resync", "0.5")
        s = self.track(Sluice(self.workdir, *fleet))  # open: only the origin reaches it
        origin = self.track(Origin(self.workdir, *fleet, "--playback-token-secret", SECRET))
        self.track(ffmpeg_publish(s.rtmp_url("edge"), self.path("pub.log"), seconds=60,
                                  size="320x240", gop=30))
        pid = s.playback_id("edge")
        s.wait_master(pid)
        wait_until(lambda: redis.cli("EXISTS", f"sluice:stream:{pid}") == "1", 15,
                   what="the stream in the registry")
        later = int(time.time()) + 600
        first = mint({"sub": pid, "exp": later}, SECRET)
        second = mint({"sub": pid, "exp": later + 1}, SECRET)
        self.assertEqual(origin.get(f"/{pid}/live.m3u8")[0], 403)
        self.assertEqual(origin.get(f"/{pid}/thumbnail.jpg")[0], 403)
        status, headers, body = origin.get(f"/{pid}/live.m3u8?token={first}")
        self.assertEqual(status, 200)
        self.assertIn(f"?token={first}", body.decode())
        # The cached copy has no token: the next viewer's playlist carries its own.
        status, headers, body = origin.get(f"/{pid}/live.m3u8?token={second}")
        self.assertEqual((status, headers["X-Cache"]), (200, "HIT"))
        self.assertIn(f"?token={second}", body.decode())
        self.assertNotIn(first, body.decode())
        probe = ffprobe_json(origin.http_url(f"/{pid}/live.m3u8?token={second}"))
        self.assertIn("video", {x["codec_type"] for x in probe["streams"]})
        status, _, body = origin.get(f"/{pid}/live.m3u8?token={first[:-3]}abc")
        self.assertEqual((status, body.decode().strip()),
                         (403, "playback token signature does not verify"))
