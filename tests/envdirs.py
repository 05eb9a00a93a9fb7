"""One environments folder (KAON_ENV_DIR) per pytest session, shared by its xdist workers: the
platforms the tests start build each lock once per suite instead of once per KAON_HOME (the
builder is safe across processes: kaon.exec.uv). Under xdist every worker's base temp is
`<the session's base temp>/popen-gwN`, so their common parent is the session's; without xdist
the base temp is the session's own.

Tests that check a first build, or delete or forget environments, keep a private folder
(`Kaon(..., private_envs=True)`): their builds must be real, and deleting an environment that
another platform's job runs in would break that job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SHARED: list[Path] = []


def shared_env_dir() -> Path | None:
    """The session's environments folder (None outside a session that set it)."""
    return _SHARED[0] if _SHARED else None


@pytest.fixture(scope="session", autouse=True)
def session_env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = root / "envs"
    path.mkdir(exist_ok=True)
    _SHARED[:] = [path]
    return path
