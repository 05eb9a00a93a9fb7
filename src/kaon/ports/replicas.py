"""Replicas: the supervised processes that serve one endpoint's predictions.

The local backend runs each replica as a process in the endpoint's environment, listening on
a Unix socket and speaking kaon's replica protocol (kaon.runtime.protocol); it restarts a
crashed replica with backoff. A cluster backend may run them elsewhere; the gateway only needs
their addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kaon.ports.envbuilder import Environment, LogSink


@dataclass(frozen=True)
class ReplicaSpec:
    name: str  # endpoint name, e.g. serve-mnist-ae6466
    env: Environment  # where the serve bundle's requirements are installed
    code_dir: Path  # folder of the serve module (the model files are in it too)
    module: str  # module name in code_dir, e.g. "model"
    model_dir: Path  # passed to load_ctx(model_dir)
    replicas: int = 1
    run_dir: Path = Path()  # sockets and scratch space of the replicas
    extra_env: dict[str, str] = field(default_factory=dict)
    hidden: tuple[Path, ...] = ()  # folders user code must not see (the platform's home,
    # store, database): the backend shows it only what the replica needs, where it can


@dataclass(frozen=True)
class ReplicaStatus:
    ready: int  # replicas answering
    wanted: int
    restarts: int
    last_error: str  # why the last replica exited, "" if none did
    addresses: tuple[str, ...]  # Unix socket paths of the ready replicas


class Replicas(Protocol):
    @property
    def can_sandbox(self) -> bool:
        """Whether `ReplicaSpec.hidden` is honoured on this machine."""
        ...

    def start(self, spec: ReplicaSpec, log: LogSink) -> None:
        """Start (or restart with a new spec) the replicas of `spec.name`; returns at once.
        Lines the replicas print go to `log` (the caller timestamps them)."""
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
