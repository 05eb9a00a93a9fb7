"""A throw-away PostgreSQL server for any test package (contract, e2e, several servers).

* `pg_server` (session): the admin URL (database `postgres`) of a running PostgreSQL server:
  `initdb` + `pg_ctl start` of the newest /usr/lib/postgresql/*/bin (as the `postgres` user
  when we are root) on a free port, fsync off; or the server named by KAON_TEST_POSTGRES_URL.
* `pg_url`: a fresh, empty schema on that server (cheapest: ~5 ms; `search_path` in the URL).
* `pg_database_url`: a fresh, empty DATABASE on that server (what a `kaon server` started with
  `--database` sees in production); `new_pg_database(pg_server)` makes one for fixtures of a
  wider scope (a session's shared platform).

When PostgreSQL cannot run here the tests that need it are skipped with the reason, except
under CI=true, where that is a failure: CI installs Debian's `postgresql` (`make setup`).
Imported by tests/conftest.py, so every test package sees these fixtures.
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
from typing import NoReturn

import pytest
from sqlalchemy.engine import make_url

__all__ = ["new_pg_database", "new_pg_schema", "pg_database_url", "pg_server", "pg_url"]


def _unavailable(reason: str) -> NoReturn:
    """Skip (a developer's machine without PostgreSQL) or, under CI=true, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bindir() -> Path | None:
    """The newest PostgreSQL's bin directory (Debian's layout), or None."""
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


def _start(bindir: Path, tmp: Path) -> str:
    """initdb + start a server in `tmp`; its admin URL. Raises on failure."""
    data, log = tmp / "data", tmp / "server.log"
    port = _free_port()
    ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    opts += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
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
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def _stop(bindir: Path, tmp: Path) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(tmp / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            timeout=60,
        )


class PostgresUnavailable(Exception):
    """PostgreSQL cannot run here (the message says why)."""


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server of our own in a temp dir, stopped and deleted on exit; its admin URL
    (KAON_TEST_POSTGRES_URL instead when set). Also used by benchmarks/scaleout_meta.py."""
    if importlib.util.find_spec("psycopg") is None:
        raise PostgresUnavailable("psycopg is not installed (uv sync --all-extras)")
    external = os.environ.get("KAON_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bindir = pg_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql, or set KAON_TEST_POSTGRES_URL)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without `runuser` to start it as postgres")
    tmp = Path(tempfile.mkdtemp(prefix="kaon-pg-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, user="postgres", group="postgres")
    try:
        try:
            url = _start(bindir, tmp)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
            detail = getattr(err, "stderr", b"") or b""
            if (tmp / "server.log").exists():
                detail += (tmp / "server.log").read_bytes()[-2000:]
            raise PostgresUnavailable(
                f"could not start PostgreSQL: {err}: {detail.decode(errors='replace')}"
            ) from err
        yield url
    finally:
        _stop(bindir, tmp)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin URL (database `postgres`) of a running PostgreSQL server (one per pytest worker)."""
    server = throwaway_postgres()
    try:
        url = server.__enter__()
    except PostgresUnavailable as err:
        _unavailable(str(err))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


def _admin_dsn(admin_url: str) -> str:
    """The libpq DSN psycopg takes for a SQLAlchemy URL."""
    return make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)


def new_pg_schema(admin_url: str) -> str:
    """URL of a fresh, empty schema on the server (much cheaper than a database)."""
    import psycopg

    admin = make_url(admin_url)
    name = f"kaon_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    url = admin.update_query_dict({"options": f"-csearch_path={name}"})
    return url.render_as_string(hide_password=False)


_TEMPLATES: dict[str, str] = {}  # admin URL -> a database migrated to head, copied by CREATE


def _migrated_template(admin_url: str) -> str:
    """A database of the server migrated to head once per process (kept as a template)."""
    import psycopg

    from kaon.db.database import Database

    if admin_url not in _TEMPLATES:
        name = f"kaon_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_admin_dsn(admin_url), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        Database(make_url(admin_url).set(database=name).render_as_string(False)).close()
        _TEMPLATES[admin_url] = name
    return _TEMPLATES[admin_url]


def new_pg_database(admin_url: str, *, migrated: bool = False) -> str:
    """URL of a fresh database on the server (left for the server's teardown): empty, or
    `migrated` to head (a copy of a template: a server starts on it without migrating)."""
    import psycopg

    name = f"kaon_{uuid.uuid4().hex[:12]}"
    template = _migrated_template(admin_url) if migrated else "template0"
    with psycopg.connect(_admin_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """URL of a fresh, empty schema on the test server."""
    return new_pg_schema(pg_server)


@pytest.fixture
def pg_database_url(pg_server: str) -> str:
    """URL of a fresh, empty database on the test server."""
    return new_pg_database(pg_server)
