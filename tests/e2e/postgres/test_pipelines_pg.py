"""A 3-stage pipeline chain set off by `put file -r`, on PostgreSQL (tests/e2e/test_pipelines.py):
its platform `pk` is this folder's `profile`."""

from collections.abc import Iterator

import pytest

from ..helpers import Kaon, Profile
from ..test_pipelines import chain, pytestmark, test_chain_runs_on_put_file  # noqa: F401


@pytest.fixture(scope="module")
def pk(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Iterator[Kaon]:
    k = Kaon(tmp_path_factory.mktemp("kaon-pg-pipelines"), profile)
    try:
        k.up()
        yield k
    finally:
        k.shutdown()
