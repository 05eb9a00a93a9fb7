"""What the CredentialStore contract (kaon.testing) cannot say of the SQL store: keys sealed
with the key outside the database and read back by another process, migrations, stored scopes
of unknown kinds; on SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.credentials import new_credential
from kaon.db.credentials import SqlCredentialStore
from kaon.db.database import Database
from kaon.testing.contracts.credentials import KEY


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlCredentialStore]:
    with Database(url) as db:
        yield db.credentials(KEY)


def test_keys_are_read_back_by_another_process(store: SqlCredentialStore) -> None:
    job = new_credential("job 0123abcd (me)", 2.0, "0123abcd" * 4, "w", "bob")
    store.add_credential(job)
    with Database(store.url) as db:  # another process's database, with the same key
        assert db.credentials(KEY).get_credential(job.access_key) == job


def test_upgrade_scopes_the_keys_of_jobs_to_their_workspace(url: str) -> None:
    """Migration 0008: existing keys made by a user keep full access; a job's key is scoped to
    its job's workspace; the key of a job that no longer exists is deleted."""
    from alembic import command
    from sqlalchemy import insert

    from kaon.db import schema
    from kaon.db.engine import WRITE_OPTION, make_engine
    from kaon.db.migrate import alembic_config, upgrade

    running, gone = "1" * 32, "2" * 32
    engine = make_engine(url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0007")
            conn.execute(
                insert(schema.workspaces),
                {"name": "w", "created": 1, "author": "", "current": "{}"},
            )
            conn.execute(
                insert(schema.jobs),
                {
                    "id": running,
                    "workspace": "w",
                    "state": "JOB_RUNNING",
                    "created": 1,
                    "doc": "{}",
                },
            )
            keys = [("KAONUSER", None), ("KAONJOB", running), ("KAONGONE", gone)]
            conn.execute(
                insert(schema.s3_credentials),
                [
                    {"access_key": k, "secret": "s", "owner": "o", "created": n, "job": j}
                    for n, (k, j) in enumerate(keys)
                ],
            )
    finally:
        engine.dispose()
    upgrade(url)
    with Database(url) as db:
        scopes = {
            c.access_key: (c.workspace, c.user) for c in db.credentials(KEY).list_credentials()
        }
    assert scopes == {"KAONUSER": (None, None), "KAONJOB": ("w", None)}


def test_a_stored_scope_of_an_unknown_kind_is_refused(store: SqlCredentialStore) -> None:
    from sqlalchemy import update

    from kaon.core.errors import InvalidInput
    from kaon.db import schema
    from kaon.db.engine import WRITE_OPTION, make_engine

    key = new_credential("me", 1.0, user="me")
    store.add_credential(key)
    engine = make_engine(store.url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            conn.execute(update(schema.s3_credentials).values(scope="role:admin"))
    finally:
        engine.dispose()
    with pytest.raises(InvalidInput, match="unknown S3 key scope 'role:admin'"):
        store.get_credential(key.access_key)
