"""RayExecutor: the Executor contract suite (kaon.testing.contracts.executor) on a real,
private one-node Ray cluster (tests/rayfixtures.py), the worker reading its inputs from the
object store by the manifests the server resolved; and what only a cluster does: resources
checked against the cluster, a lost worker, health.

Every case of the contract runs here; none is local-only (the node is this machine, so
bubblewrap's /pfs and sandbox work on the worker as they do locally).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

if os.environ.get("CI") != "true":  # under CI a missing Ray fails (the import below)
    pytest.importorskip("ray")

from kaon.core.backends import BackendRole
from kaon.core.errors import BackendUnavailable, InvalidInput
from kaon.exec.ray.executor import RayExecutor
from kaon.exec.ray.worker import NodeSpec
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import Manifest, TreeRef
from kaon.ports.executor import Limits, Place, Task
from kaon.services.content import StoreContent
from kaon.store.local import LocalObjectStore
from kaon.testing.contracts.executor import ExecutorContract, Outputs, probe_task, run_task
from kaon.wiring import Backends, Platform, open_object_store
from rayfixtures import CPUS, RayCluster


@pytest.fixture
def env_builder(tmp_path: Path) -> UvEnvBuilder:
    return UvEnvBuilder(tmp_path / "envs", python=sys.executable)


@pytest.fixture
def node_spec(backends: Backends, tmp_path: Path) -> NodeSpec:
    assert isinstance(backends.objects, LocalObjectStore)
    return NodeSpec(
        root=str(tmp_path / "node"),
        env_root=str(tmp_path / "envs"),  # the env_builder's: the contract compares them
        open_store=functools.partial(open_object_store, f"file://{backends.objects.root}"),
    )


@pytest.fixture
def executor(
    ray_cluster: RayCluster,
    platform: Platform,
    backends: Backends,
    node_spec: NodeSpec,
    tmp_path: Path,
) -> RayExecutor:
    content = StoreContent(platform.repos, platform.files, backends.meta)
    return RayExecutor(ray_cluster.address, content, node_spec, tmp_path / "scratch")


@pytest.fixture
def task_folder(node_spec: NodeSpec) -> Callable[[str], Path]:
    return lambda key: Path(node_spec.root) / key


class TestRayExecutor(ExecutorContract):
    pass


class Counting:
    """The store's manifests, counting what is resolved."""

    def __init__(self, inner: StoreContent) -> None:
        self.inner = inner
        self.resolved: list[TreeRef] = []

    def manifest(self, tree: TreeRef) -> Manifest:
        self.resolved.append(tree)
        return self.inner.manifest(tree)


def test_kept_trees_are_resolved_once_and_fetched_once_per_node(
    ray_cluster: RayCluster,
    platform: Platform,
    backends: Backends,
    node_spec: NodeSpec,
    trees: tuple[TreeRef, TreeRef],
    tmp_path: Path,
) -> None:
    counting = Counting(StoreContent(platform.repos, platform.files, backends.meta))
    ex = RayExecutor(ray_cluster.address, counting, node_spec, tmp_path / "scratch")
    code, data = trees
    with ex.keep([code, data]):
        for i in range(3):
            lines, _, result = run_task(ex, probe_task(code, data, f"k/trials/{i}"))
            assert result.exit_code == 0 and lines[2] == 'params {"a": 2}', lines
        assert sorted(counting.resolved, key=repr) == sorted([code, data], key=repr)
    cached = [p for p in (Path(node_spec.root) / ".trees").iterdir() if p.is_dir()]
    assert len(cached) == 2  # the node's copies, for the next tasks reading these commits
    run_task(ex, probe_task(code, data, "k/trials/3"))  # not kept: resolved for itself
    assert len(counting.resolved) == 4


def test_a_task_asking_more_than_any_node_has_is_refused_at_once(executor: RayExecutor) -> None:
    too_big = Task(key="big", argv=("true",), workdir=Place.output(), limits=Limits(cpus=64))
    with pytest.raises(InvalidInput, match=rf"asks for 64 CPU\(s\).*{CPUS} CPUs, 0 GPUs"):
        executor.run(too_big, print, Outputs(), threading.Event())
    gpu = Task(key="gpu", argv=("true",), workdir=Place.output(), limits=Limits(gpus=1))
    with pytest.raises(InvalidInput, match=r"1 GPU\(s\)"):
        executor.run(gpu, print, Outputs(), threading.Event())


def test_a_lost_worker_fails_the_run_with_the_reason(executor: RayExecutor) -> None:
    """The task prints the pid of the Ray worker running it (its supervisor's parent) and of
    the process it started; the test kills that worker: the run ends, failed, and says why,
    and the task's processes die with the worker."""
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("worker "):
            os.kill(int(line.split()[1]), signal.SIGKILL)

    outputs = Outputs()
    task = Task(
        key="lost",
        argv=(
            "sh",
            "-c",
            'sleep 100 & echo "worker $(ps -o ppid= -p $PPID | tr -d " ") sleeper $!"; wait',
        ),
        workdir=Place.output(),
        env={"PATH": "/usr/bin:/bin"},
    )
    result = executor.run(task, log, outputs, threading.Event())
    assert result.exit_code is None and not result.cancelled, lines
    assert any("Ray worker running this task was lost" in line for line in lines), lines
    assert [r for _, r in outputs.delivered] == [result]
    sleeper_pid = int(lines[0].split()[3])
    deadline = time.monotonic() + 60  # the supervisor's parent-death signal stops the tree
    while psutil.pid_exists(sleeper_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(sleeper_pid) or psutil.Process(sleeper_pid).status() == "zombie"


def test_health_names_the_version_and_the_nodes(executor: RayExecutor) -> None:
    health = executor.health()
    assert health.ok and health.role is BackendRole.EXECUTOR, health
    assert health.version.startswith("Ray 2.") and f"1 node(s), {CPUS} CPUs" in health.detail
    assert executor.cluster_gpus() == 0  # what a pipeline asking for GPUs is checked against


def test_an_unreachable_head_is_refused_at_start(
    platform: Platform, node_spec: NodeSpec, tmp_path: Path, unused_port: int
) -> None:
    content = StoreContent(platform.repos, platform.files)
    with pytest.raises(BackendUnavailable, match=f"Ray head at ray://127.0.0.1:{unused_port}"):
        RayExecutor(f"ray://127.0.0.1:{unused_port}", content, node_spec, tmp_path)


@pytest.fixture
def unused_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port
