"""The folder the pipeline examples use (kaon.client.pipelines' docstrings, the live CLI
tests): `specs.yaml` (pipeline `copy`: repo `raw`, glob `/*`, its code in `copy-src/`)."""

from __future__ import annotations

from pathlib import Path

COPY = """import os, shutil
root = os.environ.get("PFS_DIR", "/pfs")
for name in sorted(os.listdir(os.path.join(root, "raw"))):
    print("copying", name, flush=True)
    shutil.copy(os.path.join(root, "raw", name), os.path.join(root, "out", name))
"""

SPECS = """\
pipeline: {name: copy}
description: copies raw
input:
  pfs: {repo: raw, glob: "/*"}
transform:
  source: copy-src
  cmd: [python3, copy.py]
pod_spec: '{"serviceAccount": "ml-user"}'
"""


def make_pipeline_examples(root: Path) -> Path:
    """specs.yaml and copy-src/{copy.py,requirements.txt} under `root`; the spec file."""
    code = root / "copy-src"
    code.mkdir(parents=True, exist_ok=True)
    (code / "copy.py").write_text(COPY)
    (code / "requirements.txt").write_text("")
    spec = root / "specs.yaml"
    spec.write_text(SPECS)
    return spec


def needs_pipelines() -> str | None:
    """Why the platform cannot run pipelines in this build (None: it can)."""
    import importlib.util

    for module in ("kaon.services.pipelines.service", "kaon.services.pipelines.jobrunner"):
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # its package is missing too
            found = None
        if found is None:
            return f"{module} is not in this build yet"
    return None
