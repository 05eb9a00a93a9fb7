"""The e2e matrix's second column: the tests of this folder (a representative half of the
suite, imported from the modules beside it) run on PostgreSQL + S3 (a fresh database per
platform on tests/pgfixtures.py's server, a fresh bucket on tests/s3fixtures.py's moto server)
instead of SQLite + the local store. Their `kaon` and `lone` are platforms of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgfixtures import new_pg_database
from s3fixtures import S3Server

from ..conftest import shared_platform
from ..helpers import Kaon, Profile


@pytest.fixture(scope="session")
def profile(pg_server: str, s3_server: S3Server) -> Profile:
    """PostgreSQL for the metadata, a bucket of the S3 server for the objects."""
    return Profile(
        "postgresql+s3",
        new_database=lambda: new_pg_database(pg_server, migrated=True),
        new_store=s3_server.new_bucket,
    )


@pytest.fixture(scope="session")
def kaon(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Iterator[Kaon]:
    with shared_platform(tmp_path_factory.mktemp("kaon-pg-home"), profile) as k:
        yield k


@pytest.fixture(scope="session")
def lone(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Iterator[Kaon]:
    with shared_platform(tmp_path_factory.mktemp("kaon-pg-lone-home"), profile) as k:
        yield k
