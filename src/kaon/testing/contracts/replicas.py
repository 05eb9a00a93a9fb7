"""Replicas contract: what every replicas backend does (kaon.ports.replicas).

A backend's tests provide the fixtures:
- `replicas`: the Replicas under test (stopped by the fixture at teardown: `stop_all`);
- `serve_code`: a TreeRef of stored files holding the serve module `model.py` (SERVE_MODULE);
- `serve_env`: the built Environment the replicas run in.
"""

from __future__ import annotations

import time

import pytest

from kaon.core.errors import NotFound
from kaon.core.ids import CommitId, RepoName
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment
from kaon.ports.replicas import Replicas, ReplicaSpec, ReplicaStatus

SERVE_MODULE = b"def predict(payload, ctx):\n    return payload\n"
NAME = "serve-contract"


def wait_ready(replicas: Replicas, wanted: int, timeout: float = 30.0) -> ReplicaStatus:
    """The status once `wanted` replicas answer (a bound, not a timing: the test fails past it)."""
    deadline = time.monotonic() + timeout
    while True:
        status = replicas.status(NAME)
        assert status is not None
        if status.ready == wanted:
            return status
        assert time.monotonic() < deadline, f"timed out; last status {status}"
        time.sleep(0.02)


class ReplicasContract:
    """Start a TreeRef'd module, ready with addresses, stop idempotent, unknowns answered."""

    def test_started_replicas_get_ready_with_addresses_and_stop(
        self, replicas: Replicas, serve_code: TreeRef, serve_env: Environment
    ) -> None:
        spec = ReplicaSpec(name=NAME, code=serve_code, module="model", env=serve_env, replicas=2)
        replicas.start(spec, lambda line: None)
        status = wait_ready(replicas, 2)
        assert status.wanted == 2 and len(set(status.addresses)) == 2
        assert all("://" in address for address in status.addresses)
        replicas.stop(NAME)
        assert replicas.status(NAME) is None
        replicas.stop(NAME)  # idempotent
        assert replicas.status(NAME) is None

    def test_unknown_names_and_addresses(self, replicas: Replicas) -> None:
        assert replicas.status("serve-nothing") is None
        assert replicas.recycle("serve-nothing", "unix:///nowhere/r0.sock") is False
        replicas.stop("serve-nothing")  # idempotent: nothing to stop
        assert replicas.status("serve-nothing") is None

    def test_start_with_gone_code_is_not_found(
        self, replicas: Replicas, serve_code: TreeRef, serve_env: Environment
    ) -> None:
        gone = TreeRef(RepoName(serve_code.repo), CommitId("0" * 64))
        spec = ReplicaSpec(name=NAME, code=gone, module="model", env=serve_env)
        with pytest.raises(NotFound):
            replicas.start(spec, lambda line: None)
