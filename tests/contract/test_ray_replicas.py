"""The Replicas contract (kaon.testing.contracts.replicas) on Ray actors (RayReplicas), on a
private one-node Ray cluster (tests/rayfixtures.py), and what only a cluster backend does:
TCP addresses on the node, an actor that dies is made again, the replicas' lines in the log."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.core.endpoints import tcp_target
from kaon.core.ids import CommitId, RepoName
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment
from kaon.ports.replicas import ReplicaSpec
from kaon.runtime.protocol import read_frame, write_frame
from kaon.services.content import StoreContent
from kaon.testing.contracts.replicas import NAME, SERVE_MODULE, ReplicasContract, wait_ready
from kaon.wiring import Platform
from rayfixtures import RayCluster

ray = pytest.importorskip("ray")
from kaon.exec.ray.replicas import RayReplicas  # noqa: E402


@pytest.fixture(scope="module")
def connected(ray_cluster: RayCluster) -> Iterator[str]:
    monkey = pytest.MonkeyPatch()
    monkey.setenv("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    yield ray_cluster.address
    monkey.undo()


@pytest.fixture
def serve_code(platform: Platform, seed: Any) -> TreeRef:
    platform.repos.create_repo("serve")
    commit = seed.commit("serve", {"/model.py": SERVE_MODULE})
    return TreeRef(RepoName("serve"), CommitId(str(commit.id)))


@pytest.fixture
def serve_env() -> Environment:
    # this interpreter's environment: it is at the same path on the (one, local) node
    return Environment("test", Path(sys.prefix), Path(sys.executable).parent, Path(sys.executable))


@pytest.fixture
def replicas(connected: str, platform: Platform, tmp_path: Path) -> Iterator[RayReplicas]:
    content = StoreContent(platform.repos, platform.files)
    backend = RayReplicas(connected, content, tmp_path / "ray", cpus=0.5, backoff=(0.1, 0.4))
    yield backend
    backend.stop_all()


class TestRayReplicas(ReplicasContract):
    pass


def ask(address: str, payload: object) -> dict[str, Any]:
    target = tcp_target(address)
    assert target is not None, address
    with socket.create_connection(target, timeout=30) as sock:
        body = json.dumps(payload).encode()
        write_frame(sock, {"op": "predict", "id": "", "content_type": "application/json"}, body)
        header, data = read_frame(sock)
    return {"header": header, "body": data}


def test_replicas_listen_on_tcp_and_come_back_when_their_actor_dies(
    replicas: RayReplicas, serve_code: TreeRef, serve_env: Environment
) -> None:
    lines: list[str] = []
    spec = ReplicaSpec(name=NAME, code=serve_code, module="model", env=serve_env, replicas=1)
    replicas.start(spec, lines.append)
    status = wait_ready(replicas, 1, timeout=120)
    (address,) = status.addresses
    assert address.startswith("tcp://")
    answer = ask(address, {"x": [1, 2]})
    assert answer["header"]["status"] == 200, answer
    assert json.loads(answer["body"]) == {"x": [1, 2]}
    assert any(line.startswith("[replica 0] on ") and "Ray node" in line for line in lines)

    ray.kill(replicas._groups[NAME].members[0].actor)  # the actor (its node) is lost
    deadline = time.monotonic() + 120
    while True:
        now = replicas.status(NAME)
        assert now is not None
        if now.ready == 1 and now.restarts >= 1:
            break
        assert time.monotonic() < deadline, f"not back: {now}"
        time.sleep(0.1)
    assert "lost its Ray actor" in now.last_error
    assert ask(now.addresses[0], [3])["header"]["status"] == 200
