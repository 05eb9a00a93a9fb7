"""What the contract suites (kaon.testing, run by test_contracts.py) cannot say of the SQL
MetadataStore: paging, reopening, migrations, concurrent start-up, error translation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, insert, inspect
from sqlalchemy.pool import NullPool

import kaon.db.chunks as chunkmod
import kaon.db.sql as sqlmod
from kaon.core.errors import BackendUnavailable, InvalidInput, StorageFull
from kaon.core.ids import PackId, RepoName
from kaon.core.repo import Branch, Repo
from kaon.db import schema
from kaon.db.database import Database
from kaon.db.migrate import head_revision, upgrade
from kaon.db.sql import SqlMetadataStore
from kaon.ports.metadata import PackInfo
from kaon.testing.contracts.metadata import chain
from kaon.testing.samples import MAIN, R, dg, loc, mk, run_threads


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlMetadataStore]:
    with Database(url) as db:
        s = db.metadata
        s.create_repo(Repo(R, 1.0, "test repo"))
        yield s


def test_chunk_digests_are_iterated_in_pages(
    store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunkmod, "PAGE", 4)
    store.add_pack(PackInfo(PackId("p"), 100, 1.0), [loc(i, "p") for i in range(10)])
    assert list(store.iter_chunk_digests()) == [dg(i) for i in range(10)]


def test_history_of_a_long_chain_is_fast(store: SqlMetadataStore) -> None:
    n = 10_000
    rows, parent = [], None
    for i in range(n):
        c = mk(parent, f"c{i}")
        rows.append({k: getattr(c, k) for k in sqlmod.COMMIT_COLUMNS})
        parent = c.id
    with store._engine.begin() as conn:  # bulk load; add_commit is tested elsewhere
        conn.execute(insert(schema.commits), rows)
    assert parent is not None
    history = store.history(parent)  # one recursive query; its speed: benchmarks/
    assert [c.message for c in history[:2]] == [f"c{n - 1}", f"c{n - 2}"]
    assert len(history) == n and history[-1].parent is None
    assert len(store.history(parent, limit=50)) == 50


def test_iter_commits_pages(store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlmod, "PAGE", 7)
    c = chain(store, 23)
    assert sorted(x.id for x in store.iter_commits()) == sorted(x.id for x in c)
    assert len(list(store.iter_commits())) == 23


def test_reopen_keeps_everything(store: SqlMetadataStore) -> None:
    c = chain(store, 3)
    store.add_pack(PackInfo(PackId("p"), 1, 1.0), [loc(1, "p")])
    with Database(store.url) as db:  # another process's database
        again = db.metadata
        assert again.get_branch(R, MAIN) == Branch(R, MAIN, c[-1].id)
        assert again.history(c[-1].id) == c[::-1]
        assert again.locate([dg(1)]) == {dg(1): loc(1, "p")}


def test_concurrent_start_up_migrates_once(url: str) -> None:
    def start(i: int) -> None:  # as four servers starting at once
        with Database(url) as db:
            db.metadata.create_repo(Repo(RepoName(f"r{i}"), 1.0))

    assert run_threads(4, start) == []
    with Database(url) as db:
        assert len(db.metadata.list_repos()) == 4


def _shape(url: str) -> dict[str, object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        insp = inspect(engine)
        return {
            t: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
                insp.get_pk_constraint(t),
                sorted((i["name"] or "", tuple(i["column_names"])) for i in insp.get_indexes(t)),
                [(f["name"], f["referred_table"], f["options"]) for f in insp.get_foreign_keys(t)],
            )
            for t in sorted(insp.get_table_names())
            if t != "alembic_version"
        }
    finally:
        engine.dispose()


def test_migrations_produce_the_schema(
    url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    upgrade(url)
    upgrade(url)  # idempotent
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert ctx.get_current_revision() == head_revision()
            assert compare_metadata(ctx, schema.metadata) == []
    finally:
        engine.dispose()
    if url.startswith("sqlite"):
        reference = f"sqlite:///{tmp_path / 'reference.db'}"
    else:
        reference = str(request.getfixturevalue("pg_url"))
    ref_engine = create_engine(reference, poolclass=NullPool)
    schema.metadata.create_all(ref_engine)
    ref_engine.dispose()
    migrated = _shape(url)
    assert set(migrated) == {
        "repos",
        "branches",
        "commits",
        "packs",
        "chunks",
        "workspaces",
        "jobs",
        "trials",
        "endpoints",
        "prov_nodes",
        "prov_edges",
        "s3_credentials",
        "upload_leases",
        "upload_pins",
        "users",
        "api_tokens",
        "workspace_roles",
        "audit",
        "pipelines",
        "pipeline_versions",
        "pipeline_jobs",
        "pipeline_datums",
        "pipeline_reusable",
        "releases",
        "cluster_servers",
        "cluster_claims",
        "stagings",
        "staging_batches",
        "s3_uploads",
        "s3_upload_parts",
        "replica_placements",
        "endpoint_signatures",
        "notebooks",
    }
    assert migrated == _shape(reference)


# -- error translation (backend specific) ---------------------------------------------------


def test_sqlite_lock_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kaon.db"
    db = Database(f"sqlite:///{path}", busy_timeout=0.2)
    store = db.metadata
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(BackendUnavailable, match="busy"):
            store.create_repo(Repo(R, 1.0))
        assert store.get_repo(R) is None  # readers are not blocked (WAL)
    finally:
        holder.close()
        db.close()


def test_sqlite_full_disk_is_storage_full(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kaon.db'}")
    store = db.metadata
    db.close()  # drop pooled connections so the limit below applies to new ones

    @event.listens_for(db.engine, "connect")
    def _cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    with pytest.raises(StorageFull, match="is full"):
        store.add_pack(PackInfo(PackId("p"), 1, 1.0), [loc(i, "p") for i in range(5000)])
    assert store.list_packs() == []  # the transaction was rolled back
    db.close()


def test_unreachable_postgres_is_backend_unavailable() -> None:
    pytest.importorskip("psycopg")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(BackendUnavailable, match="unavailable") as info:
            Database(f"postgresql+psycopg://kaon:secret@127.0.0.1:{port}/kaon")
    assert "secret" not in info.value.message


def test_unsupported_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unsupported"):
        Database("mysql://localhost/kaon")
