"""A real, small, private Ray cluster for the tests (session scope).

`ray_cluster`: `ray start --head --block` as a subprocess of this test session, on free ports,
with its own short `--temp-dir`, 4 logical CPUs (CPUS: a test's tasks, replica actors and a
server's trials never wait for each other's CPUs) and a 150 MB object store, no dashboard; yields
RayCluster(address="ray://127.0.0.1:<client port>", gcs="127.0.0.1:<port>", temp_dir). It is
stopped by ending that one `ray start --block` process (it stops the processes it started),
then its process group: never `ray stop`, which stops every Ray cluster of the machine (other
test sessions' too). `KAON_TEST_RAY_ADDRESS` (a `ray://host:port`) uses a running cluster
instead. Without Ray (not installed, cannot start) the tests that need it skip, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

START_SECONDS = 90.0  # a loaded 2-core machine starts Ray slowly
OBJECT_STORE_BYTES = 150 * 1024 * 1024
CPUS = 4  # logical: Ray reserves them, the machine's cores are shared anyway
ATTEMPTS = 3
STARTED = "Ray runtime started."  # what `ray start` prints once the node is up


class RayCluster(NamedTuple):
    address: str  # ray://127.0.0.1:<client server port>: what KAON_EXECUTOR takes
    gcs: str  # host:port of the head (ray.init("auto")-style drivers, `ray status`)
    temp_dir: Path


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Ray is needed under CI=true: {why}")
    pytest.skip(f"no Ray cluster: {why}")


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End `ray start --block` (it stops what it started), then whatever is left of its group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextlib.contextmanager
def start_ray_cluster(
    cpus: int = CPUS, object_store: int = OBJECT_STORE_BYTES, attempts: int = ATTEMPTS
) -> Iterator[RayCluster]:
    """A private one-node Ray cluster for as long as the context is open (see the module doc);
    RuntimeError when it cannot start `attempts` times (`ray start` gives its raylet 30 s to
    register, which a loaded machine may miss)."""
    for attempt in range(attempts):
        try:
            started = _start(cpus, object_store)
            cluster, proc = next(started)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            continue
        try:
            yield cluster
        finally:
            _stop(proc)
            shutil.rmtree(cluster.temp_dir, ignore_errors=True)
        return


def _start(cpus: int, object_store: int) -> Iterator[tuple[RayCluster, subprocess.Popen[bytes]]]:
    ray = Path(sys.executable).parent / "ray"
    if not ray.exists():
        found = shutil.which("ray")
        if found is None:
            raise RuntimeError("the `ray` command is not installed (uv sync --extra ray)")
        ray = Path(found)
    temp = Path(tempfile.mkdtemp(prefix="kr-", dir="/tmp"))  # short: Ray's socket paths
    gcs, client, node, objects, agent, agent_grpc, runtime_env, metrics = _free_ports(8)
    argv = [
        str(ray),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        f"--ray-client-server-port={client}",
        f"--node-manager-port={node}",
        f"--object-manager-port={objects}",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}",
        "--min-worker-port=0",
        "--max-worker-port=0",
        f"--num-cpus={cpus}",
        "--num-gpus=0",
        f"--object-store-memory={object_store}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env |= {
        "RAY_USAGE_STATS_ENABLED": "0",
        "PATH": f"{ray.parent}:{env.get('PATH', '')}",
        "RAY_agent_register_timeout_ms": "300000",  # a loaded machine starts agents slowly
        "RAY_enable_worker_prestart": "0",  # no idle workers started ahead (memory, CPU)
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",  # drivers under `uv run` ship nothing
    }
    log = temp / "start.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (_listening(client) and STARTED in log.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`ray start` did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    except BaseException:
        _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)
        raise
    yield RayCluster(f"ray://127.0.0.1:{client}", f"127.0.0.1:{gcs}", temp), proc


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    given = os.environ.get("KAON_TEST_RAY_ADDRESS")
    if given:
        yield RayCluster(given, "", Path(tempfile.gettempdir()))
        return
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        _unavailable(f"ray is not installed ({exc}): uv sync --extra ray")
    try:
        cluster = start_ray_cluster()
        started = cluster.__enter__()
    except RuntimeError as exc:
        _unavailable(str(exc))
        return
    try:
        yield started
    finally:
        _disconnect()  # before the cluster goes: Ray Client would try to reconnect to it
        cluster.__exit__(None, None, None)


def _disconnect() -> None:
    """Drop this process' Ray connection, if a test made one (kaon.exec.ray.connect)."""
    connect = sys.modules.get("kaon.exec.ray.connect")
    if connect is not None:
        connect.disconnect()
