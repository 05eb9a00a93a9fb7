#!/usr/bin/env bash
# Refresh the web UI's vendored front-end libraries from the npm registry, at the versions
# src/kaon/ui/static/vendor/VENDOR.json pins (edit a version there, run this, commit both:
# the digests in VENDOR.json are rewritten). Needs node's npm; the UI itself needs no build.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=src/kaon/ui/static/vendor
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$vendor" "$work" <<'PY'
import hashlib, json, subprocess, sys, tarfile
from pathlib import Path
vendor, work = Path(sys.argv[1]), Path(sys.argv[2])
manifest = json.loads((vendor / "VENDOR.json").read_text())
for name, spec in manifest.items():
    if name.startswith("_"):
        continue
    pkg = f"{spec['package']}@{spec['version']}"
    tgz = subprocess.run(["npm", "pack", pkg, "--silent"], cwd=work, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(work / tgz) as tar:
        data = tar.extractfile(f"package/{spec['file']}").read()
    (vendor / name).write_bytes(data)
    spec["sha256"] = hashlib.sha256(data).hexdigest()
    print(f"{name}: {pkg} {len(data):,} bytes")
(vendor / "VENDOR.json").write_text(json.dumps(manifest, indent=2) + "\n")
PY
