"""The CredentialStore contract (S3 keys and their scope), on SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.access import FULL, Scope
from kaon.core.credentials import new_credential
from kaon.db.credentials import SqlCredentialStore


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlCredentialStore]:
    s = SqlCredentialStore(url)
    yield s
    s.close()


def test_keys_keep_their_scope(store: SqlCredentialStore) -> None:
    user = new_credential("me", 1.0)
    job = new_credential("job 0123abcd (me)", 2.0, "0123abcd" * 4, Scope("w"))
    store.add_credential(user)
    store.add_credential(job)
    assert store.get_credential(user.access_key) == user
    assert store.get_credential(job.access_key) == job
    assert [c.scope for c in store.list_credentials()] == [FULL, Scope("w")]
    again = SqlCredentialStore(store.url)  # read back by another process's store
    try:
        assert again.get_credential(job.access_key) == job
    finally:
        again.close()


def test_job_keys_are_revoked_together(store: SqlCredentialStore) -> None:
    job = "0123abcd" * 4
    store.add_credential(new_credential("job", 1.0, job, Scope("w")))
    store.add_credential(new_credential("job", 2.0, job, Scope("w")))
    kept = new_credential("me", 3.0)
    store.add_credential(kept)
    assert store.delete_job_credentials(job) == 2
    assert store.list_credentials() == [kept]
    assert store.get_credential("KAONNOSUCHKEY0000000") is None
