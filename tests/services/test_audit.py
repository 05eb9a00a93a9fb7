"""AuditLog: entries queued off the request path, written in batches by one thread; flushed
on demand and at close; a failed write loses its batch with a warning, never an exception."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from kaon.core.jobs import WorkspaceName
from kaon.core.users import Principal, Role, User, UserName
from kaon.db.database import Database
from kaon.db.users import SqlUserStore
from kaon.ports.users import AuditEntry, AuditQuery
from kaon.ports.workspaces import Workspace
from kaon.services.audit import AuditLog

NEVER = 3600.0  # an interval no test waits for: only a full batch, flush or close writes


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kaon.db'}"


@pytest.fixture
def store(url: str) -> Iterator[SqlUserStore]:
    db = Database(url)
    s = db.users
    for ws in ("w1", "w2"):
        db.workspaces.create_workspace(Workspace(WorkspaceName(ws), 1.0, "alice"))
    s.add_user(User(UserName("bob"), 1.0))
    s.set_role("w1", UserName("bob"), Role.OWNER)
    yield s
    db.close()


def entry(n: int, user: str = "alice", workspace: str | None = "w1") -> AuditEntry:
    return AuditEntry(float(n), user, f"POST /v1/thing/{n}", f"/v1/thing/{n}", workspace, 201)


def written(store: SqlUserStore) -> list[float]:
    return sorted(e.at for e in store.audit(AuditQuery(limit=10_000)))


def test_close_writes_what_is_queued(store: SqlUserStore) -> None:
    log = AuditLog(store, every=NEVER)
    for n in range(3):
        log.add(entry(n))
    assert written(store) == []  # queued, not written: no request waited for the database
    log.close()
    assert written(store) == [0.0, 1.0, 2.0]
    log.add(entry(9))  # after close: dropped, not raised
    assert log.lost == 1
    assert written(store) == [0.0, 1.0, 2.0]


def test_flush_writes_now_and_waits(store: SqlUserStore) -> None:
    log = AuditLog(store, every=NEVER)
    try:
        first = log.add(entry(1))
        log.add(entry(2))
        assert log.flush(upto=first)
        assert 1.0 in written(store)
        assert log.flush()
        assert written(store) == [1.0, 2.0]
    finally:
        log.close()


def test_a_full_batch_is_written_without_waiting_for_the_interval(store: SqlUserStore) -> None:
    log = AuditLog(store, every=NEVER, batch=4)
    try:
        for n in range(4):
            log.add(entry(n))
        deadline = time.monotonic() + 60  # a wait, not a timing assertion
        while len(written(store)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert written(store) == [0.0, 1.0, 2.0, 3.0]
    finally:
        log.close()


def test_fixups_complete_entries_and_one_that_fails_keeps_the_entry(store: SqlUserStore) -> None:
    log = AuditLog(store, every=NEVER)

    def broken(e: AuditEntry) -> AuditEntry:
        raise RuntimeError("lookup failed")

    log.add(entry(1, workspace=None), lambda e: AuditEntry(**{**e.__dict__, "workspace": "w2"}))
    log.add(entry(2, workspace=None), broken)
    log.close()
    got = {e.at: e.workspace for e in store.audit(AuditQuery())}
    assert got == {1.0: "w2", 2.0: None}


def test_a_failed_write_loses_its_batch_with_a_warning(
    store: SqlUserStore, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit RENAME TO audit_gone"))
    engine.dispose()
    log = AuditLog(store, every=NEVER)
    try:
        with caplog.at_level(logging.WARNING, logger="kaon.audit"):
            log.add(entry(1))
            log.add(entry(2))
            assert log.flush()  # returns: the entries are done with, lost
        assert log.lost == 2
        assert "audit: 2 entries lost, the write failed" in caplog.text
    finally:
        log.close()


def test_what_a_reader_may_see(store: SqlUserStore) -> None:
    log = AuditLog(store, every=NEVER)
    try:
        log.add(entry(1, "alice", "w1"))  # in bob's workspace
        log.add(entry(2, "alice", "w2"))
        log.add(entry(3, "bob", "w2"))  # bob's own, elsewhere
        log.add(entry(4, "bob", None))
        ats = lambda who, **q: [e.at for e in log.entries(who, AuditQuery(**q))]  # noqa: E731
        assert ats(Principal(UserName("root"), admin=True)) == [4.0, 3.0, 2.0, 1.0]
        bob = Principal(UserName("bob"))
        assert ats(bob) == [4.0, 3.0, 1.0]
        assert ats(bob, user="alice") == [1.0]
        job = Principal(UserName("bob"), workspace="w1", job="j1")  # a job's token
        assert ats(job) == [1.0]
        assert ats(job, workspace="w2") == []
        carol = Principal(UserName("carol"))
        assert ats(carol) == []
    finally:
        log.close()
