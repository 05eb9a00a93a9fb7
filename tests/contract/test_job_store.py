"""The JobStore and ProvenanceStore contracts, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

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
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, model_node_id, node_id
from kaon.db.jobs import SqlJobStore
from kaon.db.provenance import SqlProvenanceStore
from kaon.ports.jobs import Workspace

WS = WorkspaceName("ws")


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
    done = (
        jobs.list_trials(first.id)[1]
        .moved(JobState.RUNNING)
        .moved(JobState.SUCCESS, model_id=ModelId("abcde_abcde:abcdef"), metrics={"acc": 0.5})
    )
    jobs.save_trial(done)
    assert jobs.find_model(WS, ModelId("abcde_abcde:abcdef")) == done
    jobs.save_job(first.moved(JobState.FAILURE, reason="why"))
    assert jobs.get_job(first.id).reason == "why"  # type: ignore[union-attr]


def test_models_are_found_per_workspace(jobs: SqlJobStore) -> None:
    """The same content-addressed model id produced in two workspaces: each workspace finds
    its own trial (the newest job's when it made it twice), never the other's."""
    other = WorkspaceName("other")
    jobs.create_workspace(Workspace(other, 1.0, "me"))
    mid = ModelId("abcde_abcde:abcdef")

    def produce(n: int, ws: WorkspaceName, commit: str) -> Trial:
        made = dataclasses.replace(job(n), workspace=ws)
        jobs.add_job(made, [Trial(made.id, 0, {})])
        trial = (
            Trial(made.id, 0, {})
            .moved(JobState.RUNNING)
            .moved(JobState.SUCCESS, model_id=mid, model_commit=commit, model_path="/abcdef")
        )
        jobs.save_trial(trial)
        return trial

    assert jobs.find_model(WS, mid) is None and jobs.model_workspaces(mid) == []
    mine = produce(1, WS, "c-ws")
    assert jobs.model_workspaces(mid) == [WS]
    assert jobs.find_model(other, mid) is None
    theirs = produce(2, other, "c-other")
    again = produce(3, WS, "c-ws-again")
    assert jobs.find_model(other, mid) == theirs
    assert jobs.find_model(WS, mid) == again != mine
    assert jobs.model_workspaces(mid) == [other, WS]
    assert jobs.model_workspaces(ModelId("fffff_fffff:ffffff")) == []
    jobs.delete_workspace(other)
    assert jobs.model_workspaces(mid) == [WS] and jobs.find_model(other, mid) is None


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


def test_upgrade_splits_a_model_node_shared_by_two_workspaces(url: str) -> None:
    """Migration 0006: the old "model:<id>" node two workspaces shared becomes one node per
    workspace, each with that workspace's jobs, endpoint and feedback (and model commit)."""
    from alembic import command
    from sqlalchemy import insert

    from kaon.db import schema
    from kaon.db.engine import WRITE_OPTION, make_engine
    from kaon.db.migrate import alembic_config, upgrade

    mid = "abcde_abcde:abcdef"
    engine = make_engine(url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            for ws, n in (("a", 1), ("b", 2)):
                conn.execute(
                    insert(schema.workspaces),
                    {"name": ws, "created": 1, "author": "", "current": "{}"},
                )
                jid = f"{n:032x}"
                conn.execute(
                    insert(schema.jobs),
                    {"id": jid, "workspace": ws, "state": "JOB_SUCCESS", "created": n, "doc": "{}"},
                )
                doc = {"model_commit": f"commit-{ws}", "model_path": "/abcdef", "metrics": {}}
                conn.execute(
                    insert(schema.trials),
                    {
                        "job": jid,
                        "ind": 0,
                        "state": "JOB_SUCCESS",
                        "model_id": mid,
                        "doc": json.dumps(doc),
                    },
                )
            nodes = [
                ("model:" + mid, "model", {"commit": "commit-a"}),
                (f"job:{1:032x}/0", "job", {}),
                (f"job:{2:032x}/0", "job", {}),
                (f"job:{3:032x}/0", "job", {}),  # its workspace was deleted: found by its data
                ("data:d9", "data", {"repo": "gone-data"}),
                ("endpoint:serve-b-abcdef", "endpoint", {}),
                ("feedback:r1", "feedback", {}),
            ]
            conn.execute(
                insert(schema.prov_nodes),
                [
                    {"id": i, "kind": k, "label": i, "attrs": json.dumps(a), "created": 1.0}
                    for i, k, a in nodes
                ],
            )
            edges = [
                (f"job:{1:032x}/0", "model:" + mid, "produced"),
                (f"job:{2:032x}/0", "model:" + mid, "produced"),
                ("data:d9", f"job:{3:032x}/0", "used"),
                (f"job:{3:032x}/0", "model:" + mid, "produced"),
                ("model:" + mid, "endpoint:serve-b-abcdef", "served-by"),
                ("endpoint:serve-b-abcdef", "feedback:r1", "about"),
                ("model:" + mid, "feedback:r1", "about"),
            ]
            conn.execute(
                insert(schema.prov_edges), [{"src": s, "dst": d, "kind": k} for s, d, k in edges]
            )
    finally:
        engine.dispose()
    upgrade(url)
    store = SqlProvenanceStore(url)
    try:
        assert len(store.ancestry("model:" + mid)) == 0  # the shared node is gone
        a = store.ancestry(model_node_id("a", mid))
        assert {n.id for n in a.nodes} == {model_node_id("a", mid), f"job:{1:032x}/0"}
        assert a.node(model_node_id("a", mid)).attrs["commit"] == "commit-a"
        b = store.subvenance(f"job:{2:032x}/0")
        assert {n.id for n in b.nodes} == {
            f"job:{2:032x}/0",
            model_node_id("b", mid),
            "endpoint:serve-b-abcdef",
            "feedback:r1",
        }
        assert b.node(model_node_id("b", mid)).attrs["commit"] == "commit-b"
        gone = store.ancestry(model_node_id("gone", mid))
        assert f"job:{3:032x}/0" in gone and "data:d9" in gone
    finally:
        store.close()
