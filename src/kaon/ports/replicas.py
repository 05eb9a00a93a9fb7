"""Replicas: the supervised processes that serve one endpoint's predictions.

The service says *what* runs (ReplicaSpec: the served files by content address, the module,
the environment, how many, their variables and what they must not see); the backend decides
*where*, fetches the files itself (kaon.ports.content) and answers the addresses of the
replicas that are ready, as URLs the gateway connects to by scheme: `unix:///path/r0.sock`
from the local backend (a process per replica on this machine), `tcp://host:port` from one
that runs them elsewhere. Every replica speaks kaon's replica protocol (kaon.runtime.protocol)
and is restarted with backoff when it crashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kaon.core.backends import BackendHealth
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment, LogSink


@dataclass(frozen=True)
class ReplicaSpec:
    name: str  # endpoint name, e.g. serve-mnist-ae6466
    code: TreeRef  # the served files: the serve bundle, the model's files beside its module
    module: str  # the serve module's name, e.g. "model"
    env: Environment  # the serve bundle's requirements, built (EnvBuilder; its lock_id)
    folder: str = ""  # the module's folder in `code`: the replicas' working directory, and
    # the model_dir given to load_ctx(model_dir)
    replicas: int = 1
    variables: dict[str, str] = field(default_factory=dict)  # given to every replica
    hidden: tuple[Path, ...] = ()  # folders user code must not see (the platform's home,
    # store, database): the backend shows it only what the replica needs, where it can


@dataclass(frozen=True)
class ReplicaStatus:
    ready: int  # replicas answering
    wanted: int
    restarts: int
    last_error: str  # why the last replica exited, "" if none did
    addresses: tuple[str, ...]  # URLs of the ready replicas (unix:///…/r0.sock, tcp://h:p)


class Replicas(Protocol):
    @property
    def can_sandbox(self) -> bool:
        """Whether `ReplicaSpec.hidden` is honoured on this machine."""
        ...

    def start(self, spec: ReplicaSpec, log: LogSink) -> None:
        """Start (or restart with a new spec) the replicas of `spec.name`: returns once their
        files are fetched (raising NotFound when `spec.code` is gone), the replicas starting
        in the background. Lines the replicas print go to `log` (the caller timestamps them)."""
        ...

    def stop(self, name: str) -> None:
        """Stop every replica of `name` (SIGTERM, then SIGKILL); idempotent."""
        ...

    def status(self, name: str) -> ReplicaStatus | None:
        """None when `name` is not started here."""
        ...

    def recycle(self, name: str, address: str) -> bool:
        """Kill the replica listening at `address` (it stopped answering: a request to it
        timed out); it is restarted like a crashed one. False when no such replica runs."""
        ...

    def stop_all(self) -> None: ...

    def health(self) -> BackendHealth:
        """Whether replicas can be started now (where, and the engine's version). Never raises: a failure is
        ok=False with a one-line `detail` (what failed, what to do)."""
        ...
