"""EnvBuilder: requirements → a lock of exact versions → a cached, reusable Python environment.

The local backend builds virtualenvs with uv; a cluster backend may build images instead. The
services only see a lock (what will be installed, content-addressed) and an environment (where
its interpreter lives).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

LogSink = Callable[[str], None]
"""Receives one line of build or run output at a time (no trailing newline)."""


@dataclass(frozen=True)
class EnvLock:
    """An exact, content-addressed description of an environment.

    `id` is a hash of `text` and `python`; two jobs with the same id share one environment.
    `text` is a requirements file of exact pins (`name==version`, with hashes where the index
    gives them) that reinstalls the same packages anywhere.
    """

    id: str
    text: str
    python: str  # interpreter version, e.g. "3.11.7"


@dataclass(frozen=True)
class Environment:
    lock_id: str
    root: Path  # the environment's prefix (a virtualenv locally)
    bin_dir: Path  # put first on PATH to run inside the environment
    python: Path  # its interpreter


class EnvBuilder(Protocol):
    def lock(self, requirements: str, log: LogSink, cancel: threading.Event) -> EnvLock:
        """Resolve `requirements` (requirements.txt syntax) to exact versions.

        Raises kaon.core.errors.BuildFailed with the resolver's own message (also written to
        `log`) when a requirement cannot be resolved; the same requirements text resolved
        before is answered from a cache without touching the network."""
        ...

    def ensure(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> Environment:
        """The environment of `lock`, built now if it is not cached yet. Safe to call from many
        threads and processes at once: one builds, the others wait and reuse. An interrupted
        build never leaves a half-built environment that looks ready."""
        ...

    def forget(self, lock_id: str) -> bool:
        """Delete the cached environment of `lock_id` (a later `ensure` rebuilds it)."""
        ...
