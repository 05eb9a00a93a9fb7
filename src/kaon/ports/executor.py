"""Executor: run one user process to completion, streaming its output.

The local backend runs a subprocess (optionally inside bubblewrap); a cluster backend (Ray,
Kubernetes) runs the same spec remotely. The services never see how.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kaon.ports.envbuilder import LogSink


@dataclass(frozen=True)
class RunSpec:
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]  # the complete environment of the process (nothing is inherited)
    timeout: float | None = None  # seconds; the process group is killed past it
    read_only: tuple[Path, ...] = ()  # inputs the process must not change (sandbox)
    writable: tuple[Path, ...] = ()  # the only places a sandboxed process may write
    sandbox: bool = False  # also cut the network (the strict mode, `--sandbox`)
    hidden: tuple[Path, ...] = ()  # folders the process must not see at all (the platform's
    # home), except the `read_only` and `writable` paths inside them
    memory_bytes: int | None = None  # for all the run's processes where the backend can
    # (a cgroup), else for each of them (RLIMIT_AS): see Executor.describe_memory
    memory_default: bool = False  # memory_bytes is the platform's default, not the job's:
    # applied only where it bounds the run as a whole, never per process
    labels: dict[str, str] = field(default_factory=dict)  # job id, trial, for the backend's logs


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when killed (timeout or cancel) before it exited
    timed_out: bool
    cancelled: bool
    seconds: float


class Executor(Protocol):
    @property
    def can_sandbox(self) -> bool:
        """Whether `RunSpec.sandbox` and `RunSpec.hidden` are honoured on this machine."""
        ...

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        """How a `memory_bytes` of `limit` is enforced here, e.g. "512Mi for the trial's
        processes together (cgroup)", or "none" (`default`: see RunSpec.memory_default)."""
        ...

    def run(self, spec: RunSpec, log: LogSink, cancel: threading.Event) -> RunResult:
        """Run to completion. Every line the process prints (stdout and stderr, in order) goes
        to `log` as it comes. Setting `cancel` kills the process and all its children; when
        the process exits, whatever it started and left running is killed too. If the
        platform dies, the run dies with it."""
        ...
