#!/usr/bin/env bash
# Checks the deploy recipes with what runs on this machine (no Docker daemon, no cluster):
#   - systemd units: systemd-analyze verify, with ExecStart pointed at the built binary;
#   - Kubernetes manifests: the API schemas of the npm package kubernetes-models;
#   - the ConfigMap's sluice.toml: loaded by the built binary, as every role loads it.
# deploy/dockerfile-steps.sh (slow: a full build) checks the Dockerfile's steps.
# Usage: deploy/validate.sh [sluice binary]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(readlink -f "${1:-$root/build/sluice}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for unit in "$root"/deploy/systemd/*.service; do
  sed "s|/usr/local/bin/sluice|$bin|" "$unit" >"$work/$(basename "$unit")"
done
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$work"/*.service
echo "validate: systemd units ok"

node "$root/tests/tools/validate_manifests.mjs" "$root"/deploy/kubernetes/*.yaml

# The TOML embedded in the ConfigMap: every role must accept it (a bad option stops a start).
python3 - "$root/deploy/kubernetes/sluice.yaml" "$work/sluice.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"  sluice\.toml: \|\n((?:    .*\n|\n)+)", text)
open(sys.argv[2], "w").write("".join(l[4:] + "\n" for l in m.group(1).splitlines()))
PY
for role in serve proxy origin; do
  out=$(timeout 20 "$bin" "$role" --config "$work/sluice.toml" --check-config 2>&1) || {
    echo "validate: $role rejects the ConfigMap's sluice.toml: $out" >&2
    exit 1
  }
done
echo "validate: the ConfigMap's sluice.toml loads in serve, proxy and origin"
