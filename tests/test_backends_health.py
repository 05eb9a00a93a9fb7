"""Every backend answers `health()` without raising: ok with its version when it answers,
ok=False with a one-line reason when it does not; the platform lists them in one order and
`check_backends` (what the server runs before it listens) names those that do not answer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kaon.core.backends import BackendRole
from kaon.core.errors import BackendUnavailable
from kaon.db.database import Database
from kaon.db.migrate import head_revision
from kaon.memory.database import MemoryDatabase
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore
from kaon.wiring import Platform


def test_the_platform_lists_each_engine_in_order(platform: Platform, tmp_path: Path) -> None:
    health = platform.health()
    assert [h.role for h in health] == [
        BackendRole.DATABASE,
        BackendRole.STORE,
        BackendRole.EXECUTOR,
        BackendRole.REPLICAS,
    ]
    assert all(h.ok for h in health), health
    database, store, executor, replicas = health
    assert database.version.startswith("SQLite 3.") and database.detail == (
        f"schema {head_revision()}"
    )
    assert store.url.startswith("file:///") and store.detail.endswith("free")
    assert (executor.url, replicas.url) == ("local", "local")
    assert "CPUs" in executor.detail
    platform.check_backends()  # all answer: nothing raised


def test_check_backends_names_what_does_not_answer(platform: Platform) -> None:
    store = next(h for h in platform.health() if h.role is BackendRole.STORE)
    root = Path(store.url.removeprefix("file://"))
    shutil.rmtree(root)
    try:
        after = next(h for h in platform.health() if h.role is BackendRole.STORE)
        assert not after.ok and str(root) in after.detail and "\n" not in after.detail
        with pytest.raises(BackendUnavailable) as info:
            platform.check_backends()
        assert info.value.message.startswith(f"store {store.url} is unavailable: cannot reach")
        assert info.value.details["backends"] == ["store"]
    finally:
        root.mkdir()


def test_a_database_that_stops_answering_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    db = Database(f"sqlite:///{folder}/kaon.db")
    try:
        assert db.health().ok
        db.engine.dispose()  # no pooled connection left: the next one opens the file
        shutil.rmtree(folder)
        down = db.health()
        assert not down.ok and down.version == "" and "\n" not in down.detail
        assert "kaon.db" in down.detail
    finally:
        db.close()


def test_postgresql_says_its_server_version_and_hides_the_password(pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password="hunter2").render_as_string(hide_password=False)
    with Database(url) as db:
        health = db.health()
    assert health.ok and health.version.startswith("PostgreSQL ")
    assert "hunter2" not in health.url and ":***@" in health.url


def test_memory_backends_answer() -> None:
    assert MemoryDatabase().health().ok and MemoryObjectStore().health().ok


def test_a_local_store_root_gone_is_not_ok(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    assert store.health().ok
    (tmp_path / "objects").rmdir()
    gone = store.health()
    assert not gone.ok and "is the filesystem mounted?" in gone.detail
