#!/usr/bin/env python3
"""Captures real RTMP clients' command-phase exchanges with `sluice serve`, as test data.

A loopback TCP man-in-the-middle sits between one client and `sluice serve` and records both
directions after the handshake:

  <name>.c2s.bin  the client's bytes after C0+C1+C2 (3073 bytes skipped), at most 64 KiB
  <name>.s2c.bin  the server's bytes after S0+S1+S2 (3073 bytes skipped), at most 16 KiB

Recording stops (and the proxy closes both sockets) about 2 s after the first audio or video
message in either direction, when either side disconnects, or at the timeout (15 s).

Usage (Python 3 stdlib only; the clients are Debian's ffmpeg, gstreamer and rtmpdump):

  tests/tools/capture_rtmp.py [--sluice build/sluice] [--out DIR] [NAME ...]
      Captures NAME (default: all of ffmpeg_publish gstreamer_publish ffmpeg_play
      rtmpdump_play) into DIR (default src/proto/rtmp/testdata/exchanges). Each capture runs
      against its own `sluice serve` on free loopback ports with a temporary data dir,
      `--playback-id key` (so the server's answers do not depend on a secret) and
      `--transcode-ladder source` (passthrough). The players read key cap-key-3 while an
      uncaptured ffmpeg publishes it. Every process started is stopped by its PID, and
      sluice must exit 0 on SIGTERM.

  tests/tools/capture_rtmp.py --decode FILE ...
      Prints the RTMP messages in a capture, in order: byte range in the file, chunk stream
      id, message stream id, timestamp, type, and for AMF0 commands/data the name,
      transaction id and arguments. Chunk sizes follow Set Chunk Size (type 1) in the
      file's own direction; fmt 0-3 headers and extended timestamps are handled.
"""

import argparse
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# The integration tests' process handling: children in their own session, stopped by PID.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Process, wait_until  # noqa: E402

HANDSHAKE_BYTES = 1 + 1536 + 1536
C2S_CAP = 64 * 1024
S2C_CAP = 16 * 1024
AFTER_MEDIA_S = 2.0
CAPTURE_TIMEOUT_S = 15.0
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
DEFAULT_OUT = os.path.join(ROOT, "src/proto/rtmp/testdata/exchanges")

# --- RTMP decoding --------------------------------------------------------------------------

MESSAGE_TYPES = {1: "SetChunkSize", 2: "Abort", 3: "Ack", 4: "UserControl", 5: "WindowAckSize",
                 6: "SetPeerBandwidth", 8: "Audio", 9: "Video", 15: "DataAMF3",
                 17: "CommandAMF3", 18: "DataAMF0", 20: "CommandAMF0", 22: "Aggregate"}
USER_CONTROL_EVENTS = {0: "StreamBegin", 1: "StreamEOF", 2: "StreamDry", 3: "SetBufferLength",
                       4: "StreamIsRecorded", 6: "PingRequest", 7: "PingResponse"}


class Undefined:
    def __repr__(self):
        return "undefined"


class Amf0Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated AMF0")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def string(self, long=False):
        n = struct.unpack(">I" if long else ">H", self.take(4 if long else 2))[0]
        return self.take(n).decode("utf-8", "replace")

    def properties(self):
        out = {}
        while True:
            key = self.string()
            if key == "" and self.data[self.pos:self.pos + 1] == b"\x09":
                self.pos += 1
                return out
            out[key] = self.value()

    def value(self):
        marker = self.take(1)[0]
        if marker == 0:
            return struct.unpack(">d", self.take(8))[0]
        if marker == 1:
            return self.take(1)[0] != 0
        if marker == 2:
            return self.string()
        if marker == 3:
            return self.properties()
        if marker in (5, 6):
            return None if marker == 5 else Undefined()
        if marker == 7:
            return f"<ref {struct.unpack('>H', self.take(2))[0]}>"
        if marker == 8:
            self.take(4)  # approximate count
            return self.properties()
        if marker == 10:
            return [self.value() for _ in range(struct.unpack(">I", self.take(4))[0])]
        if marker == 11:
            ms = struct.unpack(">d", self.take(8))[0]
            self.take(2)
            return f"<date {ms}>"
        if marker in (12, 15):
            return self.string(long=True)
        if marker == 16:
            name = self.string()
            return {"<class>": name, **self.properties()}
        raise ValueError(f"unsupported AMF0 marker {marker}")

    def all(self):
        values = []
        while self.pos < len(self.data):
            values.append(self.value())
        return values


class Message:
    def __init__(self, start, end, csid, msid, ts, type_id, payload):
        self.start, self.end, self.csid, self.msid = start, end, csid, msid
        self.ts, self.type, self.payload = ts, type_id, payload

    def amf(self):
        body = self.payload
        if self.type in (15, 17) and body[:1] == b"\x00":
            body = body[1:]  # AMF3 messages that carry AMF0 values
        try:
            return Amf0Reader(body).all()
        except ValueError:
            return None

    def command(self):
        """(name, transaction id, rest) of an AMF0 command, else None."""
        v = self.amf() if self.type in (17, 20) else None
        if not v or not isinstance(v[0], str):
            return None
        return v[0], (v[1] if len(v) > 1 else None), v[2:]

    def describe(self):
        head = (f"[{self.start:5d},{self.end:5d}) csid={self.csid} msid={self.msid} ts={self.ts} "
                f"type={self.type} {MESSAGE_TYPES.get(self.type, '?')} len={len(self.payload)}")
        p = self.payload
        if self.type in (1, 2, 3, 5) and len(p) >= 4:
            return f"{head} value={struct.unpack('>I', p[:4])[0]}"
        if self.type == 6 and len(p) >= 5:
            return f"{head} window={struct.unpack('>I', p[:4])[0]} limit_type={p[4]}"
        if self.type == 4 and len(p) >= 2:
            event = struct.unpack(">H", p[:2])[0]
            args = [struct.unpack(">I", p[i:i + 4])[0] for i in range(2, len(p) - 3, 4)]
            return f"{head} {USER_CONTROL_EVENTS.get(event, event)} {args}"
        if self.type in (15, 17, 18, 20):
            v = self.amf()
            if v is None:
                return f"{head} <undecodable AMF>"
            if self.type in (17, 20) and v and isinstance(v[0], str):
                tx = v[1] if len(v) > 1 else None
                tx = int(tx) if isinstance(tx, float) and tx.is_integer() else tx
                return f"{head} '{v[0]}' tx={tx} args={v[2:]!r}"
            return f"{head} {v!r}"
        return head


class ChunkParser:
    """Incremental RTMP chunk stream parser for one direction (after the handshake)."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0          # parse position in buf (== offset in the stream)
        self.chunk_size = 128
        self.streams = {}     # csid -> header state and partial message
        self.messages = []

    def feed(self, data):
        self.buf += data
        new = []
        while True:
            m = self._chunk()
            if m is False:
                break
            if m is not None:
                new.append(m)
                self.messages.append(m)
        return new

    def _chunk(self):
        """Parses one chunk: a complete Message, None (chunk consumed) or False (need data)."""
        b, p = self.buf, self.pos
        if p >= len(b):
            return False
        fmt, csid = b[p] >> 6, b[p] & 0x3F
        p += 1
        if csid == 0:
            if p + 1 > len(b):
                return False
            csid, p = 64 + b[p], p + 1
        elif csid == 1:
            if p + 2 > len(b):
                return False
            csid, p = 64 + b[p] + 256 * b[p + 1], p + 2
        hlen = (11, 7, 3, 0)[fmt]
        if p + hlen > len(b):
            return False
        st = self.streams.get(csid)
        if st is None:
            if fmt != 0:
                raise ValueError(f"fmt {fmt} on new chunk stream {csid} at {self.pos}")
            st = self.streams[csid] = {"ts": 0, "delta": 0, "len": 0, "type": 0, "msid": 0,
                                       "ext": False, "partial": None, "start": 0}
        new = dict(st)
        field = None
        if fmt <= 2:
            field = int.from_bytes(b[p:p + 3], "big")
        if fmt <= 1:
            new["len"] = int.from_bytes(b[p + 3:p + 6], "big")
            new["type"] = b[p + 6]
        if fmt == 0:
            new["msid"] = int.from_bytes(b[p + 7:p + 11], "little")
        p += hlen
        if fmt <= 2:
            new["ext"] = field == 0xFFFFFF
        if new["ext"]:  # fmt 3 repeats the previous header's extended timestamp
            if p + 4 > len(b):
                return False
            ext_value = int.from_bytes(b[p:p + 4], "big")
            p += 4
            if fmt <= 2:
                field = ext_value
        starting = st["partial"] is None
        if fmt == 0:
            new["ts"], new["delta"] = field, 0
        elif fmt in (1, 2):
            new["delta"] = field
            new["ts"] = st["ts"] + field
        elif starting:  # fmt 3 starting a new message repeats the delta
            new["ts"] = st["ts"] + st["delta"]
        have = 0 if starting else len(st["partial"])
        n = min(self.chunk_size, new["len"] - have)
        if p + n > len(b):
            return False
        if not starting and fmt != 3:
            raise ValueError(f"fmt {fmt} inside a message on chunk stream {csid} at {self.pos}")
        new["partial"] = (bytearray() if starting else st["partial"]) + b[p:p + n]
        if starting:
            new["start"] = self.pos
        self.pos = p + n
        self.streams[csid] = new
        if len(new["partial"]) < new["len"]:
            return None
        m = Message(new["start"], self.pos, csid, new["msid"], new["ts"], new["type"],
                    bytes(new["partial"]))
        new["partial"] = None
        if m.type == 1 and len(m.payload) >= 4:
            self.chunk_size = struct.unpack(">I", m.payload[:4])[0] & 0x7FFFFFFF
        elif m.type == 2 and len(m.payload) >= 4:
            aborted = self.streams.get(struct.unpack(">I", m.payload[:4])[0])
            if aborted:
                aborted["partial"] = None
        return m


def decode_file(path, out=sys.stdout):
    with open(path, "rb") as f:
        data = f.read()
    parser = ChunkParser()
    try:
        messages = parser.feed(data)
        error = None
    except ValueError as e:
        messages, error = parser.messages, str(e)
    print(f"# {path}: {len(data)} bytes, {len(messages)} complete messages", file=out)
    answers_end = request_end = None
    for m in messages:
        print(m.describe(), file=out)
        cmd = m.command()
        if cmd and cmd[0] in ("publish", "play") and request_end is None:
            request_end = m.end
        if cmd and cmd[0] == "onStatus" and cmd[2] and isinstance(cmd[2][-1], dict) and \
                cmd[2][-1].get("code") == "NetStream.Publish.Start" and answers_end is None:
            answers_end = m.end
        amf = m.amf() if m.type == 18 else None
        if amf and amf[0] == "|RtmpSampleAccess" and answers_end is None:
            answers_end = m.end
    if parser.pos < len(data) or error:
        print(f"# {len(data) - (messages[-1].end if messages else 0)} trailing bytes after the "
              f"last complete message" + (f" ({error})" if error else ""), file=out)
    if request_end is not None:
        print(f"# client's publish/play command ends at offset {request_end}", file=out)
    if answers_end is not None:
        print(f"# server's command answers (Publish.Start / |RtmpSampleAccess) end at offset "
              f"{answers_end}", file=out)
    return messages


# --- processes --------------------------------------------------------------------------------

class Sluice(Process):
    def __init__(self, binary, workdir):
        args = [binary, "serve", "--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                "--data-dir", os.path.join(workdir, "data"), "--playback-id", "key",
                "--transcode-ladder", "source", "--log-level", "debug"]
        super().__init__(args, os.path.join(workdir, "sluice.log"))
        m = wait_until(lambda: re.search(r"rtmp listening on [\d.]+:(\d+)", self.output())
                       or (not self.alive() and "exited"), 15, what="sluice to listen")
        if m == "exited":
            raise RuntimeError("sluice exited at start:\n" + self.output())
        self.rtmp_port = int(m.group(1))

    def stop_cleanly(self):
        code = self.stop(signal.SIGTERM, timeout=15)
        if code != 0:
            raise RuntimeError(f"sluice exited {code} on SIGTERM:\n" + self.output()[-3000:])


# --- the man in the middle --------------------------------------------------------------------

class Recorder:
    def __init__(self, cap):
        self.cap, self.seen, self.data = cap, 0, bytearray()
        self.parser = ChunkParser()
        self.parse_error = None

    def feed(self, chunk):
        """Records the part of `chunk` after the handshake and under the cap; returns the new
        complete messages (parsing stops at the first error)."""
        skip = max(0, HANDSHAKE_BYTES - self.seen)
        self.seen += len(chunk)
        piece = chunk[skip:][:max(0, self.cap - len(self.data))]
        self.data += piece
        if not piece or self.parse_error:
            return []
        try:
            return self.parser.feed(piece)
        except ValueError as e:
            self.parse_error = str(e)
            return []


class Capture:
    """Accepts one connection on a free loopback port and relays it to target_port."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.c2s, self.s2c = Recorder(C2S_CAP), Recorder(S2C_CAP)
        self.reason = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def _run(self):
        deadline = self.started + CAPTURE_TIMEOUT_S
        client = upstream = None
        try:
            self.listener.settimeout(CAPTURE_TIMEOUT_S)
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                self.reason = "no connection"
                return
            self.listener.close()
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            for s in (client, upstream):
                s.settimeout(5)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = {client: (upstream, self.c2s, "client"), upstream: (client, self.s2c, "server")}
            while True:
                now = time.monotonic()
                if now >= deadline:
                    self.reason = ", then ".join(filter(None, [self.reason, "deadline"]))
                    return
                readable, _, _ = select.select([client, upstream], [], [], min(0.1, deadline - now))
                for s in readable:
                    data = s.recv(65536)
                    dst, rec, who = peer[s]
                    if not data:
                        self.reason = ", then ".join(filter(None, [self.reason,
                                                                   f"{who} disconnected"]))
                        return
                    dst.sendall(data)
                    if any(m.type in (8, 9, 22) for m in rec.feed(data)) and \
                            self.reason is None:
                        self.reason = f"media from the {who}"
                        deadline = min(deadline, time.monotonic() + AFTER_MEDIA_S)
        except OSError as e:
            self.reason = ", then ".join(filter(None, [self.reason, f"socket error: {e}"]))
        finally:
            for s in (client, upstream, self.listener):
                if s is not None:
                    s.close()

    def join(self):
        self.thread.join(CAPTURE_TIMEOUT_S + 10)

    def write(self, out_dir, name):
        paths = []
        for direction, rec in (("c2s", self.c2s), ("s2c", self.s2c)):
            path = os.path.join(out_dir, f"{name}.{direction}.bin")
            with open(path, "wb") as f:
                f.write(rec.data)
            paths.append(path)
        return paths


# --- the clients ------------------------------------------------------------------------------

def ffmpeg_publish_args(url, seconds):
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "60",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", url]


def gst_publish_args(url, buffers=150):
    audio_buffers = buffers * 44100 // 30 // 1024 + 1
    pipeline = (
        f"videotestsrc is-live=true num-buffers={buffers} ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 ! h264parse ! queue ! "
        f"m. audiotestsrc is-live=true num-buffers={audio_buffers} ! avenc_aac ! aacparse ! "
        f"queue ! m. flvmux name=m streamable=true ! rtmp2sink location={url}")
    return ["gst-launch-1.0", "-e", *pipeline.split()]


CLIENTS = {
    # name: (key, whether a publisher must be live first, args for the client's URL)
    "ffmpeg_publish": ("cap-key-1", False, lambda url: ffmpeg_publish_args(url, 5)),
    "gstreamer_publish": ("cap-key-2", False, gst_publish_args),
    "ffmpeg_play": ("cap-key-3", True, lambda url: [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-i", url, "-t", "2",
        "-f", "null", "-"]),
    "rtmpdump_play": ("cap-key-3", True, lambda url: [
        "rtmpdump", "-r", url, "--live", "-o", "/dev/null"]),
}


def capture(name, binary, out_dir, workroot):
    key, needs_publisher, make_args = CLIENTS[name]
    workdir = os.path.join(workroot, name)
    os.makedirs(workdir)
    sluice = Sluice(binary, workdir)
    procs = []
    try:
        if needs_publisher:
            url = f"rtmp://127.0.0.1:{sluice.rtmp_port}/stream/{key}"
            procs.append(Process(ffmpeg_publish_args(url, 30), os.path.join(workdir, "pub.log")))
            wait_until(lambda: f"publishing key" in sluice.output() or
                       not procs[0].alive() and "exited", 15, what="the publisher")
            if not procs[0].alive():
                raise RuntimeError("publisher exited:\n" + procs[0].output()[-3000:])
            time.sleep(1)  # let it send a keyframe so the player gets media at once
        cap = Capture(sluice.rtmp_port)
        url = f"rtmp://127.0.0.1:{cap.port}/stream/{key}"
        client = Process(["timeout", "-s", "INT", str(int(CAPTURE_TIMEOUT_S + 5)), *make_args(url)],
                         os.path.join(workdir, "client.log"))
        procs.append(client)
        cap.join()
        client_code = client.stop(signal.SIGINT)
        paths = cap.write(out_dir, name)
        for rec, d in ((cap.c2s, "c2s"), (cap.s2c, "s2c")):
            if rec.parse_error:
                print(f"{name}: {d} parse error: {rec.parse_error}", file=sys.stderr)
        print(f"{name}: stopped on {cap.reason}; client exit {client_code}; "
              + ", ".join(f"{os.path.basename(p)} {os.path.getsize(p)} B" for p in paths))
        with open(os.path.join(workdir, "client.log"), "rb") as f:
            tail = f.read()[-1500:].decode("utf-8", "replace")
        print("  client log tail: " + tail.strip().replace("\n", "\n    "))
    finally:
        for p in reversed(procs):
            p.stop(signal.SIGINT)
        sluice.stop_cleanly()
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--decode", action="store_true", help="decode the capture FILEs given")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "build/sluice"))
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    ap.add_argument("names", nargs="*", help="captures to make, or files with --decode")
    a = ap.parse_args()
    if a.decode:
        for path in a.names:
            decode_file(path)
            print()
        return 0
    names = a.names or list(CLIENTS)
    unknown = [n for n in names if n not in CLIENTS]
    if unknown:
        ap.error(f"unknown capture {unknown}; known: {list(CLIENTS)}")
    os.makedirs(a.out, exist_ok=True)
    workroot = tempfile.mkdtemp(prefix="capture-rtmp-")
    try:
        for name in names:
            capture(name, a.sluice, a.out, workroot)
    finally:
        if a.keep:
            print(f"work dir kept: {workroot}")
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
