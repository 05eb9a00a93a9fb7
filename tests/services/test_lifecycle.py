"""WorkspaceLifecycle: create a workspace with its owner; kill what runs in it, then delete it.
UserLifecycle: remove a user, then the S3 keys acting for them."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from kaon.core.errors import UnknownAccessKey, WorkspaceNotFound
from kaon.core.jobs import Bundle, Job, JobId, JobState, Resources
from kaon.core.users import Principal, Role, UserName
from kaon.services.localfs import commit_folder, list_folder
from kaon.wiring import Backends, Platform


def _bundle(p: Platform, kind: str, files: dict[str, str], root: Path) -> Bundle:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        (root / rel).chmod(0o755)
    commit_folder(p.chunks, p.commits, f"ws-{kind}", "b", list_folder(root), replace=True)
    return p.workspaces.bundle("ws", kind, "b", "b", "tester")


def _running_job(p: Platform, tmp: Path) -> Job:
    """A job of workspace `ws` whose train has started (and sleeps a minute)."""
    p.users.add("tester")
    p.credentials.endpoint = "http://127.0.0.1:9"  # as the server sets it: jobs get S3 keys
    p.lifecycle.create("ws", Principal(UserName("tester")))
    train = {"m/train": "#!/bin/sh\necho started\nsleep 60\n", "m/requirements.txt": ""}
    src = _bundle(p, "source", train, tmp / "src")
    data = _bundle(p, "data", {"x.csv": "1\n"}, tmp / "data")
    job, _ = p.training.deploy("ws", "tester", src, data, None, Resources())
    log = p.training.log_path(job, "train")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "started" not in (
        log.read_text() if log.exists() else ""
    ):
        time.sleep(0.05)
    return job


def test_create_makes_the_creator_its_owner(platform: Platform) -> None:
    platform.users.add("ann")
    ws = platform.lifecycle.create("Team", Principal(UserName("ann")))
    assert ws.name == "team" and ws.author == "ann"
    assert platform.users.members("team") == [("ann", Role.OWNER)]


def test_kill_stops_running_jobs_then_deletes_the_workspace(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    job = _running_job(platform, tmp_path)
    assert [c for c in platform.credentials.list() if c.job == job.id]  # the job's S3 key
    done = Job(
        JobId(uuid.uuid4().hex), job.workspace, JobState.SUCCESS, 1.0, "t", job.source, job.data
    )
    backends.jobs.add_job(done, [])  # finished: not killed again (that would be refused)
    platform.lifecycle.kill("ws")
    # killed, not only deleted: the job ended (its key is revoked when it ends)
    assert [c for c in platform.credentials.list() if c.job == job.id] == []
    with pytest.raises(WorkspaceNotFound):
        platform.workspaces.get("ws")
    assert not {"ws-source", "ws-data"} & {r.name for r in platform.repos.list_repos()}


def test_removing_a_user_revokes_their_s3_keys(platform: Platform) -> None:
    platform.users.add("dan")
    key = platform.credentials.issue("dan", None, None, "dan")
    kept = platform.credentials.issue("eve")
    platform.user_lifecycle.remove("dan")
    assert [u.name for u in platform.users.all() if u.name == "dan"] == []
    assert [c.access_key for c in platform.credentials.list()] == [kept.access_key]
    with pytest.raises(UnknownAccessKey):
        platform.credentials.get(key.access_key)
