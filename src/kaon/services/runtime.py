"""The stdlib-only part of kaon that user code may import inside its own environment
(`from kaon.determinism import seed_everything`): copied once into a folder that jobs get on
PYTHONPATH, so a user environment needs no kaon install."""

from __future__ import annotations

import shutil
from pathlib import Path

import kaon.determinism


def install_runtime(root: Path) -> Path:
    """Copy kaon/determinism.py into `root`/kaon/ (with an empty __init__); returns `root`."""
    package = root / "kaon"
    package.mkdir(parents=True, exist_ok=True)
    init = package / "__init__.py"
    if not init.exists():
        init.write_text('"""kaon runtime helpers for user code (stdlib only)."""\n')
    source = Path(kaon.determinism.__file__)
    target = package / "determinism.py"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        tmp = package / ".determinism.py.tmp"
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return root
