"""Copy the stdlib-only part of kaon into a folder that user processes get on PYTHONPATH:
`kaon/runtime/*.py` (the replica server and its protocol), `kaon/determinism.py`
(`seed_everything`) and the SDK (`kaon.client` with what it imports: `kaon.core`, `kaon.wire`,
`kaon.config`, `kaon.extras`), so `from kaon.client import Client; Client.from_env()` works in
a job, a pipeline's datum or service with no kaon install in its environment (the SDK imports
only the standard library; `kaon.wire.requests`, the server's pydantic bodies, is copied but
never imported by it). Used by the platform for training jobs, pipelines and replicas."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_RUNTIME = Path(__file__).resolve().parent
_PACKAGE = _RUNTIME.parent
_SDK_PACKAGES = ("runtime", "client", "core", "wire")  # copied with their sub-packages
_SDK_MODULES = ("__init__.py", "determinism.py", "config.py", "extras.py", "py.typed")

# The roots this process has brought up to date: a start wires the executor, the replicas and
# the notebooks on the same `$KAON_HOME/runtime`; the first call compares the copy file by
# file, the others (same process, the folder still there) return at once.
_INSTALLED: set[Path] = set()
_LOCK = threading.Lock()


def _files() -> dict[Path, bytes]:
    """Each file to copy, by its path relative to the copy's root, with its bytes."""
    found: dict[Path, bytes] = {}
    for name in _SDK_MODULES:
        source = _PACKAGE / name
        if source.is_file():
            found[Path("kaon") / name] = source.read_bytes()
    for package in _SDK_PACKAGES:
        for source in sorted((_PACKAGE / package).rglob("*.py")):
            found[Path("kaon") / source.relative_to(_PACKAGE)] = source.read_bytes()
    return found


def install_runtime(root: Path) -> Path:
    """Copy the files to `root/kaon/...`; returns `root`, the PYTHONPATH to give. Files are
    replaced atomically and only when they changed, so running processes never read half a
    file. Done once per process and root (while `root/kaon` exists)."""
    key = root.resolve()
    with _LOCK:
        if key in _INSTALLED and (key / "kaon").is_dir():
            return root
        _copy(root)
        _INSTALLED.add(key)
    return root


def _copy(root: Path) -> None:
    for relative, data in _files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == data:
            continue
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(target)
