"""Provenance of an endpoint a job deployed (a pipeline's release stage): job → endpoint, so
the endpoint's ancestry reaches the job's input commits (and, stage by stage, the raw data)."""

from __future__ import annotations

from typing import Any

from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.jobs import Bundle
from kaon.core.pipelines.records import InputCommit, JobState, PipelineJob, new_global_id
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, node_id
from kaon.services.pipelines.provenance import PipelineProvenance
from kaon.wiring import Backends, Platform

from .pipelines.svchelp import add_pipeline


def _endpoint(name: str, job: str | None) -> Endpoint:
    source = Bundle("source", "serve", "ws-serve", "serve", "c" * 32, "d" * 64)
    return Endpoint(
        name=name,
        workspace="ws",
        state=EndpointState.RUNNING,
        created=1.0,
        author="alice",
        source=source,
        model_id=None,
        env={"lock_id": "l" * 16},
        job=job,
    )


def test_an_endpoint_a_pipeline_job_deployed_reaches_back_to_the_jobs_inputs(
    platform: Platform, backends: Backends, seed: Any
) -> None:
    platform.repos.create_repo("evaluate")
    commit = seed.commit("evaluate", {"/evaluation_result.csv": b"accuracy\n0.97\n"})
    job = PipelineJob(
        new_global_id(),
        "release",
        1,
        JobState.SUCCESS,
        1.0,
        (InputCommit("evaluate", "evaluate", "master", str(commit.id)),),
        "release",
        "master",
    )
    platform.provenance.endpoint_started(_endpoint("petset-c517ec", job.key))
    # the job's node and its inputs are recorded when it succeeds (after it deployed): the
    # edge shows from then on
    assert not _deployed(platform, "petset-c517ec")
    recorder = PipelineProvenance(backends.provenance, platform.repos)
    spec = {
        "pipeline": {"name": "release"},
        "input": {"pfs": {"repo": "evaluate", "glob": "/"}},
        "transform": {"cmd": ["true"]},
    }
    recorder.job_succeeded(job, add_pipeline(backends.pipelines, spec))
    graph = platform.provenance.of_endpoint("petset-c517ec")
    ids = {n.id for n in graph.nodes}
    assert {f"job:{job.key}", node_id(NodeKind.DATA, str(commit.id))} <= ids
    assert Edge(f"job:{job.key}", "endpoint:petset-c517ec", EdgeKind.DEPLOYED) in graph.edges
    assert Edge(node_id(NodeKind.DATA, str(commit.id)), f"job:{job.key}", EdgeKind.USED) in (
        graph.edges
    )


def test_a_promote_by_a_job_and_a_training_jobs_deploy_are_recorded_too(
    platform: Platform, backends: Backends
) -> None:
    trials = [Node(f"job:{'a' * 32}/{i}", NodeKind.JOB, f"trial {i}") for i in range(2)]
    backends.provenance.record(trials, [])
    platform.provenance.endpoint_started(_endpoint("serve-ws-1", "a" * 32))
    graph = platform.provenance.of_endpoint("serve-ws-1")
    assert {e.src for e in graph.edges if e.kind is EdgeKind.DEPLOYED} == {t.id for t in trials}

    platform.provenance.endpoint_started(_endpoint("petset-v2", None))
    assert not _deployed(platform, "petset-v2")
    promoter = Node("job:release@" + "b" * 32, NodeKind.JOB, "release@bbbbbbbb")
    backends.provenance.record([promoter], [])
    platform.provenance.job_deployed("release@" + "b" * 32, "petset-v2")
    assert _deployed(platform, "petset-v2") == [promoter.id]


def _deployed(platform: Platform, endpoint: str) -> list[str]:
    graph = platform.provenance.of_endpoint(endpoint)
    return [e.src for e in graph.edges if e.kind is EdgeKind.DEPLOYED]
