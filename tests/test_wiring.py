"""The composition root: backends chosen by URL scheme, a fresh database migrated on build;
build() only wires, start() recovers."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import fields, replace
from pathlib import Path
from typing import get_type_hints

import pytest

from kaon.config import ServerSettings
from kaon.core.errors import InvalidInput
from kaon.core.ids import new_pack_id
from kaon.core.jobs import Bundle, Job, JobId, JobState, WorkspaceName
from kaon.db.database import Database
from kaon.db.pipelines import SqlPipelineStore
from kaon.db.sql import SqlMetadataStore
from kaon.ports.metadata import PackInfo
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore
from kaon.wiring import Platform, build, platform_paths, wire


def settings(home: Path) -> ServerSettings:
    return ServerSettings(
        home=home,
        metadata_url=f"sqlite:///{home}/kaon.db",
        store_url=f"file://{home}/objects",
        host="127.0.0.1",
        port=0,
    )


def test_build_from_scratch(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    platform, backends = wire(settings(home))
    try:
        assert isinstance(backends.database, Database)
        assert isinstance(backends.meta, SqlMetadataStore)
        assert isinstance(backends.pipelines, SqlPipelineStore)
        assert backends.pipelines is backends.database.pipelines
        assert isinstance(backends.objects, LocalObjectStore)
        assert backends.objects.root == home / "objects"
        assert (home / "kaon.db").exists()
        platform.start()
        platform.repos.create_repo("r")
        assert [r.name for r in platform.repos.list_repos()] == ["r"]
    finally:
        platform.close()
    again = build(settings(home))  # reopening keeps the data
    try:
        again.start()
        assert [r.name for r in again.repos.list_repos()] == ["r"]
    finally:
        again.close()


def test_memory_object_store(tmp_path: Path) -> None:
    platform, backends = wire(replace(settings(tmp_path), store_url="memory://"))
    try:
        assert isinstance(backends.objects, MemoryObjectStore)
    finally:
        platform.close()


def test_the_platform_holds_services_only() -> None:
    """Ports and backends stay behind the services (kaon.wiring.Backends holds them)."""
    hints = get_type_hints(Platform)
    public = [f.name for f in fields(Platform) if not f.name.startswith("_")]
    assert len(public) > 10
    for name in public:
        assert hints[name].__module__.startswith("kaon.services."), (name, hints[name])


def _leftovers(home: Path) -> tuple[Path, Path]:
    """A pack a killed client left in the drop folder, an S3 body a stop interrupted."""
    drop, scratch = home / "incoming" / f"{'c' * 32}.pack", home / "s3" / "tmp" / "body"
    for path in (drop, scratch):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left over")
        os.utime(path, (time.time() - 10, time.time() - 10))
    return drop, scratch


def test_build_is_wiring_and_start_recovers(tmp_path: Path) -> None:
    """build() runs nothing: the recoveries of a restart (a job a stop interrupted, a pack a
    power loss lost, leftovers of interrupted uploads) happen in start(), once."""
    home = tmp_path / "home"
    first, backends = wire(settings(home))
    try:
        first.start()
        first.workspaces.create("ws", "me")
        bundle = Bundle("source", "/b:0", "ws-source", "b", "0" * 32, "0" * 64)
        job = Job(
            JobId(uuid.uuid4().hex),
            WorkspaceName("ws"),
            JobState.RUNNING,
            1.0,
            "me",
            bundle,
            bundle,
            started=1.0,
        )
        backends.jobs.add_job(job, [])
        lost = PackInfo(new_pack_id(), 100, time.time())
        backends.meta.add_pack(lost, [])
    finally:
        first.close()
    drop, scratch = _leftovers(home)
    second, backends = wire(settings(home))
    try:
        assert second.training.get(job.id).state is JobState.RUNNING
        assert [p.id for p in backends.meta.list_packs()] == [lost.id]
        assert drop.exists() and scratch.exists()
        second.start()
        again = second.training.get(job.id)
        assert again.state is JobState.FAILURE and "interrupted" in again.reason
        assert backends.meta.list_packs() == []
        assert not drop.exists() and not scratch.exists()
        assert scratch.parent.is_dir()  # S3 puts write there
        second.start()  # a second start does nothing
        assert second.training.get(job.id) == again
    finally:
        second.close()


@pytest.mark.parametrize(
    ("field", "url", "what"),
    [
        ("store_url", "s4://bucket/x", "object store"),
        ("store_url", "/just/a/path", "object store"),
        ("metadata_url", "mysql://localhost/kaon", "metadata database"),
    ],
)
def test_unsupported_schemes(tmp_path: Path, field: str, url: str, what: str) -> None:
    with pytest.raises(InvalidInput, match=f"unsupported {what} URL"):
        build(replace(settings(tmp_path), **{field: url}))


def test_settings_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAON_METADATA_URL", "KAON_STORE_URL", "KAON_HOST", "KAON_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAON_HOME", str(tmp_path))
    s = ServerSettings.from_env()
    assert s.home == tmp_path
    assert s.metadata_url == f"sqlite:///{tmp_path / 'kaon.db'}"
    assert s.store_url == f"file://{tmp_path / 'objects'}"
    assert (s.host, s.port) == ("127.0.0.1", 5266)
    monkeypatch.setenv("KAON_PORT", "7000")
    assert ServerSettings.from_env(port=0).port == 0
    assert ServerSettings.from_env().port == 7000


def test_user_code_is_hidden_every_local_path_the_platform_owns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert platform_paths(settings(home)) == (home,)  # all inside the home
    apart = replace(
        settings(home),
        store_url="file:///srv/kaon/objects",
        metadata_url="sqlite:////var/lib/kaon/db/kaon.db",
    )
    assert platform_paths(apart) == (home, Path("/srv/kaon/objects"), Path("/var/lib/kaon/db"))
    remote = replace(
        settings(home), store_url="memory://", metadata_url="postgresql://u@db.example/kaon"
    )
    assert platform_paths(remote) == (home,)
    at_root = replace(settings(home), metadata_url="sqlite:////kaon.db")
    assert platform_paths(at_root) == (home,)  # "/" cannot be hidden
    shared = replace(settings(home), env_dir="/srv/kaon/envs")  # KAON_ENV_DIR: hidden too
    assert platform_paths(shared) == (home, Path("/srv/kaon/envs"))


def test_the_default_job_memory_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAON_HOME", str(tmp_path))
    monkeypatch.delenv("KAON_JOB_MEMORY", raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    mib = 1 << 20
    assert ServerSettings.from_env().job_memory == physical * 3 // 4 // mib * mib
    for text, expected in (("2Gi", 2 << 30), ("50%", physical // 2 // mib * mib), ("none", None)):
        monkeypatch.setenv("KAON_JOB_MEMORY", text)
        assert ServerSettings.from_env().job_memory == expected, text
    for bad in ("lots", "0%", "150%", "-1Gi", "nan"):
        monkeypatch.setenv("KAON_JOB_MEMORY", bad)
        with pytest.raises(SystemExit, match="KAON_JOB_MEMORY"):
            ServerSettings.from_env()
