"""A service pipeline through the platform's proxy (/pipelines/<name>/…): a real HTTP server
(python -m http.server over /pfs/site) run by the ServiceRunner on the local executor, read
through the API with its token; a new input commit restarts it on the new content."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kaon.core.pipelines.records import JobState
from kaon.services.pipelines.longrun import Backoff
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.wiring import Platform
from services.pipelines.svchelp import Logs, add_pipeline, eventually, executor, job_on

SERVER = f"exec {sys.executable} -m http.server $PORT --bind 127.0.0.1 --directory /pfs/site"


@pytest.fixture
def runner(platform: Platform, platform_factory, tmp_path: Path) -> Iterator[ServiceRunner]:  # type: ignore[no-untyped-def]
    store = platform_factory.backends(platform).pipelines
    made = ServiceRunner(store, executor(platform, tmp_path), Logs(), backoff=Backoff(0.05, 0.2))
    platform.pipelines = SimpleNamespace(services=made)  # type: ignore[attr-defined]
    yield made
    made.close()


def _get(api: TestClient, path: str, want: bytes) -> bytes:
    def answer() -> bytes | None:
        r = api.get(path)
        return r.content if r.status_code == 200 and r.content == want else None

    found: bytes = eventually(answer)
    return found


def test_a_service_is_served_through_the_platform_and_restarted_on_a_new_commit(
    platform: Platform,
    platform_factory,
    runner: ServiceRunner,
    api: TestClient,
    seed: Any,  # type: ignore[no-untyped-def]
) -> None:
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("site")
    with socket.socket() as taken:  # internal_port in use: the service gets another in $PORT
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        version = add_pipeline(
            store,
            {
                "pipeline": {"name": "web"},
                "input": {"pfs": {"repo": "site", "glob": "/"}},
                "transform": {"cmd": ["bash", "-c", SERVER]},
                "service": {"internal_port": port, "external_port": 30888},
            },
        )
        first = seed.commit("site", {"/index.txt": b"version one"})
        job = runner.serve(job_on(version, first, "site"), version)
    assert job.state is JobState.RUNNING and job.service
    assert job.counts.progress == "0 + 0 / 0"
    assert runner.target("web")[1] != port
    assert _get(api, "/pipelines/web/index.txt", b"version one") == b"version one"
    listing = api.get("/pipelines/web/")
    assert listing.status_code == 200 and b"index.txt" in listing.content

    second = seed.commit("site", {"/index.txt": b"version two"})
    job2 = runner.serve(job_on(version, second, "site"), version)
    old = store.get_job("web", str(first.id))
    assert old is not None and old.state is JobState.KILLED
    assert old.reason == f"replaced by job {second.id}"
    assert _get(api, "/pipelines/web/index.txt", b"version two") == b"version two"
    assert runner.service_url("web") == "/pipelines/web/"

    stopped = runner.stop("web", "pipeline stopped")
    assert stopped is not None and stopped.id == job2.id and stopped.state is JobState.KILLED
    r = api.get("/pipelines/web/index.txt")
    assert r.status_code == 409 and "serves nothing now" in r.json()["message"]


def test_the_proxy_needs_a_token_and_names_unknown_pipelines(
    app_client: TestClient, api: TestClient, runner: ServiceRunner
) -> None:
    r = app_client.get("/pipelines/nope/x", headers={"Authorization": ""})
    assert r.status_code == 401
    r = api.get("/pipelines/nope/x")
    assert r.status_code == 404 and "kaon list pipeline" in r.json()["message"]
