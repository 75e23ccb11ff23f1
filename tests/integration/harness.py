"""Test harness: starts `sluice serve` and real third-party clients on loopback, on free
ports, and always stops what it started (by PID)."""

import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

SLUICE = os.environ.get("SLUICE_BIN", os.path.join(os.path.dirname(__file__), "../../build/sluice"))
ARTIFACTS = os.environ.get("SLUICE_TEST_ARTIFACTS", "")
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tools")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def logged_sluice(directory):
    """A stand-in for the sluice binary, for a script that starts sluice processes and keeps
    their logs to itself: it runs the binary with its stderr (where the sanitizers report)
    also copied to a file in `directory`, which sanitizer_reports() reads."""
    path = os.path.join(directory, "sluice")
    with open(path, "w") as f:
        f.write("#!/bin/bash\n"
                f'exec {shlex.quote(os.path.abspath(SLUICE))} "$@" '
                f'2> >(tee -a {shlex.quote(directory)}/sluice.$$.log >&2)\n')
    os.chmod(path, 0o755)
    return path


def sanitizer_reports(directory, output=""):
    """The sanitizer reports in `output` and in the logs logged_sluice() wrote."""
    reports = [output] if any(marker in output for marker in SANITIZER_MARKERS) else []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".log"):
            with open(os.path.join(directory, name), "rb") as f:
                log = f.read().decode("utf-8", "replace")
            if any(marker in log for marker in SANITIZER_MARKERS):
                reports.append(f"{name}:\n{log[-5000:]}")
    return reports


def wait_until(predicate, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Process:
    """A child process with its output in a file; stop() ends it by PID."""

    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.killed_after_timeout = False  # stop() had to fall back to SIGKILL
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed_after_timeout = True
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpClient:
    def get(self, path, method="GET", headers=None, timeout=10):
        """Returns (status, headers, body) without raising on HTTP errors."""
        req = urllib.request.Request(self.http_url(path), method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def metric(self, name):
        return self.metrics(name)[0]

    def metrics(self, *names):
        """The values of unlabelled metrics `names`, read at one moment."""
        text = self.get("/metrics")[2].decode()
        values = []
        for name in names:
            m = re.search(rf"^{name} (\S+)$", text, re.M)
            if not m:
                raise AssertionError(f"metric {name} missing")
            values.append(float(m.group(1)))
        return values


class Redis(Process):
    """A real redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir, port=None, name="redis"):
        self.port = port or free_port()
        super().__init__(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"],
                         os.path.join(workdir, f"{name}.log"))
        wait_until(lambda: "Ready to accept connections" in self.output()
                   or (not self.alive() and "exited"), 10, what="redis-server")
        if not self.alive():
            raise AssertionError("redis-server exited:\n" + self.output())

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                             timeout=10)
        return out.stdout.decode().strip()


S3RVER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "../tools/node_modules/.bin/s3rver")


class S3Server(Process):
    """A real S3-protocol server (s3rver from npm) on loopback, keeping objects in `directory`
    so a restart on the same port and directory is an outage, not a loss."""

    ACCESS_KEY = SECRET_KEY = "S3RVER"

    def __init__(self, workdir, bucket, port=None, name="s3rver"):
        self.port = port or free_port()
        self.bucket = bucket
        self.directory = os.path.join(workdir, "s3-data")
        os.makedirs(self.directory, exist_ok=True)
        super().__init__([S3RVER, "-d", self.directory, "-a", "127.0.0.1", "-p", str(self.port),
                          "--configure-bucket", bucket],
                         os.path.join(workdir, f"{name}.log"))
        wait_until(lambda: _listening(self.port) or (not self.alive() and "exited"), 20,
                   what="s3rver")
        if not self.alive():
            raise AssertionError("s3rver exited:\n" + self.output())

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def sluice_args(self, prefix):
        return ["--dvr", f"s3://{self.bucket}/{prefix}", "--dvr-s3-endpoint", self.endpoint,
                "--dvr-s3-access-key", self.ACCESS_KEY, "--dvr-s3-secret-key", self.SECRET_KEY]

    @staticmethod
    def _read_retrying_500(url, attempts=5):
        """GETs `url`, retrying a 500 as S3 clients must: s3rver answers one when a listing
        reads an object's metadata file while a PUT of that key rewrites it."""
        for attempt in range(attempts):
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    return r.read()
            except urllib.error.HTTPError as e:
                if e.code != 500 or attempt == attempts - 1:
                    raise
                time.sleep(0.2)

    def get(self, key):
        """(status, headers, body) of an object, read anonymously."""
        url = f"{self.endpoint}/{self.bucket}/{key}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def keys(self, prefix):
        """Every object key under `prefix` (ListObjectsV2, following continuation tokens)."""
        import xml.etree.ElementTree as ET
        ns = {"s3": "http://doc.s3.amazonaws.com/2006-03-01/"}
        keys, token = [], None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            url = f"{self.endpoint}/{self.bucket}?" + urllib.parse.urlencode(query)
            root = ET.fromstring(self._read_retrying_500(url))
            keys += [k.text for k in root.findall("s3:Contents/s3:Key", ns)]
            token = root.findtext("s3:NextContinuationToken", None, ns)
            if not token:
                return keys


class NginxRtmp(Process):
    """nginx with Debian's nginx-rtmp module: a live RTMP server to relay to."""

    def __init__(self, workdir, app="live"):
        self.port = free_port()
        self.app = app
        self.dir = os.path.join(workdir, "nginx-rtmp")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
  server {{
    listen 127.0.0.1:{self.port};
    application {app} {{ live on; }}
  }}
}}
""")
        super().__init__(["nginx", "-p", self.dir, "-c", conf], os.path.join(workdir, "nginx.log"))
        wait_until(lambda: _listening(self.port) or (not self.alive() and "exited"), 10,
                   what="nginx-rtmp")
        if not self.alive():
            raise AssertionError("nginx exited:\n" + self.output())

    def url(self, name):
        return f"rtmp://127.0.0.1:{self.port}/{self.app}/{name}"


class TlsTerminator(Process):
    """socat answering TLS on a free port and forwarding the plain bytes to `target_port`:
    an RTMPS endpoint in front of any RTMP server. Makes its own self-signed certificate."""

    def __init__(self, workdir, target_port):
        self.port = free_port()
        self.cert = os.path.join(workdir, "tls-cert.pem")
        key = os.path.join(workdir, "tls-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", self.cert], check=True, capture_output=True,
                       timeout=60)
        super().__init__(["socat", f"openssl-listen:{self.port},bind=127.0.0.1,reuseaddr,fork,"
                          f"cert={self.cert},key={key},verify=0",
                          f"tcp:127.0.0.1:{target_port}"], os.path.join(workdir, "socat.log"))
        wait_until(lambda: _listening(self.port) or (not self.alive() and "exited"), 10,
                   what="socat")


class HAProxy(Process):
    """Debian's HAProxy in TCP mode: for each (target_port, send) of `routes`, a frontend on a
    free port (`ports`, in order) relaying to 127.0.0.1:target_port from the address `source`,
    starting each connection with `send` ("send-proxy", "send-proxy-v2" or "")."""

    def __init__(self, workdir, routes, source="127.0.0.3"):
        self.ports = [free_port() for _ in routes]
        lines = ["global", "  maxconn 256", "defaults", "  mode tcp", "  timeout connect 5s",
                 "  timeout client 60s", "  timeout server 60s"]
        for i, ((target, send), port) in enumerate(zip(routes, self.ports)):
            lines += [f"frontend f{i}", f"  bind 127.0.0.1:{port}", f"  default_backend b{i}",
                      f"backend b{i}", f"  server s{i} 127.0.0.1:{target} {send} source {source}"]
        config = os.path.join(workdir, "haproxy.cfg")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        super().__init__(["haproxy", "-db", "-f", config], os.path.join(workdir, "haproxy.log"))
        for port in self.ports:
            wait_until(lambda: _listening(port) or (not self.alive() and "exited"), 10,
                       what="haproxy to listen")
        if not self.alive():
            raise AssertionError("haproxy exited at start:\n" + self.output())


def _tail(path, lines=20):
    with open(path, "rb") as f:
        return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])


def _listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Role(Process, HttpClient):
    """A `sluice <role>` process; waits until its log names the ports it listens on. The test
    case's tearDown fails if it did not exit with `expected_exit` (0, a clean exit on SIGTERM
    or on its own) within stop()'s timeout; a test that ends it another way says so with
    expect_exit()."""

    def __init__(self, name, args, log_path, env=None, rtmp=True):
        self.name = name
        self.expected_exit = 0
        super().__init__(args, log_path, env=env)
        pattern = (r"rtmp listening on ([\d.]+):(\d+).*" if rtmp else "") + \
            r"http listening on ([\d.]+):(\d+)"
        m = wait_until(lambda: re.search(pattern, self.output())
                       or (not self.alive() and "exited"), 15, what=f"{name} to listen")
        if m == "exited":
            raise AssertionError(f"{name} exited at start:\n" + self.output())
        self.rtmp_port = int(m.group(2)) if rtmp else None
        self.http_port = int(m.group(4 if rtmp else 2))

    def expect_exit(self, code):
        """The exit code this test ends the process with on purpose (-signal.SIGKILL for a
        kill -9)."""
        self.expected_exit = code

    def exit_problem(self):
        """Why the process did not exit as expected once stopped; None if it did."""
        if self.killed_after_timeout:
            return (f"{self.name} (pid {self.pid}) did not exit within the timeout after "
                    "SIGTERM and was killed with SIGKILL")
        if self.proc.returncode != self.expected_exit:
            return (f"{self.name} (pid {self.pid}) exited with {self.proc.returncode}, "
                    f"expected {self.expected_exit}")
        return None

    def rtmp_url(self, name, app="stream"):
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{app}/{name}"

    def http_url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"


class Origin(Role):
    def __init__(self, workdir, *extra):
        super().__init__("origin", [SLUICE, "origin", "--origin-listen", "127.0.0.1:0",
                                    "--log-level", "debug", *extra],
                         os.path.join(workdir, "origin.log"), rtmp=False)


class Proxy(Role):
    def __init__(self, workdir, *extra):
        super().__init__("proxy", [SLUICE, "proxy", "--proxy-listen", "127.0.0.1:0",
                                   "--proxy-http-listen", "127.0.0.1:0", "--log-level", "debug",
                                   "--data-dir", os.path.join(workdir, "proxy-data"), *extra],
                         os.path.join(workdir, "proxy.log"))


class Sluice(Role):
    def __init__(self, workdir, *extra, env=None, ladder="source", rtmp_port=0, hls_format=None):
        """Tests that are not about transcoding pass the source through (ladder "source"),
        which is faster and keeps their assertions about the input's own codecs. `hls_format`
        pins hls.format unless `extra` sets it; None leaves the server's default."""
        os.makedirs(workdir, exist_ok=True)
        self.data_dir = os.path.join(workdir, "data")
        self.secret = "test-secret"
        args = [SLUICE, "serve", "--rtmp-listen", f"127.0.0.1:{rtmp_port}",
                "--http-listen", "127.0.0.1:0",
                "--data-dir", self.data_dir, "--playback-secret", self.secret,
                "--hls-segment-duration", "2", "--log-level", "debug",
                "--transcode-ladder", ladder, *extra]
        if hls_format and "--hls-format" not in extra:
            args += ["--hls-format", hls_format]
        super().__init__("sluice", args, os.path.join(workdir, "sluice.log"), env=env)

    def playback_id(self, key):
        return hmac.new(self.secret.encode(), key.encode(), hashlib.sha256).hexdigest()[:20]

    def streams(self):
        return json.loads(self.get("/api/streams")[2])["streams"]

    def recordings(self):
        return json.loads(self.get("/api/recordings")[2])["recordings"]

    def wait_master(self, playback_id, timeout=30):
        return wait_until(lambda: self.get(f"/{playback_id}/live.m3u8")[0] == 200, timeout,
                          what=f"master playlist of {playback_id}")


def rtmp_handshake(s):
    """A plain RTMP client handshake on socket `s` (C0+C1 of zeros, C2 echoing S1)."""
    s.sendall(b"\x03" + bytes(1536))
    got = b""
    while len(got) < 3073:
        chunk = s.recv(8192)
        if not chunk:
            raise AssertionError("server closed during handshake")
        got += chunk
    s.sendall(got[1:1537])
    return got[3073:]  # anything the server sent after S2


def closed_by_peer(s, timeout=10):
    """True once the peer closes `s` (reading and dropping what comes), False after `timeout`."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def ffmpeg_publish(url, log_path, seconds=12, size="640x360", rate=30, gop=30, extra_out=()):
    """Publishes a live test pattern with a tone, as an encoder would (paced with -re)."""
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-re",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", str(gop), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", *extra_out,
            "-f", "flv", url]
    return Process(args, log_path)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ffmpeg_srt(url, log_path, seconds=20):
    """ffmpeg publishing a test pattern and a tone as MPEG-TS to an SRT `url`."""
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "mpegts", url]
    return Process(args, log_path)


def gst_publish(url, log_path, buffers=300):
    """Publishes with GStreamer's rtmp2sink (a second, independent RTMP client stack)."""
    audio_buffers = buffers * 48000 // 30 // 1024 + 1  # same duration as the video
    pipeline = (
        f"videotestsrc is-live=true num-buffers={buffers} ! video/x-raw,width=320,height=240,"
        "framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
        "video/x-h264,profile=main ! h264parse ! queue ! mux. "
        f"audiotestsrc is-live=true num-buffers={audio_buffers} ! "
        "audio/x-raw,rate=48000,channels=2 ! avenc_aac ! aacparse ! "
        f"queue ! mux. flvmux name=mux streamable=true ! rtmp2sink location={url}")
    return Process(["gst-launch-1.0", "-e", *pipeline.split()], log_path)


def ffprobe_json(url_or_path, extra=()):
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                          "-show_format", *extra, url_or_path],
                         capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"ffprobe {url_or_path} failed: {out.stderr.decode()}")
    return json.loads(out.stdout)


def parse_media_playlist(text):
    """Returns (tags dict of first values, list of (duration, uri, discontinuity))."""
    tags, segments, disc, duration = {}, [], False, None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line.startswith("#"):
            key, _, value = line.partition(":")
            tags.setdefault(key, value)
        elif line:
            segments.append((duration, line, disc))
            disc = False
    return tags, segments


class SluiceTestCase(unittest.TestCase):
    """Each test gets a work dir, and everything it starts is stopped at the end."""

    # Test classes about one HLS format's output (MPEG-TS segments, say) pin it here; the
    # others run on the server's default.
    hls_format = None

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="sluice-test-")
        self._procs = []

    def tearDown(self):
        for p in reversed(self._procs):
            p.stop()
        # Every sluice process must have exited cleanly: 0 on SIGTERM, in time (a hang or a
        # crash at shutdown fails the test), unless the test ended it otherwise on purpose.
        unclean = [(p.exit_problem(), p.log_path) for p in self._procs
                   if isinstance(p, Role) and p.exit_problem()]
        # Under scripts/test-asan.sh a sanitizer report in the server's log fails the test,
        # including leaks reported at exit.
        reports = [p.log_path for p in self._procs if isinstance(p, Role) and any(
            marker in p.output() for marker in SANITIZER_MARKERS)]
        failed = any(err for _, err in getattr(self._outcome, "errors", []) if err) or (
            hasattr(self._outcome, "result") and (self._outcome.result.failures or
                                                  self._outcome.result.errors))
        if ARTIFACTS and failed:
            dest = os.path.join(ARTIFACTS, self.id())
            shutil.copytree(self.workdir, dest, dirs_exist_ok=True)
        if (reports or unclean) and ARTIFACTS:
            shutil.copytree(self.workdir, os.path.join(ARTIFACTS, self.id()), dirs_exist_ok=True)
        tails = [f"{problem}; log tail of {path}:\n{_tail(path)}" for problem, path in unclean]
        shutil.rmtree(self.workdir, ignore_errors=True)
        if reports:
            raise AssertionError(f"sanitizer report in {reports} (kept under {ARTIFACTS})")
        if unclean:
            raise AssertionError("unclean exit: " + "\n".join(tails))

    def track(self, proc):
        self._procs.append(proc)
        return proc

    def start_sluice(self, *extra, env=None, ladder="source"):
        return self.track(Sluice(self.workdir, *extra, env=env, ladder=ladder,
                                 hls_format=self.hls_format))

    def path(self, name):
        return os.path.join(self.workdir, name)

    def check_player_page(self, page_url, playback_id, artifacts_name, timeout=240,
                          heights=(180, 240)):
        """Runs tests/tools/web_check.mjs (Debian's chromium, playwright-core) on the page of
        a stream transcoded to 180p and 240p (pictures `heights` high): its thumbnail shows,
        it plays live, switches to each rendition and plays the recording; screenshots go
        under the artifacts. Returns its JSON result."""
        shots = os.path.join(ARTIFACTS, artifacts_name) if ARTIFACTS else self.path("shots")
        os.makedirs(shots, exist_ok=True)
        out = subprocess.run(["node", os.path.join(TOOLS, "web_check.mjs"), page_url,
                              playback_id, shots], capture_output=True, timeout=timeout)
        lines = out.stdout.decode().strip().splitlines()
        self.assertTrue(lines, out.stderr.decode()[-3000:])
        result = json.loads(lines[-1])
        self.assertTrue(result["ok"], f"{result}\n{out.stderr.decode()[-3000:]}")
        self.assertEqual(result["renditions"], "180p, 240p")
        self.assertGreater(result["thumbnail_width"], 0)  # the stream's picture showed
        self.assertEqual(sorted(result["levels"]), list(heights))
        self.assertIn(f"{heights[0]}p", result["switched_to_0"])
        self.assertIn(f"{heights[1]}p", result["switched_to_1"])
        self.assertTrue(os.path.getsize(os.path.join(shots, "player-live.png")) > 10_000)
        self.assertTrue(os.path.exists(os.path.join(shots, "player-recording.png")))
        return result

    def check_low_latency_playback(self, page_url, playback_id, shot_name, seconds=60):
        """Runs tests/tools/llhls_check.mjs: hls.js in low-latency mode on the player page for
        `seconds`. It must see parts and blocking reload, play without a stall or an error,
        and show the live latency. Returns its JSON result (latencies, median, p90)."""
        shot = os.path.join(ARTIFACTS or self.workdir, shot_name)
        os.makedirs(os.path.dirname(shot), exist_ok=True)
        out = subprocess.run(["node", os.path.join(TOOLS, "llhls_check.mjs"), page_url,
                              playback_id, str(seconds), shot],
                             capture_output=True, timeout=seconds + 140)
        lines = out.stdout.decode().strip().splitlines()
        self.assertTrue(lines, out.stderr.decode()[-3000:])
        result = json.loads(lines[-1])
        print(f"hls.js low-latency ({page_url}): median {result.get('median')} s, "
              f"p90 {result.get('p90')} s, stalls {result.get('stalls')}", file=sys.stderr)
        self.assertTrue(result["ok"], f"{result}\n{out.stderr.decode()[-3000:]}")
        self.assertTrue(result["low_latency"])
        self.assertTrue(result["can_block_reload"])
        self.assertGreater(result["parts"], 0)
        self.assertEqual(result["stalls"], 0, result)
        self.assertEqual(result["errors"], [], result)
        self.assertGreaterEqual(len(result["latencies"]), seconds - 5)
        self.assertRegex(result["shown"], r"^live latency \d+\.\d s$")
        return result
