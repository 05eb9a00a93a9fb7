"""The execution ports' contract suites (kaon.testing.contracts.executor, .replicas, .drop,
.content), run on the local backends: LocalExecutor, LocalReplicas, PackDrop and StoreContent, with a real platform's store
for the trees they fetch. A Ray backend would add a branch to each fixture here."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.core.ids import CommitId, RepoName
from kaon.exec.local import LocalExecutor
from kaon.exec.replicas import LocalReplicas
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment
from kaon.runtime.install import install_runtime
from kaon.services.content import StoreContent
from kaon.store.drop import PackDrop
from kaon.testing.contracts.content import ContentContract
from kaon.testing.contracts.drop import DropFolderContract
from kaon.testing.contracts.executor import ExecutorContract
from kaon.testing.contracts.replicas import SERVE_MODULE, ReplicasContract
from kaon.wiring import Platform


@pytest.fixture
def env_builder(tmp_path: Path) -> UvEnvBuilder:
    return UvEnvBuilder(tmp_path / "envs", python=sys.executable)


@pytest.fixture
def executor(platform: Platform, env_builder: UvEnvBuilder, tmp_path: Path) -> LocalExecutor:
    content = StoreContent(platform.repos, platform.files)
    runtime = install_runtime(tmp_path / "runtime")  # as the platform gives it: the kaon
    # checkout itself may be hidden from tasks (a clone under /tmp)
    return LocalExecutor(content, tmp_path / "jobs", env_builder, runtime=runtime, hidden=())


@pytest.fixture
def task_folder(tmp_path: Path) -> Callable[[str], Path]:
    return lambda key: tmp_path / "jobs" / key


class TestLocalExecutor(ExecutorContract):
    pass


@pytest.fixture
def content(platform: Platform) -> StoreContent:
    return StoreContent(platform.repos, platform.files)


class TestStoreContent(ContentContract):
    pass


# -- Replicas: LocalReplicas, a process per replica, in this interpreter's environment ------


@pytest.fixture
def serve_code(platform: Platform, seed: Any) -> TreeRef:
    platform.repos.create_repo("serve")
    commit = seed.commit("serve", {"/model.py": SERVE_MODULE})
    return TreeRef(RepoName("serve"), CommitId(str(commit.id)))


@pytest.fixture
def serve_env() -> Environment:
    return Environment("test", Path(sys.prefix), Path(sys.executable).parent, Path(sys.executable))


@pytest.fixture
def replicas(platform: Platform, tmp_path: Path) -> Iterator[LocalReplicas]:
    content = StoreContent(platform.repos, platform.files)
    backend = LocalReplicas(tmp_path / "replicas", content, backoff=(0.1, 0.4), grace=1.0)
    yield backend
    backend.stop_all()


class TestLocalReplicas(ReplicasContract):
    pass


# -- DropFolder: PackDrop ---------------------------------------------------------------------


@pytest.fixture
def drop_folder(tmp_path: Path) -> PackDrop:
    return PackDrop(tmp_path / "incoming", max_size=1000)


class TestPackDrop(DropFolderContract):
    pass
