"""Start-up checks against real engines (a throw-away PostgreSQL, moto's S3 server): a
PostgreSQL role that does not exist, an S3 bucket that does not exist, an S3 endpoint nothing
listens on, S3 credentials refused: `kaon up` prints one line and exits 3 with nothing
started. And `kaon status` of a server on PostgreSQL + S3 shows both, their secrets hidden."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from s3fixtures import S3Server, start_moto, stop_moto

from .helpers import Kaon, free_port
from .test_startup_checks import up_fails


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Kaon]:
    k = Kaon(tmp_path / "home")
    try:
        yield k
    finally:
        k.shutdown()


def test_a_postgresql_role_that_does_not_exist(home: Kaon, pg_server: str) -> None:
    url = make_url(pg_server).set(username="nobody", password="hunter2")
    line = up_fails(
        home, 3, "--database", url.render_as_string(hide_password=False), match="nobody"
    )
    assert "hunter2" not in line and "user, password and database name" in line


def test_a_missing_bucket_and_an_unreachable_endpoint(home: Kaon, s3_server: S3Server) -> None:
    missing = s3_server.store_url("kaon-no-such-bucket")
    up_fails(home, 3, "--store", missing, match="bucket 'kaon-no-such-bucket' does not exist")
    closed = f"s3://kaon-x/p?endpoint=http://127.0.0.1:{free_port()}"
    up_fails(home, 3, "--store", closed, match="cannot reach the S3 endpoint")


def test_s3_credentials_refused(home: Kaon, tmp_path: Path, s3_server: S3Server) -> None:
    proc, endpoint = start_moto(tmp_path / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:  # this server knows no key at all: every request is refused
        url = f"s3://kaon-data/p?endpoint={endpoint}&region=us-east-1"
        line = up_fails(home, 3, "--store", url, match="refused the credentials")
        assert "AWS_ACCESS_KEY_ID" in line  # what to check
    finally:
        stop_moto(proc)


def test_status_on_postgresql_and_s3(home: Kaon, pg_database_url: str, s3_server: S3Server) -> None:
    database = make_url(pg_database_url).set(password="hunter2")  # trust: any password works
    store = s3_server.new_bucket()
    home.ok(
        "up",
        "--database",
        database.render_as_string(hide_password=False),
        "--store",
        store,
    )
    doc = home.json("status")
    assert doc["status"] == "ok", doc
    engines = {b["role"]: b for b in doc["backends"]}
    assert engines["database"]["ok"] and engines["database"]["version"].startswith("PostgreSQL ")
    assert engines["database"]["url"] == database.render_as_string(hide_password=True)
    assert engines["store"]["ok"] and engines["store"]["url"].startswith("s3://kaon-")
    shown = home.ok("status")
    assert "hunter2" not in shown and ":***@" in shown
