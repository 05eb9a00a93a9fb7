"""A rolling update and a canary seen from the gateway (the app in process, real replicas):
no request fails while the traffic moves, and the answers carry the version that gave them."""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.api.asgi import create_asgi
from kaon.core.endpoints import EndpointState
from kaon.core.releases import Traffic
from kaon.wiring import Platform

from .test_releases import until
from .test_serving import put, serve_bundle, wait_for

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_asgi(platform, "t0ken-0123456789abcdef")) as c:  # type: ignore[arg-type]
        yield c


def test_no_request_fails_during_a_rolling_update(
    platform: Platform, client: TestClient, tmp_path: Path
) -> None:
    source = put(platform, serve_bundle(tmp_path / "svc"))
    v1 = platform.serving.deploy("ws", "me", source, None, name="petset", version="v1")
    wait_for(platform, v1.name, EndpointState.RUNNING)
    seen: Counter[tuple[int, str]] = Counter()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            r = client.post("/petset/invocations", json={"x": 1})
            seen[(r.status_code, r.headers.get("x-kaon-version", ""))] += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        platform.serving.update("petset", "me", None, version="v2")
        until(platform, "petset", Traffic.only("v2"))
        wait_for(platform, v1.name, EndpointState.KILLED)  # drained while requests kept coming
        before = sum(seen.values())
        deadline = time.monotonic() + 60
        while sum(seen.values()) < before + 20:  # and requests keep being answered after it
            assert time.monotonic() < deadline, seen
            stop.wait(0.01)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert set(seen) == {(200, "v1"), (200, "v2")}, seen


def test_a_canary_answers_its_share(platform: Platform, client: TestClient, tmp_path: Path) -> None:
    source = put(platform, serve_bundle(tmp_path / "svc"))
    v1 = platform.serving.deploy("ws", "me", source, None, name="petset", version="v1")
    wait_for(platform, v1.name, EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, canary=25, version="v2")
    until(platform, "petset", Traffic({"v1": 75, "v2": 25}))
    seen = Counter(
        client.post("/petset/invocations", json={"x": 1}).headers["x-kaon-version"]
        for _ in range(400)
    )
    assert set(seen) == {"v1", "v2"} and 40 <= seen["v2"] <= 160, seen  # 100 expected
    pinned = client.post("/petset-v2/invocations", json={"x": 1})
    assert pinned.status_code == 200 and pinned.headers["x-kaon-version"] == "v2"


def _predict_once(platform: Platform) -> int:
    """One prediction through an app that is started and stopped (its lifespan) here."""
    with TestClient(create_asgi(platform, "t0ken-0123456789abcdef")) as c:  # type: ignore[arg-type]
        return c.post("/petset/invocations", json={"x": 1}).status_code


def test_the_gateway_closes_its_replica_connections_when_the_app_stops(
    platform: Platform, tmp_path: Path
) -> None:
    """The gateway pools its connections to the replicas; a stopped app closes them (none is
    left for the garbage collector to find open, a ResourceWarning in a later test)."""
    source = put(platform, serve_bundle(tmp_path / "svc"))
    v1 = platform.serving.deploy("ws", "me", source, None, name="petset", version="v1")
    wait_for(platform, v1.name, EndpointState.RUNNING)
    gc.collect()  # what earlier tests left is not counted here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert _predict_once(platform) == 200
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, unclosed
