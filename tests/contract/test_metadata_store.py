"""One conformance suite for MetadataStore, run against every backend available here."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, insert, inspect
from sqlalchemy.pool import NullPool

import kaon.db.sql as sqlmod
from kaon.core.commit import Commit, seal
from kaon.core.errors import (
    AlreadyExists,
    BackendUnavailable,
    BranchNotFound,
    InvalidInput,
    RepoNotFound,
    StorageFull,
)
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName
from kaon.core.repo import Branch, Repo
from kaon.db import schema
from kaon.db.migrate import head_revision, upgrade
from kaon.db.sql import SqlMetadataStore
from kaon.ports.metadata import ChunkLocation, MetadataStore, PackInfo

R = RepoName("data")
MAIN = BranchName("main")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlMetadataStore]:
    s = SqlMetadataStore(url)
    s.create_repo(Repo(R, 1.0, "test repo"))
    yield s
    s.close()


def mk(parent: CommitId | None, msg: str, repo: RepoName = R, branch: str = "main") -> Commit:
    tree = Digest("ab" * 32)
    partial = Commit(
        CommitId(""), repo, BranchName(branch), parent, tree, 10, 2, msg, "me", 1.5, 2.25
    )
    return seal(partial)


def chain(store: SqlMetadataStore, n: int, repo: RepoName = R) -> list[Commit]:
    out: list[Commit] = []
    head: CommitId | None = None
    for i in range(n):
        c = mk(head, f"c{i}", repo)
        assert store.add_commit(c, head)
        out.append(c)
        head = c.id
    return out


def run_threads(n: int, work: Callable[[int], None]) -> list[Exception]:
    """Run `work(0..n-1)` in n threads at once; the exceptions they raised."""
    errors: list[Exception] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except Exception as err:  # noqa: BLE001 - reported to the caller
            errors.append(err)

    workers = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


def dg(i: int) -> Digest:
    return Digest(f"{i:064x}")


def loc(i: int, pack: str, offset: int | None = None) -> ChunkLocation:
    return ChunkLocation(dg(i), PackId(pack), i * 10 if offset is None else offset, 7, 9, 1)


def test_repos(store: SqlMetadataStore) -> None:
    _: MetadataStore = store  # the protocol is satisfied (checked by mypy)
    store.create_repo(Repo(RepoName("alpha"), 2.5))
    assert store.get_repo(R) == Repo(R, 1.0, "test repo")
    assert store.get_repo(RepoName("nope")) is None
    assert [r.name for r in store.list_repos()] == ["alpha", "data"]
    with pytest.raises(AlreadyExists, match="repo 'alpha' already exists"):
        store.create_repo(Repo(RepoName("alpha"), 3.0))


def test_delete_repo_cascades(store: SqlMetadataStore) -> None:
    other = RepoName("other")
    store.create_repo(Repo(other, 1.0))
    mine, theirs = chain(store, 3), chain(store, 2, other)
    store.set_branch(R, BranchName("dev"), mine[0].id, create=True)
    store.delete_repo(R)
    assert store.get_repo(R) is None
    assert store.list_branches(R) == []
    assert all(store.get_commit(c.id) is None for c in mine)
    assert [c.id for c in store.iter_commits()] == sorted(c.id for c in theirs)
    assert store.get_branch(other, MAIN) == Branch(other, MAIN, theirs[-1].id)
    store.create_repo(Repo(R, 5.0))  # the name is free again
    assert store.get_branch(R, MAIN) is None


def test_branches(store: SqlMetadataStore) -> None:
    c = chain(store, 2)
    dev = BranchName("dev")
    store.set_branch(R, dev, c[0].id, create=True)
    with pytest.raises(AlreadyExists, match="branch 'dev' already exists"):
        store.set_branch(R, dev, None, create=True)
    assert store.get_branch(R, dev) == Branch(R, dev, c[0].id)
    store.set_branch(R, dev, c[1].id, create=False)
    assert store.get_branch(R, dev) == Branch(R, dev, c[1].id)
    store.set_branch(R, dev, None, create=False)
    assert store.get_branch(R, dev) == Branch(R, dev, None)
    with pytest.raises(BranchNotFound):
        store.set_branch(R, BranchName("ghost"), None, create=False)
    with pytest.raises(RepoNotFound):
        store.set_branch(RepoName("nope"), dev, None, create=True)
    assert [b.name for b in store.list_branches(R)] == ["dev", "main"]
    store.delete_branch(R, dev)
    store.delete_branch(R, dev)  # idempotent
    assert store.get_branch(R, dev) is None
    assert store.get_commit(c[0].id) == c[0]  # commits outlive branches


def test_add_commit_compare_and_set(store: SqlMetadataStore) -> None:
    first = mk(None, "first")
    assert store.add_commit(first, None)
    assert store.get_branch(R, MAIN) == Branch(R, MAIN, first.id)
    assert store.get_commit(first.id) == first
    rival = mk(None, "rival")
    assert not store.add_commit(rival, None)  # branch already has a head
    assert store.get_commit(rival.id) is None
    second = mk(first.id, "second")
    assert not store.add_commit(second, CommitId("0" * 32))  # stale expectation
    assert store.get_commit(second.id) is None
    assert store.add_commit(second, first.id)
    assert store.get_branch(R, MAIN) == Branch(R, MAIN, second.id)
    # a branch that exists without a head accepts expected_head=None
    empty = BranchName("empty")
    store.set_branch(R, empty, None, create=True)
    c = mk(None, "on empty", branch=empty)
    assert store.add_commit(c, None)
    assert store.get_branch(R, empty) == Branch(R, empty, c.id)
    with pytest.raises(RepoNotFound, match="repo 'nope' not found"):
        store.add_commit(mk(None, "x", RepoName("nope")), None)


def test_concurrent_writers_never_lose_an_update(store: SqlMetadataStore) -> None:
    threads, per_thread = 8, 25

    def work(t: int) -> None:
        for i in range(per_thread):
            while True:
                branch = store.get_branch(R, MAIN)
                head = branch.head if branch else None
                if store.add_commit(mk(head, f"t{t}-{i}"), head):
                    break

    assert run_threads(threads, work) == []
    branch = store.get_branch(R, MAIN)
    assert branch is not None and branch.head is not None
    history = store.history(branch.head)
    assert len(history) == threads * per_thread
    assert history[-1].parent is None
    assert all(a.parent == b.id for a, b in itertools.pairwise(history))
    assert len({c.message for c in history}) == threads * per_thread
    assert len(list(store.iter_commits())) == threads * per_thread


def test_history_order_and_limit(store: SqlMetadataStore) -> None:
    c = chain(store, 30)
    assert store.history(c[-1].id) == c[::-1]
    assert store.history(c[-1].id, limit=5) == c[:-6:-1]
    assert store.history(c[10].id, limit=100) == c[10::-1]
    assert store.history(c[-1].id, limit=0) == []
    assert store.history(c[0].id, limit=1) == [c[0]]
    assert store.history(CommitId("f" * 32)) == []


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


def test_find_commits_by_prefix(store: SqlMetadataStore) -> None:
    c = chain(store, 40)
    other = RepoName("other")
    store.create_repo(Repo(other, 1.0))
    theirs = chain(store, 5, other)
    target = c[17].id
    assert store.find_commits(R, target) == [target]
    assert store.find_commits(R, target[:12]) == [target]
    assert store.find_commits(R, theirs[0].id) == []  # another repo's commit
    ids = sorted(x.id for x in c)
    assert store.find_commits(R, "", limit=100) == ids
    one = ids[0][0]
    expected = [i for i in ids if i.startswith(one)]
    assert store.find_commits(R, one, limit=100) == expected
    assert store.find_commits(R, one, limit=1) == expected[:1]
    lettered = next(i for i in ids if not i[:8].isdigit())
    assert store.find_commits(R, lettered[:8].upper()) == []  # ids are lowercase
    assert store.find_commits(R, "zz%_") == []


def test_iter_commits_pages(store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlmod, "PAGE", 7)
    c = chain(store, 23)
    assert sorted(x.id for x in store.iter_commits()) == sorted(x.id for x in c)
    assert len(list(store.iter_commits())) == 23


def test_missing_and_locate_in_batches(store: SqlMetadataStore) -> None:
    n = 2_500
    store.add_pack(PackInfo(PackId("p1"), 1000, 5.0), [loc(i, "p1") for i in range(0, n, 2)])
    digests = [dg(i) for i in range(n)] + [dg(0), dg(1)]  # duplicates are fine
    assert store.missing_chunks(digests) == {dg(i) for i in range(1, n, 2)}
    found = store.locate(digests)
    assert set(found) == {dg(i) for i in range(0, n, 2)}
    assert found[dg(42)] == loc(42, "p1")
    assert store.missing_chunks([]) == set()
    assert store.locate([]) == {}


def test_add_pack_keeps_existing_locations(store: SqlMetadataStore) -> None:
    store.add_pack(PackInfo(PackId("a"), 100, 1.0), [loc(1, "a"), loc(2, "a")])
    store.add_pack(PackInfo(PackId("b"), 200, 2.0), [loc(2, "b", 0), loc(3, "b", 5)])
    assert store.locate([dg(2)])[dg(2)].pack == "a"
    assert store.pack_chunks(PackId("b")) == [loc(3, "b", 5)]
    assert store.pack_chunks(PackId("a")) == [loc(1, "a"), loc(2, "a")]
    assert store.list_packs() == [PackInfo(PackId("a"), 100, 1.0), PackInfo(PackId("b"), 200, 2.0)]
    store.add_pack(PackInfo(PackId("a"), 100, 1.0), [loc(1, "a")])  # re-indexing is harmless
    assert len(store.list_packs()) == 2


def test_add_pack_bulk_is_fast(store: SqlMetadataStore) -> None:
    n = 20_000
    rows = [loc(i, "big") for i in range(n)]
    store.add_pack(PackInfo(PackId("big"), n * 7, 1.0), rows)
    assert len(store.pack_chunks(PackId("big"))) == n
    assert store.missing_chunks([dg(i) for i in range(n + 10)]) == {dg(n + i) for i in range(10)}


def test_move_drop_and_iterate_chunks(
    store: SqlMetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlmod, "PAGE", 4)
    store.add_pack(PackInfo(PackId("old"), 100, 1.0), [loc(i, "old") for i in range(10)])
    store.add_pack(PackInfo(PackId("new"), 50, 2.0), [])
    moved = [loc(i, "new", i) for i in range(5)] + [loc(99, "new", 0)]  # 99 is unknown
    store.move_chunks(moved)
    store.move_chunks([])
    assert store.pack_chunks(PackId("new")) == moved[:5]
    assert store.locate([dg(99)]) == {}
    store.drop_chunks([dg(0), dg(9), dg(123)])
    assert store.missing_chunks([dg(0), dg(1), dg(9)]) == {dg(0), dg(9)}
    assert list(store.iter_chunk_digests()) == [dg(i) for i in range(1, 9)]
    store.drop_pack(PackId("old"))
    assert [p.id for p in store.list_packs()] == ["new"]
    assert list(store.iter_chunk_digests()) == [dg(i) for i in range(1, 5)]
    store.drop_pack(PackId("new"))
    assert list(store.iter_chunk_digests()) == []


def test_reopen_keeps_everything(store: SqlMetadataStore) -> None:
    c = chain(store, 3)
    store.add_pack(PackInfo(PackId("p"), 1, 1.0), [loc(1, "p")])
    again = SqlMetadataStore(store.url)
    try:
        assert again.get_branch(R, MAIN) == Branch(R, MAIN, c[-1].id)
        assert again.history(c[-1].id) == c[::-1]
        assert again.locate([dg(1)]) == {dg(1): loc(1, "p")}
    finally:
        again.close()


def test_concurrent_start_up_migrates_once(url: str) -> None:
    def start(i: int) -> None:
        s = SqlMetadataStore(url)
        s.create_repo(Repo(RepoName(f"r{i}"), 1.0))
        s.close()

    assert run_threads(4, start) == []
    s = SqlMetadataStore(url)
    assert len(s.list_repos()) == 4
    s.close()


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
    }
    assert migrated == _shape(reference)


# -- error translation (backend specific) ---------------------------------------------------


def test_sqlite_lock_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kaon.db"
    store = SqlMetadataStore(f"sqlite:///{path}", busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(BackendUnavailable, match="busy"):
            store.create_repo(Repo(R, 1.0))
        assert store.get_repo(R) is None  # readers are not blocked (WAL)
    finally:
        holder.close()
        store.close()


def test_sqlite_full_disk_is_storage_full(tmp_path: Path) -> None:
    store = SqlMetadataStore(f"sqlite:///{tmp_path / 'kaon.db'}")
    store.close()  # drop pooled connections so the limit below applies to new ones

    @event.listens_for(store._engine, "connect")
    def _cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    with pytest.raises(StorageFull, match="is full"):
        store.add_pack(PackInfo(PackId("p"), 1, 1.0), [loc(i, "p") for i in range(5000)])
    assert store.list_packs() == []  # the transaction was rolled back
    store.close()


def test_unreachable_postgres_is_backend_unavailable() -> None:
    pytest.importorskip("psycopg")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(BackendUnavailable, match="unavailable") as info:
            SqlMetadataStore(f"postgresql+psycopg://kaon:secret@127.0.0.1:{port}/kaon")
    assert "secret" not in info.value.message


def test_unsupported_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unsupported"):
        SqlMetadataStore("mysql://localhost/kaon")


# -- upload leases (gc spares what in-flight uploads use) -----------------------------------


def test_leases_pin_digests_until_they_expire(store: SqlMetadataStore) -> None:
    store.hold("a", [dg(1), dg(2), dg(2)], expires=100.0)
    store.hold("b", [dg(2), dg(3)], expires=50.0)
    assert store.leased_digests(now=10.0) == {dg(1), dg(2), dg(3)}
    assert store.leased_digests(now=60.0) == {dg(1), dg(2)}  # b expired (still stored)
    store.hold("b", [], expires=200.0)  # renewed: its pins count again
    assert store.leased_digests(now=60.0) == {dg(1), dg(2), dg(3)}
    store.hold("b", [dg(4)], expires=150.0)  # an earlier expiry never shortens a lease
    assert store.leased_digests(now=160.0) == {dg(2), dg(3), dg(4)}
    assert store.expire_leases(now=120.0) == 1  # a, with its pins
    assert store.leased_digests(now=0.0) == {dg(2), dg(3), dg(4)}
    store.hold("a", [dg(1)], expires=300.0)  # a lease id may come back: a new lease
    assert store.leased_digests(now=250.0) == {dg(1)}


def test_releasing_a_lease(store: SqlMetadataStore) -> None:
    store.hold("a", [dg(i) for i in range(1200)], expires=100.0)  # more than one IN batch
    store.release("a", [dg(i) for i in range(0, 1200, 2)] + [dg(5000)])
    assert store.leased_digests(now=0.0) == {dg(i) for i in range(1, 1200, 2)}
    store.release("a")
    assert store.leased_digests(now=0.0) == set()
    assert store.expire_leases(now=1e12) == 0  # gone with its pins
    store.release("unknown")  # nothing to do, no error


def test_concurrent_holders_of_one_lease(store: SqlMetadataStore) -> None:
    def work(i: int) -> None:
        for j in range(20):
            store.hold("shared", [dg(i * 100 + j), dg(9999)], expires=100.0 + j)

    assert run_threads(4, work) == []
    pinned = {dg(i * 100 + j) for i in range(4) for j in range(20)}
    assert store.leased_digests(now=110.0) == pinned | {dg(9999)}
