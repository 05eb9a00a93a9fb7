"""The API from pipeline code: a real datum process (local executor, the platform's Python
WITHOUT its site-packages, the kaon runtime on PYTHONPATH as the platform gives it) imports
the SDK, and `Client.from_env()` reaches a real API server (uvicorn on port 0) with the job's
own token: the pipeline version's author narrowed to the job, revoked when the job ends."""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from kaon.api.asgi import create_app
from kaon.core.errors import Forbidden, PermissionDenied, WorkspaceNotFound
from kaon.core.pipelines.records import JobState
from kaon.core.users import Action, Principal, Role
from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.runtime.install import install_runtime
from kaon.services.content import StoreContent
from kaon.services.pipelines.jobrunner import PipelineJobRunner
from kaon.services.pipelines.s3access import PipelineAccess
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.wiring import Backends, Platform

from .runhelp import Rig
from .svchelp import Logs, add_pipeline, eventually

TOKEN = "the-platform-token-0123"

DATUM = """
import json, os
from kaon.client import Client
client = Client.from_env()
me = client.whoami()
found = {"user": me.user, "job": me.job, "workspace": me.workspace}
found["mine"] = [e.name for e in client.list_endpoints("alices")]
for what, call in (
    ("theirs", lambda: client.list_endpoints("bobs")),
    ("shared", lambda: client.create_repo("sneaky")),
    ("key", lambda: client.create_s3_credentials()),
):
    try:
        call()
        found[what] = "allowed"
    except Exception as exc:
        found[what] = f"{type(exc).__name__}: {exc}"
found["sdk"] = __import__("kaon.client").__file__
open(os.path.join(os.environ.get("PFS_DIR", "/pfs"), "out", "found.json"), "w").write(
    json.dumps(found)
)
"""


@pytest.fixture
def api(platform: Platform) -> Iterator[str]:
    """A real API server for `platform`; its URL is what jobs get in KAON_ENDPOINT."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(platform, TOKEN), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started)
    platform.job_tokens.endpoint = f"http://127.0.0.1:{port}"
    yield platform.job_tokens.endpoint
    server.should_exit = True
    thread.join()
    sock.close()


@pytest.fixture
def alice(platform: Platform) -> str:
    """A user who owns workspace `alices`; workspace `bobs` is someone else's."""
    platform.users.add("alice")
    platform.users.add("bob")
    platform.workspaces.create("alices", "alice")
    platform.users.grant_creator("alices", Principal(platform.users.get("alice").name))
    platform.workspaces.create("bobs", "bob")
    platform.users.grant_creator("bobs", Principal(platform.users.get("bob").name))
    return "alice"


def _rig(platform: Platform, backends: Backends, tmp_path: Path, access: PipelineAccess) -> Rig:
    rig = Rig(platform, backends, tmp_path)
    rig.executor = LocalExecutor(  # the runtime on PYTHONPATH, as the platform's executor has
        StoreContent(platform.repos, platform.files),
        tmp_path / "jobs",
        UvEnvBuilder(tmp_path / "envs"),
        runtime=install_runtime(tmp_path / "runtime"),
        hidden=(),
    )
    rig.runner = PipelineJobRunner(
        rig.store,
        rig.executor,
        platform.repos,
        platform.commits,
        rig.trees,
        platform.chunks,
        rig.logs,
        slots=1,
        gpus=lambda: 0,
        access=access,
    )
    return rig


def test_a_datum_calls_the_api_with_the_sdk_as_the_author_narrowed_to_the_job(
    platform: Platform, backends: Backends, tmp_path: Path, seed: Any, api: str, alice: str
) -> None:
    platform.repos.create_repo("data")
    seed.commit("data", {"/one.txt": b"1"})
    access = PipelineAccess(platform.credentials, lambda n: True, tokens=platform.job_tokens)
    rig = _rig(platform, backends, tmp_path, access)
    doc = {
        "pipeline": {"name": "release"},
        "input": {"pfs": {"repo": "data", "glob": "/"}},
        # -S: no site-packages, so the SDK can only come from the runtime the platform gives
        "transform": {"cmd": [sys.executable, "-S", "-c", DATUM]},
    }
    version = dataclasses.replace(rig.pipeline(doc), author=alice)
    job = rig.job(version)
    ended = rig.runner.run(job, version, threading.Event())
    access.revoke(ended)  # as wiring does once the job ended, however it ended
    assert ended.state is JobState.SUCCESS, ended.reason
    assert ended.output_commit is not None
    found = json.loads(rig.files("release", ended.output_commit)["found.json"])
    assert found["sdk"].startswith(str(tmp_path / "runtime"))  # not the platform's install
    assert (found["user"], found["job"], found["workspace"]) == ("alice", job.key, None)
    assert found["mine"] == []  # the author's workspace: readable (and writable, below)
    assert found["theirs"].startswith("WorkspaceNotFound")  # another's: as if it did not exist
    assert found["shared"].startswith("Forbidden") and "/pfs/out" in found["shared"]
    assert found["key"].startswith("Forbidden") and "AWS_ACCESS_KEY_ID" in found["key"]
    assert platform.repos.list_repos() and "sneaky" not in {
        r.name for r in platform.repos.list_repos()
    }
    # the token was revoked when the job ended
    assert not [t for t in platform.users.tokens() if t.job == job.key]


def test_the_token_acts_as_the_author_where_the_author_may_write(
    platform: Platform, platform_factory: Any, alice: str
) -> None:
    platform.job_tokens.endpoint = "http://127.0.0.1:1"
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("data")
    doc = {
        "pipeline": {"name": "release"},
        "input": {"pfs": {"repo": "data", "glob": "/"}},
        "transform": {"cmd": ["true"]},
    }
    version = dataclasses.replace(add_pipeline(store, doc), author=alice)
    access = PipelineAccess(platform.credentials, lambda n: True, tokens=platform.job_tokens)
    job = _job(version)
    env = access.datum_access(job, version)
    assert env["KAON_ENDPOINT"] == "http://127.0.0.1:1"
    who = platform.users.authenticate(env["KAON_TOKEN"])
    assert who == Principal(platform.users.get("alice").name, False, None, job.key)
    assert who.describe() == f"pipeline job release@{job.id[:8]} of user 'alice'"
    platform.users.check(who, Action.WRITE, "alices")  # deploy/update/promote there
    platform.users.check(who, Action.READ, None)  # shared repos
    with pytest.raises(WorkspaceNotFound):
        platform.users.check(who, Action.READ, "bobs")
    with pytest.raises(Forbidden, match="may not write shared repos or pipelines"):
        platform.users.check(who, Action.WRITE, None)
    platform.users.share("bobs", "alice", Role.VIEWER)
    platform.users.check(who, Action.READ, "bobs")  # a viewer: reads, never writes
    with pytest.raises(Forbidden):
        platform.users.check(who, Action.WRITE, "bobs")
    access.revoke(job)
    with pytest.raises(PermissionDenied):
        platform.users.authenticate(env["KAON_TOKEN"])


def test_an_author_who_is_no_user_gets_the_address_without_a_token(
    platform: Platform, platform_factory: Any
) -> None:
    platform.job_tokens.endpoint = "http://127.0.0.1:1"
    store = platform_factory.backends(platform).pipelines
    doc = {"pipeline": {"name": "release"}, "transform": {"cmd": ["true"]}, "spout": {}}
    version = dataclasses.replace(add_pipeline(store, doc), author="nobody")
    access = PipelineAccess(platform.credentials, lambda n: False, tokens=platform.job_tokens)
    env = access.datum_access(_job(version), version)
    assert env["KAON_ENDPOINT"] == "http://127.0.0.1:1" and "KAON_TOKEN" not in env


SERVICE = """
import os, time
print("api", os.environ["KAON_ENDPOINT"], os.environ["KAON_TOKEN"], flush=True)
time.sleep(600)
"""


def test_a_service_gets_a_token_revoked_when_it_stops(
    platform: Platform, platform_factory: Any, tmp_path: Path, alice: str
) -> None:
    platform.job_tokens.endpoint = "http://127.0.0.1:1"
    store = platform_factory.backends(platform).pipelines
    platform.repos.create_repo("data")
    doc = {
        "pipeline": {"name": "board"},
        "input": {"pfs": {"repo": "data", "glob": "/"}},
        "transform": {"cmd": [sys.executable, "-c", SERVICE]},
        "service": {"internal_port": 38123},
    }
    version = dataclasses.replace(add_pipeline(store, doc), author=alice)
    access = PipelineAccess(platform.credentials, lambda n: True, tokens=platform.job_tokens)
    executor = LocalExecutor(
        StoreContent(platform.repos, platform.files),
        tmp_path / "jobs",
        UvEnvBuilder(tmp_path / "envs"),
        hidden=(),
    )
    logs = Logs()
    services = ServiceRunner(store, executor, logs, access=access)
    try:
        job = services.serve(dataclasses.replace(_job(version), inputs=()), version)
        said = eventually(lambda: [ln for ln in logs.text(job.id).splitlines() if "api " in ln])
        endpoint, token = said[0].split("api ", 1)[1].split()
        assert endpoint == "http://127.0.0.1:1"
        assert platform.users.authenticate(token).job == job.key
        services.stop("board")
        with pytest.raises(PermissionDenied):
            platform.users.authenticate(token)
    finally:
        services.close()


def _job(version: Any) -> Any:
    from kaon.core.pipelines.records import PipelineJob, new_global_id

    return PipelineJob(
        id=new_global_id(),
        pipeline=version.pipeline,
        version=1,
        state=JobState.CREATED,
        created=1.0,
        inputs=(),
        output_repo=version.pipeline,
        output_branch="master",
    )


def test_a_failed_gate_says_why_in_the_jobs_reason(
    platform: Platform, backends: Backends, tmp_path: Path, seed: Any
) -> None:
    """A release script that exits non-zero: the job FAILURE, its reason quoting the last
    lines the datum printed (what `inspect job` shows), not just the exit code."""
    platform.repos.create_repo("data")
    seed.commit("data", {"/evaluation_result.csv": b"accuracy\n0.42\n"})
    rig = Rig(platform, backends, tmp_path)
    gate = (
        "echo checking the gate; echo noise >&2; "
        "echo 'accuracy 0.42 <= 0.9: not released' >&2; exit 3"
    )
    doc = {
        "pipeline": {"name": "release"},
        "input": {"pfs": {"repo": "data", "glob": "/"}},
        "transform": {"cmd": ["/bin/sh", "-c", gate]},
        "datum_tries": 1,
    }
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE and job.output_commit is None
    assert job.reason.endswith(
        "exited with code 3: checking the gate | noise | accuracy 0.42 <= 0.9: not released"
    ), job.reason
