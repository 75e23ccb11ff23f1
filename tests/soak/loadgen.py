#!/usr/bin/env python3
"""Load generators for the soak and chaos suite (tests/soak/soak.py), each run as a process
of its own so that it neither competes with the suite's control loop for the GIL nor hides
its CPU in it. Python 3 stdlib only.

  loadgen.py players  --host H --port P --names ID,ID,... --count N --out FILE
      N RTMP players (asyncio, one thread), spread round-robin over the playback IDs: each
      does the handshake, connect/createStream/play, acknowledges bytes, and counts bytes
      and media messages. A closed connection is retried every second (as a player does).
      A stall is more than 3 s without an audio or video message.

  loadgen.py viewers  --base URL --streams ID:REND:REND,... --count N --out FILE
      N HLS viewers (one thread each, a keep-alive connection each) polling a media playlist
      every second and fetching every new segment (and init segment). A gap is a media
      sequence number skipped; a reset is one going back; a stall is no new segment for more
      than 3 target durations. Viewer 0 of a stream watches its first rendition (the one
      recorded), the others the last one given.

  loadgen.py relay    --listen H:P --target H:P [--listen H:P --target H:P ...]
      A TCP relay. SIGUSR1 blackholes it: it stops accepting (new connections wait in the
      backlog, then SYNs are dropped) and stops reading and forwarding on every open
      connection, which stay open. SIGUSR2 lets everything flow again.

Every generator rewrites FILE (JSON) every 5 s and on SIGTERM, then exits."""

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time

STALL_PLAYER_S = 3.0


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# RTMP players

def amf(v):
    if v is None:
        return b"\x05"
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items():
            out += struct.pack(">H", len(k)) + k.encode() + amf(x)
        return out + b"\x00\x00\x09"
    raise TypeError(type(v))


def rtmp_message(csid, mtype, stream_id, payload, chunk=128):
    out = bytearray([csid]) + b"\0\0\0" + len(payload).to_bytes(3, "big") + bytes([mtype]) + \
        struct.pack("<I", stream_id)
    for i in range(0, len(payload), chunk):
        if i:
            out.append(0xC0 | csid)
        out += payload[i:i + chunk]
    return bytes(out)


class Player:
    def __init__(self, index, name):
        self.index, self.name = index, name
        self.bytes = 0
        self.media = 0
        self.connects = 0
        self.disconnects = 0
        self.errors = []  # (time, text), last few
        self.last_media = None  # wall time
        self.started = time.time()
        self.stalls = []  # [start, seconds]
        self.in_stall = None

    def on_media(self, now):
        if self.in_stall is not None:
            self.stalls.append([self.in_stall, round(now - self.in_stall, 2)])
            self.in_stall = None
        self.last_media = now
        self.media += 1

    def check(self, now):
        ref = self.last_media or self.started
        if self.in_stall is None and now - ref > STALL_PLAYER_S:
            self.in_stall = ref

    def report(self, now):
        stalls = list(self.stalls)
        if self.in_stall is not None:
            stalls.append([self.in_stall, round(now - self.in_stall, 2), "ongoing"])
        return {"i": self.index, "name": self.name, "bytes": self.bytes, "media": self.media,
                "connects": self.connects, "disconnects": self.disconnects,
                "stalls": stalls, "errors": self.errors[-5:]}


async def play_once(p, host, port, app):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    try:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(b"\x03" + struct.pack(">II", int(time.time()) & 0xFFFFFFFF, 0) +
                     random.randbytes(1528))
        s = await asyncio.wait_for(reader.readexactly(1 + 1536 + 1536), 10)
        writer.write(s[1:1537])
        tc = f"rtmp://{host}:{port}/{app}"
        writer.write(rtmp_message(3, 20, 0, amf("connect") + amf(1) + amf(
            {"app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc, "fpad": False,
             "capabilities": 15, "audioCodecs": 3191, "videoCodecs": 252,
             "videoFunction": 1})))
        writer.write(rtmp_message(2, 5, 0, struct.pack(">I", 2500000)))
        writer.write(rtmp_message(3, 20, 0, amf("createStream") + amf(2) + amf(None)))
        writer.write(rtmp_message(8, 20, 1, amf("play") + amf(3) + amf(None) + amf(p.name) +
                                  amf(-1000)))
        writer.write(rtmp_message(2, 4, 0, struct.pack(">HII", 3, 1, 3000)))
        await writer.drain()
        p.connects += 1
        in_chunk = 128
        window = 2500000
        total = 0
        acked = 0
        chunks = {}  # csid -> [ts, length, type, sid, ext, got, keep(bytearray|None)]
        buf = bytearray()
        pos = 0
        while True:
            data = await asyncio.wait_for(reader.read(262144), 30)
            if not data:
                raise ConnectionError("closed by peer")
            total += len(data)
            p.bytes += len(data)
            if total - acked >= window // 2:
                acked = total
                writer.write(rtmp_message(2, 3, 0, struct.pack(">I", total & 0xFFFFFFFF)))
            if pos:
                del buf[:pos]
                pos = 0
            buf += data
            n = len(buf)
            now = time.time()
            while True:
                start = pos
                if pos >= n:
                    break
                b = buf[pos]
                fmt, csid = b >> 6, b & 0x3F
                pos += 1
                if csid == 0:
                    if pos + 1 > n:
                        pos = start
                        break
                    csid = 64 + buf[pos]
                    pos += 1
                elif csid == 1:
                    if pos + 2 > n:
                        pos = start
                        break
                    csid = 64 + buf[pos] + buf[pos + 1] * 256
                    pos += 2
                hlen = (11, 7, 3, 0)[fmt]
                if pos + hlen > n:
                    pos = start
                    break
                st = chunks.get(csid)
                if st is None:
                    st = chunks[csid] = [0, 0, 0, 0, False, 0, None]
                if fmt <= 2:
                    ts = int.from_bytes(buf[pos:pos + 3], "big")
                    ext = ts == 0xFFFFFF
                    if fmt <= 1:
                        length = int.from_bytes(buf[pos + 3:pos + 6], "big")
                        mtype = buf[pos + 6]
                    else:
                        length, mtype = st[1], st[2]
                    sid = struct.unpack_from("<I", buf, pos + 7)[0] if fmt == 0 else st[3]
                    pos += hlen
                    if ext:
                        if pos + 4 > n:
                            pos = start
                            break
                        pos += 4
                    st[1], st[2], st[3], st[4] = length, mtype, sid, ext
                else:
                    if st[4]:
                        if pos + 4 > n:
                            pos = start
                            break
                        pos += 4
                take = min(in_chunk, st[1] - st[5])
                if pos + take > n:
                    pos = start
                    break
                if st[2] not in (8, 9):
                    if st[6] is None:
                        st[6] = bytearray()
                    st[6] += buf[pos:pos + take]
                pos += take
                st[5] += take
                if st[5] >= st[1]:
                    st[5] = 0
                    mtype = st[2]
                    if mtype in (8, 9):
                        p.on_media(now)
                    else:
                        payload, st[6] = bytes(st[6] or b""), None
                        if mtype == 1 and len(payload) >= 4:
                            in_chunk = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                        elif mtype == 5 and len(payload) >= 4:
                            window = struct.unpack(">I", payload[:4])[0]
                        elif mtype == 20 and b"error" in payload and b"onStatus" in payload:
                            raise ConnectionError("onStatus error: " + payload.decode(
                                "latin-1", "replace")[:200])
    finally:
        writer.close()


async def player_loop(p, host, port, app, stop):
    while not stop.is_set():
        try:
            await play_once(p, host, port, app)
        except (Exception, asyncio.TimeoutError) as e:  # noqa: BLE001 - a player retries
            p.errors.append([round(time.time(), 1), repr(e)[:200]])
            p.errors = p.errors[-5:]
        p.disconnects += 1
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def players_main(args):
    names = args.names.split(",")
    players = [Player(i, names[i % len(names)]) for i in range(args.count)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for p in players:
        tasks.append(asyncio.create_task(player_loop(p, args.host, args.port, args.app, stop)))
        await asyncio.sleep(0.02)
    last_write = 0
    while not stop.is_set():
        now = time.time()
        for p in players:
            p.check(now)
        if now - last_write >= 5:
            last_write = now
            write_json(args.out, {"time": now, "players": [p.report(now) for p in players]})
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
    now = time.time()
    write_json(args.out, {"time": now, "players": [p.report(now) for p in players],
                          "final": True})
    for t in tasks:
        t.cancel()


# ---------------------------------------------------------------------------------------------
# HLS viewers

SEGMENT_RE = re.compile(r"^(\d+)\.(m4s|ts)$")


class Viewer(threading.Thread):
    def __init__(self, index, host, port, pid, rendition, stop, keep_hashes):
        super().__init__(daemon=True)
        self.index, self.host, self.port = index, host, port
        self.pid, self.rendition, self.stop = pid, rendition, stop
        self.keep_hashes = keep_hashes
        self.conn = None
        self.segments = 0
        self.bytes = 0
        self.last_msn = None
        self.first_msn = None
        self.seen = set()
        self.hashes = {}
        self.inits = set()
        self.gaps = []  # [time, after msn, next msn, missing]
        self.resets = []  # [time, last msn, new msn]
        self.stalls = []  # [start, seconds]
        self.errors = {}  # status or error -> count
        self.error_times = []  # [time, what] (last 20)
        self.target = 6.0
        self.last_new = None
        self.in_stall = None
        self.started = time.time()

    def get(self, path):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body
            except (OSError, http.client.HTTPException) as e:
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise e
        return None, b""

    def note_error(self, what):
        self.errors[what] = self.errors.get(what, 0) + 1
        self.error_times.append([round(time.time(), 1), what])
        self.error_times = self.error_times[-20:]

    def check_stall(self, now):
        ref = self.last_new or self.started
        if self.in_stall is None and now - ref > 3 * self.target:
            self.in_stall = ref

    def run(self):
        base = f"/{self.pid}/{self.rendition}/"
        while not self.stop.is_set():
            t0 = time.time()
            try:
                status, body = self.get(base + "index.m3u8")
                if status != 200:
                    self.note_error(f"playlist {status}")
                else:
                    self.follow(base, body.decode("utf-8", "replace"))
            except Exception as e:  # noqa: BLE001 - a viewer keeps polling
                self.note_error(type(e).__name__)
            now = time.time()
            self.check_stall(now)
            self.stop.wait(max(0.05, 1.0 - (now - t0)))

    def follow(self, base, text):
        msn = None
        for line in text.splitlines():
            if line.startswith("#EXT-X-TARGETDURATION:"):
                self.target = float(line.split(":")[1])
            elif line.startswith("#EXT-X-MAP:"):
                uri = line.split('"')[1]
                if uri not in self.inits:
                    status, body = self.get(base + uri)
                    if status == 200:
                        self.inits.add(uri)
                        self.bytes += len(body)
            elif line and not line.startswith("#"):
                m = SEGMENT_RE.match(line)
                if not m:
                    continue
                msn = int(m.group(1))
                if self.last_msn is not None and msn <= self.last_msn:
                    if msn < self.last_msn and msn not in self.seen and \
                            self.last_msn - msn > 1000:
                        self.resets.append([round(time.time(), 1), self.last_msn, msn])
                        self.last_msn = msn - 1
                    else:
                        continue
                status, body = self.get(base + line)
                now = time.time()
                if status != 200:
                    self.note_error(f"segment {status}")
                    continue
                if self.last_msn is not None and msn > self.last_msn + 1:
                    self.gaps.append([round(now, 1), self.last_msn, msn, msn - self.last_msn - 1])
                if self.first_msn is None:
                    self.first_msn = msn
                self.last_msn = msn
                self.seen.add(msn)
                self.segments += 1
                self.bytes += len(body)
                if self.keep_hashes:
                    self.hashes[msn] = hashlib.sha1(body).hexdigest()
                if self.in_stall is not None:
                    self.stalls.append([self.in_stall, round(now - self.in_stall, 2)])
                    self.in_stall = None
                self.last_new = now

    def report(self, now):
        stalls = list(self.stalls)
        if self.in_stall is not None:
            stalls.append([self.in_stall, round(now - self.in_stall, 2), "ongoing"])
        return {"i": self.index, "pid": self.pid, "rendition": self.rendition,
                "segments": self.segments, "bytes": self.bytes, "first_msn": self.first_msn,
                "last_msn": self.last_msn, "gaps": self.gaps, "resets": self.resets,
                "stalls": stalls, "errors": self.errors, "error_times": self.error_times,
                "target": self.target, "seen": sorted(self.seen),
                "hashes": self.hashes}


def viewers_main(args):
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    host, port = args.base.split("//")[1].split(":")
    streams = [s.split(":") for s in args.streams.split(",")]
    viewers = []
    for i in range(args.count):
        pid, *renditions = streams[i % len(streams)]
        first = i < len(streams)
        viewers.append(Viewer(i, host, int(port), pid, renditions[0] if first else
                              renditions[-1], stop, keep_hashes=first))
    for v in viewers:
        v.start()
        time.sleep(0.05)
    while not stop.wait(5):
        now = time.time()
        write_json(args.out, {"time": now, "viewers": [v.report(now) for v in viewers]})
    for v in viewers:
        v.join(20)
    now = time.time()
    write_json(args.out, {"time": now, "viewers": [v.report(now) for v in viewers],
                          "final": True})


# ---------------------------------------------------------------------------------------------
# Blackhole-able TCP relay

async def relay_main(args):
    flowing = asyncio.Event()
    flowing.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, flowing.clear)
    loop.add_signal_handler(signal.SIGUSR2, flowing.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    stats = {"connections": 0, "bytes": 0, "blackholed": []}

    async def pipe(src, dst):
        # Whatever a read returns (bytes, an end, an error) waits while blackholed: nothing,
        # not even a FIN or a reset, crosses a blackhole.
        try:
            while True:
                await flowing.wait()
                try:
                    data = await loop.sock_recv(src, 262144)
                except OSError:
                    data = b""
                await flowing.wait()
                if not data:
                    break
                await loop.sock_sendall(dst, data)
                stats["bytes"] += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    async def serve(listen, target):
        lh, lp = listen.rsplit(":", 1)
        th, tp = target.rsplit(":", 1)
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((lh, int(lp)))
        ls.listen(4)
        ls.setblocking(False)
        while True:
            await flowing.wait()
            conn, _ = await loop.sock_accept(ls)
            if not flowing.is_set():  # accepted just as the blackhole began: hold it
                await flowing.wait()
            up = socket.socket()
            up.setblocking(False)
            conn.setblocking(False)
            try:
                await loop.sock_connect(up, (th, int(tp)))
            except OSError:
                conn.close()
                up.close()
                continue
            stats["connections"] += 1
            holder = (conn, up)

            async def both(holder=holder):
                a, b = holder
                await asyncio.gather(pipe(a, b), pipe(b, a))
                a.close()
                b.close()
            asyncio.create_task(both())

    for listen, target in zip(args.listen, args.target):
        asyncio.create_task(serve(listen, target))
    while not stop.is_set():
        stats["flowing"] = flowing.is_set()
        write_json(args.out, stats)
        try:
            await asyncio.wait_for(stop.wait(), 2)
        except asyncio.TimeoutError:
            pass
    write_json(args.out, stats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["players", "viewers", "relay"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--names")
    ap.add_argument("--app", default="stream")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--base")
    ap.add_argument("--streams")
    ap.add_argument("--listen", action="append", default=[])
    ap.add_argument("--target", action="append", default=[])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.mode == "players":
        asyncio.run(players_main(args))
    elif args.mode == "viewers":
        viewers_main(args)
    else:
        asyncio.run(relay_main(args))


if __name__ == "__main__":
    sys.exit(main())
