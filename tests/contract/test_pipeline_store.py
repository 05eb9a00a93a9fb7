"""What the PipelineStore contract (kaon.testing) cannot say of the SQL store: the migration
from a database of the previous version, and that a job's 1,000 datum records are saved and
looked up in a few statements (not one per record); on SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, insert

from kaon.core.ids import RepoName
from kaon.core.pipelines.records import DatumState
from kaon.db import schema
from kaon.db.database import Database
from kaon.db.engine import WRITE_OPTION, make_engine
from kaon.db.migrate import alembic_config, upgrade
from kaon.testing.pipeline_samples import datum, digest, gid, job, pipeline, version


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    with Database(url) as opened:
        yield opened


def _statements(db: Database) -> list[str]:
    """The SQL statements `db` runs from now on (an executemany counts once)."""
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    return seen


def test_upgrade_from_the_previous_version_adds_the_pipeline_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0009")
            conn.execute(insert(schema.repos), {"name": "edges", "created": 1, "description": ""})
    finally:
        engine.dispose()
    upgrade(url)
    with Database(url) as db:
        assert [r.name for r in db.metadata.list_repos()] == ["edges"]
        db.pipelines.add_pipeline(pipeline(), version())
        db.pipelines.add_job(job(1))
        db.pipelines.save_datums([datum(0)])
        db.metadata.delete_repo(RepoName("edges"))  # no link: the pipeline stays
        assert db.pipelines.get_pipeline("edges") == pipeline()
        assert db.pipelines.succeeded("edges", [digest(0, "b")]) == {digest(0, "b"): datum(0)}


def test_a_thousand_datum_records_are_saved_in_a_few_statements(db: Database) -> None:
    store = db.pipelines
    store.add_job(job(1))
    seen = _statements(db)
    store.save_datums([datum(n, state=DatumState.RUNNING, output=None) for n in range(1000)])
    assert len(seen) <= 8, seen
    seen.clear()
    store.save_datums([datum(n) for n in range(1000)])  # replaced: now reusable
    assert len(seen) <= 8, seen
    assert len(store.list_datums("edges", gid(1), [DatumState.SUCCESS])) == 1000


def test_a_thousand_hashes_are_looked_up_in_a_few_queries(db: Database) -> None:
    store = db.pipelines
    for j in (1, 2, 3):  # every hash recorded by three jobs (SKIPPED by the later two)
        store.add_job(job(j))
        state = DatumState.SUCCESS if j == 1 else DatumState.SKIPPED
        store.save_datums([datum(n, job_n=j, state=state) for n in range(1000)])
    seen = _statements(db)
    found = store.succeeded("edges", [digest(n, "b") for n in range(1000)])
    assert len(seen) <= 3, seen
    assert len(found) == 1000 and {r.job for r in found.values()} == {gid(3)}
