"""End-to-end fixtures: one shared platform in a temporary KAON_HOME, and a big folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import helpers
from .helpers import LEASE_SECONDS, Kaon, MiB, random_file


@pytest.fixture(scope="session", autouse=True)
def _e2e_store_on_s3(request: pytest.FixtureRequest) -> None:
    """KAON_TEST_E2E_STORE=s3: every platform the e2e tests start keeps its objects on the S3
    test server (tests/s3fixtures.py), each under its own prefix of one bucket."""
    if os.environ.get("KAON_TEST_E2E_STORE", "") == "s3":
        helpers.S3_BUCKET_URL = request.getfixturevalue("s3_server").new_bucket(prefix="")


@pytest.fixture(scope="session")
def kaon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """One platform shared by the suite (walk-through, bad input, concurrency, client kill)."""
    k = Kaon(tmp_path_factory.mktemp("kaon-home"))
    k.env["KAON_UPLOAD_LEASE_SECONDS"] = str(LEASE_SECONDS)  # test_crash kills clients
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


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
    k = Kaon(tmp_path_factory.mktemp("kaon-lone-home"))
    k.env["KAON_UPLOAD_LEASE_SECONDS"] = str(LEASE_SECONDS)
    try:
        k.up()
        yield k
    finally:
        k.shutdown()
