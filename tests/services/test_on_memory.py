"""Real services over the in-memory backends (`memory://` metadata and objects): no SQLite
file, no database server - what a service unit test needs, and what `kaon.memory` is for."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.config import ServerSettings
from kaon.core.address import Ref
from kaon.core.errors import (
    AlreadyExists,
    Forbidden,
    NotFound,
    PermissionDenied,
    RepoNotFound,
    WorkspaceNotFound,
)
from kaon.core.jobs import Job, JobId, JobState, Resources, Trial, WorkspaceName
from kaon.core.users import Action, Role
from kaon.memory.database import MemoryDatabase
from kaon.ports.workspaces import Workspace
from kaon.services.users import UserService
from kaon.services.workspaces import KINDS
from kaon.store.memory import MemoryObjectStore
from kaon.testing.samples import bundle
from kaon.wiring import Backends, Platform, wire

PLATFORM = "the-platform-token"


@pytest.fixture
def mem_and_backends(tmp_path: Path) -> Iterator[tuple[Platform, Backends]]:
    settings = ServerSettings(
        home=tmp_path / "home",
        metadata_url="memory://",
        store_url="memory://",
        host="127.0.0.1",
        port=0,
    )
    counter = itertools.count()
    p, backends = wire(settings, clock=lambda: 1_700_000_000.0 + next(counter))
    try:
        yield p, backends
    finally:
        p.close()


@pytest.fixture
def mem(mem_and_backends: tuple[Platform, Backends]) -> Platform:
    return mem_and_backends[0]


@pytest.fixture
def backends(mem_and_backends: tuple[Platform, Backends]) -> Backends:
    return mem_and_backends[1]


def test_the_platform_keeps_nothing_on_disk_but_its_home(
    mem: Platform, backends: Backends, tmp_path: Path
) -> None:
    assert isinstance(backends.database, MemoryDatabase)
    assert isinstance(backends.objects, MemoryObjectStore)
    mem.repos.create_repo("images")
    assert list(tmp_path.rglob("*.db")) == []


def test_repos_and_branches(mem: Platform) -> None:
    first = mem.repos.create_repo("images", "training images")
    mem.repos.create_repo("labels")
    assert [r.name for r in mem.repos.list_repos()] == ["labels", "images"]  # newest first
    with pytest.raises(AlreadyExists, match="repo 'images' already exists"):
        mem.repos.create_repo("images")
    assert mem.repos.get_repo("images") == first
    mem.repos.delete_repo("images")
    with pytest.raises(RepoNotFound, match="kaon repo create images"):
        mem.repos.get_repo("images")


def test_commits_and_reads(mem: Platform, seeder_for: Callable[[Platform], Any]) -> None:
    seed = seeder_for(mem)
    mem.repos.create_repo("images")
    first = seed.commit("images", {"a.txt": b"hello\n", "b/c.bin": bytes(3000)})
    second = seed.commit("images", {"a.txt": b"again\n"}, ["b/c.bin"], message="two")
    assert second.parent == first.id
    assert seed.read("images", "master", "a.txt") == b"again\n"
    assert seed.read("images", first.id, "b/c.bin") == bytes(3000)
    with pytest.raises(NotFound):
        seed.read("images", "master", "b/c.bin")
    history = mem.repos.history("images", Ref("master"), None)
    assert [c.id for c in history] == [second.id, first.id]
    mem.repos.create_branch("images", "dev", Ref(first.id))
    assert mem.repos.get_branch("images", "dev").head == first.id


def test_workspaces_and_what_deleting_one_takes(mem: Platform, backends: Backends) -> None:
    ws = mem.workspaces.create("mnist", "me")
    assert mem.workspaces.repos("mnist") == [f"mnist-{kind}" for kind in KINDS]
    assert {r.name for r in mem.repos.list_repos()} == set(mem.workspaces.repos("mnist"))
    with pytest.raises(AlreadyExists):
        mem.workspaces.create("mnist", "you")
    mem.workspaces.set_current(ws.name, source={"commit": "c1"})
    assert mem.workspaces.get("mnist").current == {"source": {"commit": "c1"}}
    assert mem.workspaces.owner_of_repo(mem.workspaces.repos("mnist")[0]) == "mnist"
    job = _job(ws.name)
    backends.jobs.add_job(job, [Trial(job.id, 0, {})])
    mem.workspaces.delete("mnist")
    assert mem.repos.list_repos() == [] and backends.jobs.list_jobs() == []
    assert backends.jobs.list_trials(job.id) == []
    with pytest.raises(WorkspaceNotFound, match="kaon workspace create -n mnist"):
        mem.workspaces.get("mnist")


def test_users_roles_and_tokens() -> None:
    db = MemoryDatabase()  # a service over the stores alone
    db.workspaces.create_workspace(Workspace(WorkspaceName("w"), 1.0, "me"))
    users = UserService(db.users, lambda: 100.0)
    users.bootstrap("root", PLATFORM)
    assert users.authenticate(PLATFORM).admin
    _, secret = users.add("bob")
    bob = users.authenticate(secret)
    with pytest.raises(WorkspaceNotFound, match="share -n w --user bob --role viewer"):
        users.check(bob, Action.READ, "w")
    users.share("w", "bob", Role.VIEWER)
    users.check(bob, Action.READ, "w")
    with pytest.raises(Forbidden, match=r"viewer of workspace 'w'.*--role editor"):
        users.check(bob, Action.WRITE, "w")
    db.workspaces.delete_workspace(WorkspaceName("w"))  # its roles go with it
    assert users.members("w") == []
    users.remove("bob")
    with pytest.raises(PermissionDenied, match="invalid token"):
        users.authenticate(secret)


def _job(ws: WorkspaceName) -> Job:
    return Job(
        JobId("ab" * 16),
        ws,
        JobState.SUCCESS,
        1.0,
        "me",
        bundle("source", "c1"),
        bundle("data", "d1"),
        None,
        Resources(cpu=1.0, memory=2**30, timeout=60.0, parallelism=1, sandbox=False),
    )
