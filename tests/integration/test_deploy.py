"""The deploy recipes pass the checks that run without a Docker daemon or a cluster
(deploy/validate.sh): systemd-analyze on the units, the Kubernetes API schemas on the
manifests, and every role loading the ConfigMap's sluice.toml. Under scripts/test-asan.sh a
sanitizer report from sluice fails them."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SLUICE, logged_sluice, sanitizer_reports

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


class Deploy(unittest.TestCase):
    def setUp(self):
        # validate.sh shows sluice's output only when it fails: its stderr is copied here.
        self.reports = tempfile.mkdtemp(prefix="sluice-deploy-")
        self.addCleanup(shutil.rmtree, self.reports, ignore_errors=True)

    def test_recipes_validate(self):
        out = subprocess.run([os.path.join(ROOT, "deploy/validate.sh"),
                              logged_sluice(self.reports)], capture_output=True, timeout=120)
        text = out.stdout.decode() + out.stderr.decode()
        self.assertEqual(sanitizer_reports(self.reports, text), [])
        self.assertEqual(out.returncode, 0, text)
        self.assertIn("validate: systemd units ok", text)
        self.assertRegex(text, r"validate_manifests: \d+ valid, 0 invalid")
        self.assertIn("loads in serve, proxy and origin", text)

    def test_check_config_rejects_a_bad_option(self):
        out = subprocess.run([os.path.abspath(SLUICE), "origin", "--origin-listen", "nowhere",
                              "--check-config"], capture_output=True, timeout=20)
        self.assertEqual(sanitizer_reports(self.reports, (out.stdout + out.stderr).decode()), [])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("origin.listen", (out.stdout + out.stderr).decode())


if __name__ == "__main__":
    unittest.main()
