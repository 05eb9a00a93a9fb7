"""The contract tests' databases: memory, SQLite and the throw-away PostgreSQL server of
tests/pgfixtures.py (`pg_server`, `pg_url`: seen by every test package through tests/conftest.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.db import schema
from kaon.db.database import Database
from kaon.memory.database import MemoryDatabase
from kaon.ports.database import MetadataDatabase
from pgfixtures import new_pg_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata database: a SQLite file, then the throw-away PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


# -- the contract suites' `database` (kaon.testing): memory, SQLite, PostgreSQL -------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to head, copied for each test (a copy costs ~3 ms,
    migrating ~80 ms)."""
    path = tmp_path_factory.mktemp("contract-template") / "kaon.db"
    Database(f"sqlite:///{path}").close()
    return path


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> Iterator[Database]:
    """One migrated schema for the session's contract tests, emptied before each."""
    db = Database(new_pg_schema(pg_server))
    try:
        yield db
    finally:
        db.close()


def _emptied(db: Database) -> Database:
    names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
    with db.writer.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
    return db


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataDatabase]:
    """A fresh, empty metadata database of each backend."""
    if request.param == "memory":
        yield MemoryDatabase()
    elif request.param == "sqlite":
        path = tmp_path / "kaon.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
        try:
            yield db
        finally:
            db.close()
    else:
        yield _emptied(request.getfixturevalue("pg_database"))
