"""Engines for the metadata database and the translation of backend errors to kaon's."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from kaon.core.errors import BackendUnavailable, InvalidInput, KaonError, StorageFull

WRITE_OPTION = "kaon_write"
"""Execution option marking a write transaction (SQLite: BEGIN IMMEDIATE)."""

DEFAULT_BUSY_TIMEOUT = 30.0
_PG_CONNECT_TIMEOUT = 10  # seconds


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL for `url`; plain `postgresql://` means the psycopg (v3) driver."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as err:
        raise InvalidInput(f"invalid metadata database URL {url!r}: {err}") from err
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InvalidInput(
            f"unsupported metadata database {backend!r}: use sqlite:////path/kaon.db "
            "or postgresql+psycopg://user@host/db"
        )
    return parsed


def describe(url: str) -> str:
    """`url` safe to show to users (password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<invalid url>"


def make_engine(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """A thread-safe pooled engine; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        args: dict[str, Any] = {}
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            args["connect_timeout"] = _PG_CONNECT_TIMEOUT
        try:
            return create_engine(
                parsed, pool_pre_ping=True, pool_size=5, max_overflow=20, connect_args=args
            )
        except ImportError as err:
            raise BackendUnavailable(
                f"PostgreSQL support needs the {parsed.get_driver_name()!r} driver: install "
                "it (`pip install 'kaon[postgres]'` provides psycopg, used by postgresql://)"
            ) from err
    return _sqlite_engine(parsed, busy_timeout)


def _sqlite_engine(parsed: URL, busy_timeout: float) -> Engine:
    database = parsed.database or ""
    memory = database in ("", ":memory:") or "mode=memory" in str(parsed.query)
    connect_args = {"check_same_thread": False}
    if memory:
        engine = create_engine(parsed, poolclass=StaticPool, connect_args=connect_args)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_size=10, max_overflow=30, connect_args=connect_args)
    busy_ms = max(0, round(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # SQLAlchemy emits BEGIN itself (see _on_begin): pysqlite must not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            _enable_wal(cur, busy_timeout)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front so a read-then-write transaction cannot
        # fail half-way (or lose a compare-and-set) against a concurrent writer.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _enable_wal(cur: sqlite3.Cursor, busy_timeout: float) -> None:
    """Switch the file to WAL, waiting for other connections as the busy timeout says.

    SQLite answers a journal-mode change "database is locked" at once, without calling
    the busy handler, while another connection of a brand-new file switches it too.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def backend_errors(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Iterator[None]:
    """Re-raise database failures as kaon errors with messages users can act on."""
    started = time.monotonic()
    try:
        yield
    except exc.OperationalError as err:
        raise translate(err, url, busy_timeout, time.monotonic() - started) from err
    except (exc.InterfaceError, exc.TimeoutError) as err:
        raise _unavailable(url, err) from err


def translate(
    err: exc.DBAPIError, url: str, busy_timeout: float, waited: float | None = None
) -> KaonError:
    """The kaon error for a backend OperationalError (`waited`: seconds the failed work took,
    when known: SQLite refuses some lock conflicts at once, without waiting)."""
    where = describe(url)
    text = str(err.orig).lower()
    sqlstate = getattr(err.orig, "sqlstate", None)
    if "database or disk is full" in text or sqlstate == "53100" or "no space left" in text:
        return StorageFull(
            f"metadata database {where} is full: free disk space and retry", url=where
        )
    if "database is locked" in text or "database table is locked" in text:
        if waited is not None and waited < busy_timeout:
            held = f"refused its lock after {waited:.2g} s (another connection was writing)"
        else:
            held = f"another process held its write lock for more than {busy_timeout:g} s"
        return BackendUnavailable(
            f"metadata database {where} is busy: {held}; retry, or stop the process holding it",
            url=where,
        )
    return _unavailable(url, err)


def _unavailable(url: str, err: Exception) -> BackendUnavailable:
    where = describe(url)
    orig = getattr(err, "orig", None) or err
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if where.startswith("sqlite"):
        hint = "check that the database file's directory exists and is writable by this server"
    else:
        hint = (
            "check that the database server runs and is reachable from this host, and the "
            "user, password and database name in the URL"
        )
    return BackendUnavailable(
        f"metadata database {where} is unavailable ({reason}): {hint}", url=where
    )
