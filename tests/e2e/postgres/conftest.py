"""The e2e matrix's second column: the tests of this folder (a representative half of the
suite, imported from the modules beside it) run on PostgreSQL (a fresh database per platform,
tests/pgfixtures.py) instead of SQLite. Their `kaon` and `lone` are platforms of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgfixtures import new_pg_database

from ..conftest import shared_platform
from ..helpers import Kaon, Profile


@pytest.fixture(scope="session")
def profile(pg_server: str) -> Profile:
    """PostgreSQL for the metadata, the local object store in KAON_HOME."""
    return Profile("postgresql+local", new_database=lambda: new_pg_database(pg_server))


@pytest.fixture(scope="session")
def kaon(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Iterator[Kaon]:
    with shared_platform(tmp_path_factory.mktemp("kaon-pg-home"), profile) as k:
        yield k


@pytest.fixture(scope="session")
def lone(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Iterator[Kaon]:
    with shared_platform(tmp_path_factory.mktemp("kaon-pg-lone-home"), profile) as k:
        yield k
