"""gc with several servers over one database and one object store (kaon.services.cluster):
one gc at a time, and what one server knows was stored is never deleted under it by a gc
another server runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.config import ServerSettings
from kaon.core.cluster import ClaimKind
from kaon.core.errors import Conflict
from kaon.wiring import Platform, wire


@pytest.fixture
def servers(tmp_path: Path, migrated_db: Path) -> Iterator[tuple[Platform, Platform]]:
    """Two started platforms (own homes) sharing one SQLite database and one file store,
    beating every 0.05 s."""
    import shutil

    shutil.copyfile(migrated_db, tmp_path / "kaon.db")
    built = []
    for name in ("a", "b"):
        home = tmp_path / name
        home.mkdir()
        settings = ServerSettings(
            home=home,
            metadata_url=f"sqlite:///{tmp_path}/kaon.db",
            store_url=f"file://{tmp_path}/objects",
            host="127.0.0.1",
            port=0,
            heartbeat_seconds=0.05,
            claim_seconds=2.0,
        )
        p, _ = wire(settings)
        p.start()
        built.append(p)
    try:
        yield built[0], built[1]
    finally:
        for p in built:
            p.close()


def test_a_tree_another_servers_gc_deleted_is_stored_again(
    servers: tuple[Platform, Platform], seeder_for: Callable[[Platform], Any]
) -> None:
    """B remembers which trees it stored (it skips writing them again); a gc through A that
    deleted one (no commit reached it any more) must not leave B's next commit of the same
    content pointing at nothing."""
    a, b = servers
    seed = seeder_for(b)
    b.repos.create_repo("old")
    seed.commit("old", {"/same": b"identical content"})
    b.repos.delete_repo("old")
    assert a.gc.collect().trees_deleted >= 1
    b.repos.create_repo("new")
    seed.commit("new", {"/same": b"identical content"})
    assert seeder_for(a).read("new", "master", "/same") == b"identical content"
    assert seed.read("new", "master", "/same") == b"identical content"


def test_one_gc_at_a_time_across_servers(servers: tuple[Platform, Platform]) -> None:
    """While a gc runs through one server (it holds the GC claim), a gc through another is
    refused (409) naming it; once it ended, that one runs."""
    a, b = servers
    assert a.cluster.claim(ClaimKind.GC, "gc")  # as A's gc does while it runs
    with pytest.raises(Conflict, match=f"gc is running on server {a.cluster.url}"):
        b.gc.collect()
    a.cluster.release(ClaimKind.GC, "gc")
    assert b.gc.collect().packs_deleted == 0
