"""A server whose engines do not answer does not start: `kaon up` and `kaon server` print one
line (what failed, where, what to do) and exit 3 (2 for a bad setting), with nothing left
behind: no server.json, no server process, the port closed. `kaon status` shows each engine.

The real CLI against real failures: a database host that does not resolve, a closed port, a
database migrated by a newer kaon (a revision this kaon does not ship stamped into SQLite's
alembic_version), a store root that is a file, a bad config.toml key. (Ray heads and S3
buckets: their backends' own tests.)"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from kaon.db.database import Database
from kaon.db.migrate import head_revision

from .helpers import Kaon, check_error, free_port, server_pids

NEWER = "9999_from_the_future"


@pytest.fixture
def home(tmp_path: Path) -> Kaon:
    return Kaon(tmp_path / "home")


def refused(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def nothing_started(k: Kaon, port: int) -> None:
    assert not (k.home / "server.json").exists()
    assert not server_pids(k.home)
    assert refused(port)


def up_fails(k: Kaon, code: int, *flags: str, match: str = "") -> str:
    port = free_port()
    p = k.run("up", "--port", str(port), *flags)
    line = check_error(p, code, match, ["up", *flags])
    nothing_started(k, port)
    return line


def test_a_database_host_that_does_not_resolve(home: Kaon) -> None:
    url = "postgresql://kaon:hunter2@no-such-host.invalid:5432/kaon"
    line = up_fails(home, 3, "--database", url, match="no-such-host.invalid")
    assert "hunter2" not in line and "kaon:***@" in line
    assert "reachable from this host" in line  # what to do


def test_a_closed_port_from_a_variable_and_kaon_server(home: Kaon) -> None:
    port, api = free_port(), free_port()
    url = f"postgresql://kaon:hunter2@127.0.0.1:{port}/kaon"
    p = home.run("server", "--port", str(api), env={"KAON_DATABASE_URL": url})
    assert p.returncode == 3, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaon server: metadata database"), p.stderr
    assert "hunter2" not in p.stderr and "refused" in lines[0].lower()
    nothing_started(home, api)


def test_a_database_migrated_by_a_newer_kaon_is_left_alone(home: Kaon) -> None:
    db = home.home / "kaon.db"
    Database(f"sqlite:///{db}").close()  # at this kaon's head
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (NEWER,))
        tables = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    line = up_fails(
        home,
        3,
        match=f"database schema {NEWER} is newer than this kaon (head {head_revision()}): "
        "upgrade kaon",
    )
    assert str(db) in line
    with sqlite3.connect(db) as conn:  # nothing migrated
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(NEWER,)]
        assert conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall() == (
            tables
        )


def test_a_store_that_is_not_a_folder(home: Kaon, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    up_fails(home, 3, "--store", f"file://{blocker}", match=str(blocker))


def test_bad_settings_name_the_file_and_key(home: Kaon) -> None:
    config = home.home / "config.toml"
    config.write_text('[platform]\ndatabse = "sqlite:////tmp/x.db"\n')
    line = up_fails(home, 2, match="unknown key 'databse' in [platform]")
    assert str(config) in line
    config.write_text('[platform]\nstore = "s4://bucket"\n')
    line = up_fails(home, 2, match="unsupported object store URL 's4://bucket'")
    assert f"{config} [platform] store" in line
    config.unlink()
    up_fails(home, 2, "--executor", "ray:/head", match="--executor")


def test_status_shows_each_engine(kaon: Kaon) -> None:
    doc = kaon.json("status")
    assert doc["status"] == "ok"
    engines = {b["role"]: b for b in doc["backends"]}
    assert list(engines) == ["database", "store", "executor", "replicas"]
    assert all(b["ok"] for b in engines.values()), engines
    assert engines["database"]["url"] == f"sqlite:///{kaon.home / 'kaon.db'}"
    assert engines["database"]["version"].startswith("SQLite 3.")
    assert engines["database"]["detail"] == f"schema {head_revision()}"
    assert engines["store"]["url"] == f"file://{kaon.home / 'objects'}"
    assert engines["executor"]["url"] == "local"
    rows = kaon.rows("status")
    assert rows[1][:3] == ["ROLE", "URL", "OK"]
    assert [r[0] for r in rows[2:]] == ["database", "store", "executor", "replicas"]
    assert all(r[2] == "yes" for r in rows[2:])
