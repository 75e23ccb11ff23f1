"""scripts/fleet-demo.sh --check: the one-host fleet (Redis, two servers, proxy, origin) comes
up, takes a stream through the proxy and plays it through the origin, and stops everything.
Under scripts/test-asan.sh a sanitizer report from any process of the fleet fails it."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SLUICE, logged_sluice, sanitizer_reports

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


class FleetDemo(unittest.TestCase):
    def test_one_command_fleet_plays_end_to_end(self):
        # The script keeps its logs only when it fails: each sluice's stderr is copied here.
        reports = tempfile.mkdtemp(prefix="sluice-fleet-demo-")
        self.addCleanup(shutil.rmtree, reports, ignore_errors=True)
        env = dict(os.environ, SLUICE_BIN=logged_sluice(reports))
        out = subprocess.run([os.path.join(ROOT, "scripts/fleet-demo.sh"), "--check"],
                             capture_output=True, timeout=180, env=env)
        text = out.stdout.decode() + out.stderr.decode()
        self.assertEqual(sanitizer_reports(reports, text), [])
        self.assertEqual(out.returncode, 0, text[-3000:])
        self.assertIn("fleet-demo: play:    http://127.0.0.1:", text)
        self.assertIn("check passed (the stream is on ", text)
        # Everything it started is gone: no sluice of this run is left.
        left = subprocess.run(["pgrep", "-f", f"{os.path.abspath(SLUICE)} (serve|origin|proxy) "
                               "--registry redis://127.0.0.1"], capture_output=True)
        self.assertEqual(left.stdout.decode().strip(), "")


if __name__ == "__main__":
    unittest.main()
