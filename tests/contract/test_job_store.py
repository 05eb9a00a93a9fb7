"""The JobStore and ProvenanceStore contracts, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.endpoints import Batching, Endpoint, EndpointState
from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.hyper import make_hyper
from kaon.core.jobs import (
    Bundle,
    Job,
    JobId,
    JobState,
    ModelId,
    Resources,
    Trial,
    WorkspaceName,
)
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, node_id
from kaon.db.jobs import SqlJobStore
from kaon.db.provenance import SqlProvenanceStore
from kaon.ports.jobs import Workspace

WS = WorkspaceName("ws")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kaon.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def jobs(url: str) -> Iterator[SqlJobStore]:
    store = SqlJobStore(url)
    store.create_workspace(Workspace(WS, 1.0, "me"))
    yield store
    store.close()


def bundle(kind: str, commit: str) -> Bundle:
    return Bundle(kind, "mnist", f"ws-{kind}", "mnist", commit, "ab" * 32, "me", 10, 2)


def job(n: int, state: JobState = JobState.PENDING) -> Job:
    return Job(
        JobId(f"{n:04x}" + "0" * 28),
        WS,
        state,
        float(n),
        "me",
        bundle("source", "c1"),
        bundle("data", "d1"),
        make_hyper({"a": [1, 2]}),
        Resources(cpu=1.0, memory=2**30, timeout=60.0, parallelism=2, sandbox=True),
        env={"lock_id": "x"},
    )


def test_workspaces(jobs: SqlJobStore) -> None:
    with pytest.raises(AlreadyExists):
        jobs.create_workspace(Workspace(WS, 2.0, "you"))
    jobs.set_current(WS, {"source": {"path": "/mnist:ab"}})
    got = jobs.get_workspace(WS)
    assert got is not None and got.current == {"source": {"path": "/mnist:ab"}}
    assert [w.name for w in jobs.list_workspaces()] == [WS]
    with pytest.raises(WorkspaceNotFound):
        jobs.set_current(WorkspaceName("nope"), {})


def test_jobs_and_trials_round_trip(jobs: SqlJobStore) -> None:
    first, second = job(1), job(2, JobState.RUNNING)
    jobs.add_job(first, [Trial(first.id, 0, {"a": 1}), Trial(first.id, 1, {"a": 2})])
    jobs.add_job(second, [])
    assert jobs.get_job(first.id) == first
    assert [j.id for j in jobs.list_jobs(WS)] == [second.id, first.id]
    assert [j.id for j in jobs.list_jobs(states=[JobState.RUNNING])] == [second.id]
    assert jobs.find_jobs(first.id[:4]) == [first.id]
    done = jobs.list_trials(first.id)[1].moved(
        JobState.SUCCESS, model_id=ModelId("abcde_abcde:abcdef"), metrics={"acc": 0.5}
    )
    jobs.save_trial(done)
    assert jobs.find_model(ModelId("abcde_abcde:abcdef")) == done
    jobs.save_job(first.moved(JobState.FAILURE, reason="why"))
    assert jobs.get_job(first.id).reason == "why"  # type: ignore[union-attr]


def test_endpoints_and_cascading_delete(jobs: SqlJobStore) -> None:
    e = Endpoint(
        "serve-ws-abcdef",
        WS,
        EndpointState.STARTING,
        3.0,
        "me",
        bundle("serve", "s1"),
        "abcde_abcde:abcdef",
        2,
        Batching(32, 5.0),
        10.0,
    )
    jobs.add_endpoint(e)
    jobs.save_endpoint(e.moved(EndpointState.RUNNING))
    assert jobs.get_endpoint(e.name) == e.moved(EndpointState.RUNNING)
    jobs.add_job(job(1), [Trial(JobId(f"{1:04x}" + "0" * 28), 0, {})])
    jobs.delete_workspace(WS)
    assert jobs.get_endpoint(e.name) is None and jobs.list_jobs() == []
    assert jobs.list_trials(JobId(f"{1:04x}" + "0" * 28)) == []


def test_provenance_walks(url: str) -> None:
    store = SqlProvenanceStore(url)
    try:
        data = Node(node_id(NodeKind.DATA, "d1"), NodeKind.DATA, "/features:ab")
        code = Node(node_id(NodeKind.CODE, "c1"), NodeKind.CODE, "/mnist:cd")
        run = Node(node_id(NodeKind.JOB, "j1/0"), NodeKind.JOB, "j1")
        model = Node(node_id(NodeKind.MODEL, "m"), NodeKind.MODEL, "m", {"author": "me"})
        other = Node(node_id(NodeKind.DATA, "d2"), NodeKind.DATA, "/other:ef")
        edges = [
            Edge(data.id, run.id, EdgeKind.USED),
            Edge(code.id, run.id, EdgeKind.USED),
            Edge(run.id, model.id, EdgeKind.PRODUCED),
        ]
        store.record([data, code, run, model, other], edges)
        store.record([data], edges)  # idempotent
        up = store.ancestry(model.id)
        assert {n.id for n in up.nodes} == {data.id, code.id, run.id, model.id}
        assert len(up.edges) == 3 and up.node(model.id).attrs == {"author": "me"}
        down = store.subvenance(data.id)
        assert {n.id for n in down.nodes} == {data.id, run.id, model.id}
        assert len(store.ancestry("data:nope")) == 0
        assert store.find("data", "d") == [data.id, other.id]
    finally:
        store.close()
