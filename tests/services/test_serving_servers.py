"""Two platforms over one database and one store, as two servers (real replica processes): a
version runs where it was deployed and the other resolves it through that server; a kill
through the other stops it where it runs; a server that stops cleanly leaves its versions to
the other, which starts them (kaon.services.endpointsync)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaon.config import ServerSettings
from kaon.core.cluster import ClaimKind
from kaon.core.endpoints import EndpointState
from kaon.wiring import Platform, build

from .test_serving import put, serve_bundle, wait_for


def poll(what: str, check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def pair(tmp_path: Path, migrated_db: Path) -> Iterator[list[Platform]]:
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copyfile(migrated_db, shared / "kaon.db")
    built: list[Platform] = []
    try:
        for i, port in enumerate((51001, 51002)):  # never bound: only the URLs tell them apart
            home = tmp_path / f"server{i}"
            home.mkdir()
            settings = ServerSettings(
                home, f"sqlite:///{shared}/kaon.db", f"file://{shared}/objects", "127.0.0.1", port
            )
            p = build(settings)
            built.append(p)
            p.start()
        yield built
    finally:
        for p in built:
            p.close()


def test_a_version_runs_where_it_was_deployed_and_stops_when_killed_elsewhere(
    pair: list[Platform], tmp_path: Path
) -> None:
    a, b = pair
    e = a.serving.deploy("ws", "me", put(a, serve_bundle(tmp_path)), None, name="duo", version="v1")
    wait_for(a, e.name, EndpointState.RUNNING)
    owner = a.cluster.owner(ClaimKind.ENDPOINT, e.name)
    assert owner is not None and owner.id == a.cluster.id and a.serving.runs_on(e.name) is None
    assert b.serving.runs_on(e.name) == "http://127.0.0.1:51001"
    poll("B routes duo through A", lambda: b.serving.resolve("duo") is not None)
    choice = b.serving.resolve("duo")
    assert choice is not None and choice.route.via == "http://127.0.0.1:51001"
    assert (choice.route.name, choice.route.version) == ("duo-v1", "v1")
    assert b.serving.local_route(e.name) is None and a.serving.local_route(e.name) is not None
    poll("B sees A's ready replica", lambda: _ready(b, e.name))
    b.serving.kill("duo")
    poll("A stopped duo-v1", lambda: a.serving.status(e.name) is None)
    assert a.serving.get("duo").state is EndpointState.KILLED
    poll("no route on B", lambda: b.serving.resolve("duo") is None)


def test_a_cleanly_stopped_servers_versions_start_on_the_other(
    pair: list[Platform], tmp_path: Path
) -> None:
    a, b = pair
    e = a.serving.deploy("ws", "me", put(a, serve_bundle(tmp_path)), None, name="duo", version="v1")
    wait_for(a, e.name, EndpointState.RUNNING)
    pair.remove(a)
    a.close()  # its claims given up: nobody runs duo-v1 now
    poll("B runs duo-v1", lambda: b.serving.local_route(e.name) is not None)
    assert b.serving.runs_on(e.name) is None
    poll("B's replica ready", lambda: _ready(b, e.name))
    assert "restarting on served commit" in b.serving.log_path(e, "build").read_text()


def _ready(p: Platform, name: str) -> bool:
    status = p.serving.status(name)
    return status is not None and status.ready > 0
