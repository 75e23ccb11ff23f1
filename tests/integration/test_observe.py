"""What an operator watches: JSON logs (session and stream fields, keys masked), the
Prometheus text of every role (per-stream, transcoder, segment and process metrics), and the
Grafana dashboard in deploy/, whose every query must name a metric some role exports and parse
as PromQL. promtool (Debian's prometheus package) lints the metrics and parses the queries."""

import json
import os
import re
import subprocess
import unittest

from harness import Origin, Proxy, SluiceTestCase, ffmpeg_publish, free_port, wait_until

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
DASHBOARD = os.path.join(ROOT, "deploy/grafana/sluice-dashboard.json")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})?'
                    r' (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')


def parse_prometheus(text):
    """{name: [(labels text, value)]}; fails on any line outside the text format."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not Prometheus text format: {line!r}")
        samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(5))))
    for name in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in typed and family not in typed:
            raise AssertionError(f"{name} has no TYPE line")
    return samples


def promtool_lint(test, text):
    """`promtool check metrics`: the text format and Prometheus' naming conventions."""
    out = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=30)
    test.assertEqual(out.returncode, 0, (out.stdout + out.stderr).decode())


def value(samples, name, label=""):
    for labels, v in samples.get(name, []):
        if label in labels:
            return v
    raise AssertionError(f"no sample {name} with {label!r} in {sorted(samples)}")


class Observability(SluiceTestCase):
    def test_json_logs_and_metrics_of_a_transcoded_relayed_stream(self):
        dead_port = free_port()  # the relay's destination refuses: it retries and logs
        sluice = self.start_sluice(
            "--log-format", "json",
            "--relay-youtube-url", f"rtmp://127.0.0.1:{dead_port}/live2/{{key}}",
            ladder="180p:320x180:300k:600k:64k")
        key = "observe-key-8d2f1c"
        self.track(ffmpeg_publish(sluice.rtmp_url(key) + "?youtube=yt-secret-77aa",
                                  self.path("ffmpeg.log"), seconds=60))
        playback_id = sluice.playback_id(key)
        sluice.wait_master(playback_id)
        sluice.get(f"/{playback_id}/180p/index.m3u8")
        wait_until(lambda: "sluice_hls_segment_production_seconds_count 2"
                   in sluice.get("/metrics")[2].decode() or None, 30, what="two segments")

        text = sluice.get("/metrics")[2].decode()
        promtool_lint(self, text)
        samples = parse_prometheus(text)
        stream = f'playback_id="{playback_id}"'
        self.assertGreater(value(samples, "sluice_stream_received_bytes_total", stream), 10_000)
        self.assertGreater(value(samples, "sluice_stream_video_frames_total", stream), 30)
        self.assertGreater(value(samples, "sluice_stream_uptime_seconds", stream), 1)
        self.assertEqual(value(samples, "sluice_stream_hls_viewers", stream), 1)
        self.assertGreaterEqual(value(samples, "sluice_transcode_lag_seconds", stream), 0)
        self.assertEqual(value(samples, "sluice_transcode_frames_dropped_total", stream), 0)
        self.assertGreaterEqual(value(samples, "sluice_hls_segment_duration_seconds_count"), 2)
        self.assertEqual(value(samples, "sluice_hls_segment_production_seconds_bucket",
                               'le="+Inf"'),
                         value(samples, "sluice_hls_segment_production_seconds_count"))
        self.assertEqual(value(samples, "sluice_relay_up", 'destination="youtube"'), 0)
        self.assertGreater(value(samples, "process_cpu_seconds_total"), 0)
        self.assertGreater(value(samples, "process_resident_memory_bytes"), 1 << 20)
        wait_until(lambda: 'retrying in' in sluice.output() or None, 20, what="a relay retry")
        sluice.stop()

        lines = [json.loads(line) for line in sluice.output().splitlines() if line.strip()]
        publish = [r for r in lines if r["msg"].startswith("publishing key")]
        self.assertEqual(len(publish), 1, lines[:20])
        self.assertRegex(publish[0]["session"], r"^rtmp#\d+$")
        self.assertEqual((publish[0]["stream"], publish[0]["remote"]), (playback_id, "127.0.0.1"))
        relay = [r for r in lines if r.get("component") == "relay"]
        self.assertTrue(relay)
        self.assertEqual({(r["stream"], r["destination"]) for r in relay},
                         {(playback_id, "youtube")})
        self.assertTrue(any(r.get("component") == "transcode" and r["stream"] == playback_id
                            for r in lines))
        for r in lines:
            self.assertEqual(set(r) & {"time", "level", "msg"}, {"time", "level", "msg"})
        log = sluice.output()
        self.assertNotIn(key, log)
        self.assertNotIn("yt-secret-77aa", log)
        self.assertIn("obs…(18)", log)

    def test_dashboard_queries_name_exported_metrics(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreaterEqual(len(exprs), 10)
        used = {re.sub(r"_(bucket|sum|count)$", "", n)
                for e in exprs for n in re.findall(r"\b((?:sluice|process)_[a-z0-9_]+)", e)}

        sluice = self.start_sluice()
        origin = self.track(Origin(self.workdir))
        proxy = self.track(Proxy(self.workdir))
        exported = set()
        for role in (sluice, origin, proxy):
            promtool_lint(self, role.get("/metrics")[2].decode())
            samples = parse_prometheus(role.get("/metrics")[2].decode())
            exported |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in samples}
        # Per-stream and per-relay families have no samples without streams: their TYPE lines
        # are there, which is what a dashboard query needs to name.
        for role in (sluice, origin, proxy):
            exported |= set(re.findall(r"^# TYPE (\S+)", role.get("/metrics")[2].decode(), re.M))
        self.assertEqual(used - exported, set())

        # Every query is valid PromQL: promtool parses them as recording rules (with the
        # dashboard's $instance variable at its "All" value).
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": e.replace("$instance", ".*")}
            for i, e in enumerate(exprs)]}]}
        with open(self.path("rules.yml"), "w") as f:
            json.dump(rules, f)  # JSON is YAML
        out = subprocess.run(["promtool", "check", "rules", self.path("rules.yml")],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, (out.stdout + out.stderr).decode())


if __name__ == "__main__":
    unittest.main()
