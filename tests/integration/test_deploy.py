"""The deploy recipes pass the checks that run without a Docker daemon or a cluster
(deploy/validate.sh): systemd-analyze on the units, the Kubernetes API schemas on the
manifests, and every role loading the ConfigMap's sluice.toml."""

import os
import subprocess
import unittest

from harness import SLUICE

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


class Deploy(unittest.TestCase):
    def test_recipes_validate(self):
        out = subprocess.run([os.path.join(ROOT, "deploy/validate.sh"), os.path.abspath(SLUICE)],
                             capture_output=True, timeout=120)
        text = out.stdout.decode() + out.stderr.decode()
        self.assertEqual(out.returncode, 0, text)
        self.assertIn("validate: systemd units ok", text)
        self.assertRegex(text, r"validate_manifests: \d+ valid, 0 invalid")
        self.assertIn("loads in serve, proxy and origin", text)

    def test_check_config_rejects_a_bad_option(self):
        out = subprocess.run([os.path.abspath(SLUICE), "origin", "--origin-listen", "nowhere",
                              "--check-config"], capture_output=True, timeout=20)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("origin.listen", (out.stdout + out.stderr).decode())


if __name__ == "__main__":
    unittest.main()
