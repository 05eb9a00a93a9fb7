"""The SQLite engine's connection set-up under concurrent first use."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from kaon.core.errors import BackendUnavailable
from kaon.db.engine import backend_errors, make_engine


def test_switching_to_wal_waits_for_a_writer_of_a_new_file(tmp_path: Path) -> None:
    # A brand-new file is in rollback-journal mode; while another connection holds its
    # write lock, SQLite refuses the switch to WAL at once (no busy handler): the engine
    # must wait for the lock as its busy timeout says, not fail "database is locked".
    path = tmp_path / "kaon.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (a INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")

    def release() -> None:
        time.sleep(0.5)  # the engine's first attempt comes well before: it must wait
        holder.execute("COMMIT")

    releaser = threading.Thread(target=release)
    releaser.start()
    engine = make_engine(f"sqlite:///{path}", busy_timeout=30)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("SELECT a FROM t")).scalar() == 1
    finally:
        releaser.join()
        engine.dispose()
        holder.close()


def test_a_lock_refused_at_once_does_not_claim_the_busy_timeout_passed(tmp_path: Path) -> None:
    # Some lock conflicts SQLite answers "database is locked" at once, without waiting for
    # the busy timeout (here: a read transaction whose snapshot another writer made stale
    # tries to write). The error must not claim a wait of "more than 30 s" that never was.
    path = tmp_path / "kaon.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url, busy_timeout=30)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
            conn.commit()
            conn.execute(text("SELECT count(*) FROM t")).scalar()  # a read snapshot
            other.execute("INSERT INTO t VALUES (1)")  # makes it stale
            with pytest.raises(BackendUnavailable) as info, backend_errors(url, 30):
                conn.execute(text("INSERT INTO t VALUES (2)"))
        message = info.value.message
        assert "busy" in message and "more than 30 s" not in message
        assert "retry" in message
    finally:
        other.close()
        engine.dispose()
