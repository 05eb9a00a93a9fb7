"""The Ray tasks of the Ray executor: their bodies run on a worker (kaon.exec.ray.worker),
their results come back to the server through Ray.

What a task wrote comes back as one tar archive in the task's result (through Ray's object
store: fine for models and datum outputs of up to a few hundred MB; a bigger output would
rather be stored by the worker itself, a later step). Symlinks stay symlinks.
"""

from __future__ import annotations

import io
import platform
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray

from kaon.exec.ray.logs import Sender
from kaon.exec.ray.worker import NodeSpec, node
from kaon.ports.content import Manifest, TreeRef
from kaon.ports.envbuilder import EnvLock
from kaon.ports.executor import RunResult, Task


class TarSink:
    """An OutputSink keeping the output folder as tar bytes."""

    def __init__(self) -> None:
        self.data = b""

    def deliver(self, folder: Path, result: RunResult) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(folder.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        self.data = buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """The output folder a TarSink kept, written into `dest` (created)."""
    dest.mkdir(parents=True, exist_ok=True)
    if data:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            tar.extractall(dest, filter="tar")  # nothing lands outside dest


def _run(
    spec: NodeSpec,
    task: Task,
    manifests: Mapping[TreeRef, Manifest],
    kept: frozenset[TreeRef],
    run: str,
    mailbox: Any,
) -> tuple[RunResult, bytes]:
    here = node(spec)
    sender = Sender(mailbox, run)
    sink = TarSink()
    try:
        with here.content(manifests, kept):
            result = here.executor.run(task, sender.line, sink, sender.cancel)
    finally:
        sender.close()
    return result, sink.data


def _prepare(spec: NodeSpec, lock: EnvLock, run: str, mailbox: Any) -> str:
    sender = Sender(mailbox, run)
    try:
        return str(node(spec).environment(lock, sender.line, sender.cancel).root)
    finally:
        sender.close()


def _describe(spec: NodeSpec) -> dict[str, str | bool]:
    here = node(spec)
    return {
        "pfs_mode": here.executor.pfs_mode,
        "can_sandbox": here.executor.can_sandbox,
        "host": platform.node(),
        "python": platform.python_version(),
    }


run_task = ray.remote(max_retries=0)(_run)
prepare_env = ray.remote(max_retries=0, num_cpus=1)(_prepare)
describe_node = ray.remote(max_retries=0, num_cpus=0)(_describe)
