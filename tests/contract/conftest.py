"""A throw-away PostgreSQL server for the contract tests (skipped when it cannot run here).

Set KAON_TEST_POSTGRES_URL to use an existing server instead (each test gets a fresh schema).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from kaon.db import schema
from kaon.db.database import Database
from kaon.memory.database import MemoryDatabase
from kaon.ports.database import MetadataDatabase


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the `postgres` user when we are root (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin URL (database `postgres`) of a running PostgreSQL server."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (add psycopg[binary] to the dev group)")
    external = os.environ.get("KAON_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without `runuser` to start PostgreSQL as postgres")
    tmp = Path(tempfile.mkdtemp(prefix="kaon-pg-"))
    data, log = tmp / "data", tmp / "server.log"
    if os.geteuid() == 0:
        shutil.chown(tmp, user="postgres", group="postgres")
    port = _free_port()
    ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    opts += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        subprocess.run(
            _as_postgres([*initdb, "-E", "UTF8", "--no-sync", "--no-instructions"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_postgres([*ctl, "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]),
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        detail = getattr(err, "stderr", b"") or b""
        if log.exists():
            detail += log.read_bytes()[-2000:]
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {err}: {detail.decode(errors='replace')}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                _as_postgres([*ctl, "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(tmp, ignore_errors=True)


def _new_schema(admin_url: str) -> str:
    """URL of a fresh, empty schema on the server (much cheaper than a database)."""
    import psycopg

    admin = make_url(admin_url)
    name = f"kaon_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    url = admin.update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """URL of a fresh, empty schema on the test server."""
    return _new_schema(pg_server)


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
    db = Database(_new_schema(pg_server))
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
