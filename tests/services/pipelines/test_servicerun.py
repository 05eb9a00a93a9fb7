"""ServiceRunner on the local executor: a service that keeps crashing is restarted with
backoff (RESTART counts), a stop ends its job KILLED; and a service pipeline through the
platform's facade: served on its input's commits, replaced by the next one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.core.errors import Conflict, InvalidInput
from kaon.core.pipelines.records import JobState
from kaon.services.pipelines.longrun import Backoff
from kaon.services.pipelines.service import SpecRequest
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.wiring import Platform

from .svchelp import Logs, add_pipeline, eventually, executor, job_on


@pytest.fixture
def runner(platform: Platform, platform_factory: Any, tmp_path: Path) -> Iterator[ServiceRunner]:
    store = platform_factory.backends(platform).pipelines
    made = ServiceRunner(store, executor(platform, tmp_path), Logs(), backoff=Backoff(0.01, 0.05))
    yield made
    made.close()


@pytest.fixture
def taken() -> Iterator[int]:
    """A port in use (another program listens there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _spec(cmd: str, name: str = "svc", port: int = 8000) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "in", "glob": "/"}},
        "transform": {"cmd": ["bash", "-c", cmd]},
        "service": {"internal_port": port},
    }


def test_a_crashing_service_is_restarted_with_backoff_until_stopped(
    platform: Platform, platform_factory: Any, runner: ServiceRunner, seed: Any, taken: int
) -> None:
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("in")
    version = add_pipeline(store, _spec("echo port=$PORT; exit 7", port=taken))
    commit = seed.commit("in", {"/x": b"1"})
    job = runner.serve(job_on(version, commit, "in"), version)
    eventually(lambda: store.get_job("svc", job.id).restarts >= 3)
    text = runner._job_log.text(job.id)  # type: ignore[attr-defined]
    assert f"internal_port {taken} is in use here" in text
    assert f"port={runner.target('svc')[1]}" in text
    assert "exited with code 7: restarting in" in text
    stopped = runner.stop("svc", "pipeline stopped")
    assert stopped is not None and stopped.state is JobState.KILLED and stopped.restarts >= 3
    assert runner.stop("svc") is None
    with pytest.raises(Conflict, match="serves nothing now"):
        runner.target("svc")


def test_a_pipeline_that_is_no_service_is_refused(
    platform: Platform, platform_factory: Any, runner: ServiceRunner, seed: Any
) -> None:
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("in")
    spec = _spec("true")
    del spec["service"]
    version = add_pipeline(store, spec)
    with pytest.raises(InvalidInput, match="is not a service"):
        runner.serve(job_on(version, seed.commit("in", {"/x": b"1"}), "in"), version)


def test_a_service_pipeline_through_the_facade(platform: Platform, seed: Any) -> None:
    platform.repos.create_repo("in")
    spec = _spec("exec sleep 600", "tb")
    platform.pipelines.create([SpecRequest(spec)], "alice")
    first = seed.commit("in", {"/x": b"1"})
    job = eventually(lambda: _running(platform, str(first.id)))
    assert job.service and job.counts.progress == "0 + 0 / 0"
    assert platform.pipelines.service_url("tb") is not None
    second = seed.commit("in", {"/x": b"2"})
    eventually(lambda: _running(platform, str(second.id)))
    old = platform.pipelines.job("tb", str(first.id))
    assert old.state is JobState.KILLED and old.reason == f"replaced by job {second.id}"
    platform.pipelines.stop("tb")
    assert platform.pipelines.job("tb", str(second.id)).state is JobState.KILLED
    assert platform.pipelines.service_url("tb") is None


def _running(platform: Platform, job_id: str) -> Any:
    jobs = [j for j in platform.pipelines.jobs("tb") if j.id == job_id]
    return jobs[0] if jobs and jobs[0].state is JobState.RUNNING else None
