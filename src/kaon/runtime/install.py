"""Copy the stdlib-only part of kaon into a folder that user processes get on PYTHONPATH:
`kaon/runtime/*.py` (the replica server and its protocol) and `kaon/determinism.py`
(`seed_everything`), under an empty `kaon/__init__.py`. A user environment thus needs no kaon
install. Used by the platform for both training jobs and replicas."""

from __future__ import annotations

import os
from pathlib import Path

_RUNTIME = Path(__file__).resolve().parent
_PACKAGE = _RUNTIME.parent


def install_runtime(root: Path) -> Path:
    """Copy the files to `root/kaon/...`; returns `root`, the PYTHONPATH to give. Files are
    replaced atomically and only when they changed, so running processes never read half a
    file."""
    files = {root / "kaon" / "__init__.py": b""}
    for source in sorted(_RUNTIME.glob("*.py")):
        files[root / "kaon" / "runtime" / source.name] = source.read_bytes()
    determinism = _PACKAGE / "determinism.py"
    if determinism.is_file():
        files[root / "kaon" / "determinism.py"] = determinism.read_bytes()
    for target, data in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == data:
            continue
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(target)
    return root
