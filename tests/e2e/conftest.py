"""End-to-end fixtures: one shared platform in a temporary KAON_HOME, and a big folder.

`profile` says which backends the platforms of a test run on: SQLite + the local store here;
tests/e2e/postgres/conftest.py overrides it (and `kaon`, `lone`) to run on PostgreSQL (+ S3).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .helpers import LEASE_SECONDS, SQLITE_LOCAL, Kaon, MiB, Profile, random_file


@contextmanager
def shared_platform(home: Path, profile: Profile, private_envs: bool = False) -> Iterator[Kaon]:
    """A platform up in `home` on `profile`'s backends, shut down on exit."""
    k = Kaon(home, profile, private_envs=private_envs)
    k.env["KAON_UPLOAD_LEASE_SECONDS"] = str(LEASE_SECONDS)  # test_crash kills clients
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


@pytest.fixture(scope="session")
def profile() -> Profile:
    """The backends of the platforms of a test (SQLite + local store)."""
    return SQLITE_LOCAL


@pytest.fixture(scope="session")
def kaon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """One platform shared by the suite (walk-through, bad input, concurrency, client kill).
    Its environments are its own: test_provenance deletes them (a rebuild from the lock)."""
    home = tmp_path_factory.mktemp("kaon-home")
    with shared_platform(home, SQLITE_LOCAL, private_envs=True) as k:
        yield k


@pytest.fixture(scope="session")
def big_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~300 MB of random data in four files (slow enough to kill mid-upload)."""
    root = tmp_path_factory.mktemp("big")
    for i in range(4):
        random_file(root / f"part{i}.bin", 75 * MiB + i * 4097)
    return root


@pytest.fixture(scope="session")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """A platform of its own for the tests that kill, stop and restart it (each test starts
    with `lone.up()`)."""
    with shared_platform(tmp_path_factory.mktemp("kaon-lone-home"), SQLITE_LOCAL) as k:
        yield k
