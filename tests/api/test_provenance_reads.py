"""Provenance answers read the database a fixed number of times, however many jobs the graph
holds (no read per job node): counted with SQLAlchemy's own statement events on the
platform's SQLite engine. Only the statements on the tables a provenance answer reads are
counted (the platform's background work runs statements of its own meanwhile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kaon.core.jobs import JobState, WorkspaceName
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, model_node_id, node_id
from kaon.testing.samples import job, job_id
from kaon.wiring import Backends, Platform

Headers = dict[str, str]


@pytest.fixture
def owner(api: TestClient) -> Headers:
    """A user (not an admin) who owns workspace 'wa'."""
    made = api.post("/v1/users", json={"name": "ann"}).json()
    headers = {"Authorization": f"Bearer {made['secret']}"}
    assert api.post("/v1/workspaces", json={"name": "wa"}, headers=headers).status_code == 201
    return headers


def _history(backends: Backends, commit: str, first: int, jobs: int) -> str:
    """`jobs` jobs of workspace 'wa' (numbers from `first`), each a trial that used data
    commit `commit` and produced a model; the model of the last one."""
    data = Node(node_id(NodeKind.DATA, commit), NodeKind.DATA, "/d", {"commit": commit})
    nodes, edges = [data], []
    for n in range(first, first + jobs):
        backends.jobs.add_job(job(n, JobState.SUCCESS, WorkspaceName("wa")), [])
        run = Node(node_id(NodeKind.JOB, f"{job_id(n)}/0"), NodeKind.JOB, "t", {"job": job_id(n)})
        model = Node(model_node_id("wa", _model(n)), NodeKind.MODEL, _model(n))
        nodes += [run, model]
        edges += [Edge(data.id, run.id, EdgeKind.USED), Edge(run.id, model.id, EdgeKind.PRODUCED)]
    backends.provenance.record(nodes, edges)
    return _model(first + jobs - 1)


def _model(n: int) -> str:
    return f"e23a2_9fd9d:{n:06x}"


def _reads(statements: list[str], ask: Callable[[], Any], table: str) -> int:
    """How many statements reading `table` answering `ask()` ran."""
    statements.clear()
    ask()
    return sum(f"FROM {table}" in s for s in statements)


def test_subvenance_reads_as_often_for_30_jobs_as_for_2(
    api: TestClient, platform: Platform, backends: Backends, owner: Headers, statements: list[str]
) -> None:
    few, many = "ab" * 16, "cd" * 16
    _history(backends, few, 1, 2)
    _history(backends, many, 100, 30)

    def subvenance(commit: str) -> Callable[[], Any]:
        def ask() -> Any:
            answer = api.get("/v1/subvenance", params={"commit": commit}, headers=owner)
            assert answer.status_code == 200, answer.text
            return answer.json()["graph"]["nodes"]

        return ask

    assert len(subvenance(many)()) == 61  # the owner sees every job and model
    assert _reads(statements, subvenance(many), "jobs") == 1  # not one per job
    assert _reads(statements, subvenance(few), "jobs") == 1


def test_model_provenance_is_one_walk(
    api: TestClient, backends: Backends, owner: Headers, statements: list[str]
) -> None:
    model = _history(backends, "ef" * 16, 1, 1)
    path = f"/v1/workspaces/wa/models/{model}/provenance"

    def ask() -> Any:
        answer = api.get(path, headers=owner)
        assert answer.status_code == 200, answer.text
        return answer

    assert _reads(statements, ask, "prov_") == 1  # the walk, with what its jobs wrote
