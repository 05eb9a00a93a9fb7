"""S3 gateway access for pipeline datums: a real datum process (local executor) reads its
input with boto3 through a real gateway (uvicorn on port 0) with the job's own key; the read
is recorded for the job; writes are refused, except a spout's to its own repo."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from kaon.api.s3.dispatch import S3App
from kaon.core.address import parse_ref
from kaon.core.errors import BranchNotFound, PermissionDenied
from kaon.core.pipelines.records import InputCommit, JobState, PipelineJob
from kaon.core.users import Action
from kaon.ports.content import TreeRef
from kaon.ports.executor import Input, Place, RunResult, Task
from kaon.services.pipelines.s3access import PipelineAccess
from kaon.services.pipelines.spouts import SpoutRunner
from kaon.wiring import Platform

from .svchelp import Logs, add_pipeline, eventually, executor

DATUM = """
import boto3, botocore, os
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
body = s3.get_object(Bucket="master.data", Key="in.txt")["Body"].read()
open("/pfs/out/got.txt", "wb").write(body)
for bucket in ("master.data", "master.model"):
    try:
        s3.put_object(Bucket=bucket, Key="x.txt", Body=b"x")
        verdict = "written"
    except botocore.exceptions.ClientError as exc:
        verdict = exc.response["Error"]["Code"]
    open(f"/pfs/out/{bucket}.txt", "w").write(verdict)
open("/pfs/out/endpoint.txt", "w").write(os.environ["S3_ENDPOINT"])
"""


@pytest.fixture
def gateway(platform: Platform) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(S3App(platform), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started)
    platform.credentials.endpoint = f"http://127.0.0.1:{port}"
    yield platform.credentials.endpoint
    server.should_exit = True
    thread.join()
    sock.close()


class Keep:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def deliver(self, folder: Path, result: RunResult) -> None:
        self.files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _job(commit: Any) -> PipelineJob:
    return PipelineJob(
        id=str(commit.id),
        pipeline="model",
        version=1,
        state=JobState.RUNNING,
        created=time.time(),
        inputs=(InputCommit("data", "data", "master", str(commit.id)),),
        output_repo="model",
        output_branch="master",
    )


def test_a_datum_reads_its_input_through_the_gateway_and_writes_nothing_there(
    platform: Platform, platform_factory: Any, gateway: str, seed: Any, tmp_path: Path
) -> None:
    platform.users.bootstrap("root", "the-platform-token")
    store = platform_factory.backends(platform).pipelines
    for repo in ("data", "model"):
        platform.repos.create_repo(repo)
    version = add_pipeline(
        store,
        {
            "pipeline": {"name": "model"},
            "input": {"pfs": {"repo": "data", "glob": "/"}},
            "transform": {"cmd": ["python"]},
        },
    )
    commit = seed.commit("data", {"/in.txt": b"through the gateway"})
    access = PipelineAccess(platform.credentials, lambda name: False)
    platform.s3.on_job_access(access.recorded)
    job = _job(commit)
    env = access.datum_access(job, version)
    assert access.datum_access(job, version) is env  # one key per job, for every datum
    assert env["S3_ENDPOINT"] == gateway.removeprefix("http://")
    task = Task(
        key="datum",
        argv=(sys.executable, "-c", DATUM),
        workdir=Place.output(),
        inputs={"data": Input(TreeRef(commit.repo, commit.id))},
        env=dict(env),
        pfs=True,
    )
    sink = Keep()
    result = executor(platform, tmp_path).run(task, print, sink, threading.Event())
    assert result.exit_code == 0, sink.files
    assert sink.files["got.txt"] == b"through the gateway"
    assert sink.files["master.data.txt"] == b"AccessDenied"
    assert sink.files["master.model.txt"] == b"AccessDenied"
    reads = access.reads(job)
    assert [(r.repo, r.commit) for r in reads] == [("data", str(commit.id))]

    access.revoke(job)
    assert access.reads(job) == []
    assert not [c for c in platform.credentials.list() if c.job == job.key]


def test_a_spout_key_writes_its_own_repo_only(platform: Platform, platform_factory: Any) -> None:
    platform.users.bootstrap("root", "the-platform-token")
    platform.credentials.endpoint = "http://127.0.0.1:1"
    store = platform_factory.backends(platform).pipelines
    for repo in ("data", "model"):
        platform.repos.create_repo(repo)
    version = add_pipeline(
        store,
        {"pipeline": {"name": "model"}, "transform": {"cmd": ["x"]}, "spout": {}},
    )
    access = PipelineAccess(platform.credentials, lambda name: False)
    env = access.spout_access(_job(type("C", (), {"id": "e" * 32})()), version)
    key = platform.credentials.get(env["AWS_ACCESS_KEY_ID"])
    platform.s3_access.check(key, Action.WRITE, "model")
    platform.s3_access.check(key, Action.READ, "data")
    with pytest.raises(PermissionDenied, match="only reads and writes its own repo 'model'"):
        platform.s3_access.check(key, Action.WRITE, "data")


SPOUT = """
import boto3, os, time
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.put_object(Bucket="master.model", Key="news/1.txt", Body=b"fresh")
time.sleep(600)
"""


def test_a_spout_puts_files_through_the_gateway_the_2x_way(
    platform: Platform, platform_factory: Any, gateway: str, tmp_path: Path
) -> None:
    platform.users.bootstrap("root", "the-platform-token")
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("model")
    platform.repos.create_branch("model", "master", None)  # as creating the pipeline does
    version = add_pipeline(
        store,
        {
            "pipeline": {"name": "model"},
            "transform": {"cmd": [sys.executable, "-c", SPOUT]},
            "spout": {},
        },
    )
    access = PipelineAccess(platform.credentials, lambda name: False)
    spouts = SpoutRunner(
        store,
        executor(platform, tmp_path),
        platform.chunks,
        platform.commits,
        tmp_path / "spouts",
        Logs(),
        access=access,
    )
    try:
        job = spouts.start(version)
        head = eventually(lambda: _head(platform))
        files = {
            rel: b"".join(platform.files.content(n)) for rel, n in platform.files.walk(head, "/")
        }
        assert files == {"news/1.txt": b"fresh"}
        assert [c.job for c in platform.credentials.list() if c.job] == [job.key]
        spouts.stop("model")
        assert not [c for c in platform.credentials.list() if c.job]
    finally:
        spouts.close()


def _head(platform: Platform) -> Any:
    try:
        return platform.repos.resolve("model", parse_ref("master"))
    except BranchNotFound:  # no commit yet
        return None


READER = """
import boto3, os
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
body = s3.get_object(Bucket="master.extra", Key="lookup.txt")["Body"].read()
open("/pfs/out/got.txt", "wb").write(body + open("/pfs/data/in.txt", "rb").read())
"""


def test_a_pipeline_job_reading_through_the_gateway_has_it_in_its_provenance(
    platform: Platform, gateway: str, seed: Any
) -> None:
    from kaon.services.pipelines.service import SpecRequest

    platform.users.bootstrap("root", "the-platform-token")
    for repo in ("data", "extra"):
        platform.repos.create_repo(repo)
    extra = seed.commit("extra", {"/lookup.txt": b"looked up + "})
    spec = {
        "pipeline": {"name": "model"},
        "input": {"pfs": {"repo": "data", "glob": "/"}},
        "transform": {"cmd": [sys.executable, "-c", READER]},
    }
    platform.pipelines.create([SpecRequest(spec)], "alice")
    commit = seed.commit("data", {"/in.txt": b"input"})
    job = platform.pipelines.wait_job("model", str(commit.id), timeout=120)
    assert job.state is JobState.SUCCESS, job.reason
    out = platform.repos.resolve("model", parse_ref("master"))
    assert out is not None
    files = {rel: b"".join(platform.files.content(n)) for rel, n in platform.files.walk(out, "/")}
    assert files == {"got.txt": b"looked up + input"}
    below = platform.provenance.subvenance(str(extra.id))
    assert any(n.id == f"job:model@{commit.id}" for n in below.nodes), below.nodes
    assert not [c for c in platform.credentials.list() if c.job]  # revoked at its end
