"""RayExecutor: the executor port on a Ray cluster — each task is one Ray task, run on a worker
by the local backend's own code (kaon.exec.ray.worker), with nothing from this server's disk.

For each task the server resolves every input tree to a manifest (kaon.ports.content: its
files and where their chunks lie in the object store) and sends it with the task; the worker
reads those bytes from the object store itself, builds or reuses the task's uv environment on
its node, runs the command as this machine would (supervised process tree, memory limit,
bubblewrap where the node has it, /pfs), and hands back what the task wrote as a tar archive
that this side unpacks for the OutputSink. Lines travel through a mailbox actor while the task
runs (kaon.exec.ray.logs), and so does cancel (the worker stops the process tree; if it does
not answer, the Ray task is killed). A worker or node lost mid-task ends the run as a failure
with the reason in its log; Ray does not retry it (max_retries=0: the service decides).
Resources: kaon.exec.ray.resources. Datum batching runs the same way, its feed served from
here (kaon.exec.ray.batch).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput, KaonError
from kaon.core.units import memory_text
from kaon.exec.inputs import remove_tree
from kaon.exec.local import RESERVED
from kaon.exec.process import GRACE_SECONDS
from kaon.exec.ray import connect
from kaon.exec.ray.logs import LINE, Event, shared_mailbox
from kaon.exec.ray.remote import describe_node, prepare_env, run_task, unpack
from kaon.exec.ray.resources import check_fits, task_options
from kaon.exec.ray.worker import NodeSpec
from kaon.ports.content import Manifest, Manifests, TreeRef
from kaon.ports.envbuilder import EnvLock, LogSink
from kaon.ports.executor import DatumFeed, OutputSink, RunResult, Task

POLL_SECONDS = 0.1  # how often a running task's lines are fetched and cancel is checked
FORCE_SECONDS = GRACE_SECONDS + 10.0  # a cancelled task still running this long is killed
NODES_SECONDS = 10.0  # the cluster's nodes are looked up again after this long
LOST = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.OwnerDiedError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.RaySystemError,
    ray.exceptions.LocalRayletDiedError,
    ConnectionError,
)


class RayExecutor:
    """Executor over a Ray cluster. One instance serves many threads."""

    lost = LOST  # what a lost worker, node or connection raises

    @staticmethod
    def reason(exc: BaseException) -> str:
        return _line(exc)

    def __init__(self, url: str, manifests: Manifests, node: NodeSpec, scratch: Path) -> None:
        self._url = url
        self._address = connect.connect(url)
        self._manifests = manifests
        self._node = node
        self._scratch = scratch  # where outputs are unpacked for the sink
        self._mailbox = shared_mailbox(self._address)
        self._lock = threading.Lock()
        self._kept: dict[TreeRef, int] = {}
        self._manifests_kept: dict[TreeRef, Manifest] = {}  # of kept trees, resolved once
        self._described: dict[str, Any] | None = None
        self._nodes: tuple[float, list[connect.NodeResources]] = (0.0, [])

    # -- what the workers can do ----------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        if self._described is None:
            self._described = self._get(describe_node.remote(self._node))
        return self._described

    @property
    def can_sandbox(self) -> bool:
        return bool(self._describe()["can_sandbox"])

    @property
    def pfs_mode(self) -> str:
        """The workers' mode (asked once; nodes are assumed alike)."""
        return str(self._describe()["pfs_mode"])

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        if limit is None:
            return "none"
        if default:
            return (
                f"{memory_text(limit)} (the platform's default, KAON_JOB_MEMORY) on the Ray "
                "worker where a cgroup bounds the trial, not reserved with Ray"
            )
        return (
            f"{memory_text(limit)} reserved on a Ray node (Ray's memory resource), enforced "
            "on the worker as on one machine (a cgroup where it has one, else per process)"
        )

    def health(self) -> BackendHealth:
        return connect.health(self._url, BackendRole.EXECUTOR)

    # -- the port ---------------------------------------------------------------------------

    def prepare(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> None:
        """Build the environment on one node now (a failure is reported before any task);
        the other nodes build it at their first task."""
        run = secrets.token_hex(8)
        ref = prepare_env.remote(self._node, lock, run, self._mailbox)
        root = self._follow(ref, run, _lines(log), cancel)
        log(f"environment ready at {root}")

    @contextlib.contextmanager
    def _keeping(self, trees: Sequence[TreeRef]) -> Iterator[None]:
        unique = list(dict.fromkeys(trees))
        with self._lock:
            for tree in unique:
                self._kept[tree] = self._kept.get(tree, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for tree in unique:
                    self._kept[tree] -= 1
                    if not self._kept[tree]:
                        del self._kept[tree]
                        self._manifests_kept.pop(tree, None)

    def keep(self, trees: Sequence[TreeRef]) -> AbstractContextManager[None]:
        """Kept trees are fetched once per node (the worker's cache of trees)."""
        return self._keeping(trees)

    def run(
        self, task: Task, log: LogSink, outputs: OutputSink, cancel: threading.Event
    ) -> RunResult:
        options = self._checked(task)
        manifests = self._resolve([given.tree for given in task.inputs.values()])
        run = secrets.token_hex(8)
        start = time.monotonic()
        ref = run_task.options(**options).remote(
            self._node, task, manifests, self._kept_of(manifests), run, self._mailbox
        )
        data = b""
        result: RunResult
        try:
            result, data = self._follow(ref, run, _lines(log), cancel)
        except ray.exceptions.TaskCancelledError:
            log("cancelled: the Ray task was killed")
            result = RunResult(None, False, True, time.monotonic() - start)
        except LOST as exc:
            log(f"the Ray worker running this task was lost: {_line(exc)}")
            result = RunResult(None, False, cancel.is_set(), time.monotonic() - start)
        self._deliver(outputs, data, result)
        return result

    def run_batch(
        self, task: Task, feed: DatumFeed, log: LogSink, cancel: threading.Event
    ) -> RunResult:
        from kaon.exec.ray.batch import run_batch

        return run_batch(self, task, feed, log, cancel)

    # -- helpers (kaon.exec.ray.batch uses them too) ------------------------------------------

    def _checked(self, task: Task) -> dict[str, Any]:
        """The task's Ray options; InvalidInput for a task no backend runs or no node holds."""
        if not task.argv:
            raise InvalidInput("nothing to run: the command line is empty")
        clash = [n for n in (*task.inputs, *task.files) if n in RESERVED or "/" in n or not n]
        if clash:
            raise InvalidInput(f"task {task.key}: {clash[0]!r} cannot name an input or file")
        if task.pfs_out_pipe:
            raise InvalidInput(
                f"task {task.key}: a spout writes to a pipe on this server: spouts run with "
                "the local executor only (KAON_EXECUTOR=local)"
            )
        options = task_options(task.limits)
        check_fits(options, self._cluster_nodes(), self._address)
        return options

    def _cluster_nodes(self) -> list[connect.NodeResources]:
        at, found = self._nodes
        if time.monotonic() - at > NODES_SECONDS or not found:
            found = connect.nodes()
            self._nodes = (time.monotonic(), found)
        return found

    def _resolve(self, trees: Sequence[TreeRef]) -> dict[TreeRef, Manifest]:
        """Each tree's manifest (NotFound when a tree is gone); a kept tree's is resolved
        once for all the tasks that read it."""
        found = {}
        for tree in dict.fromkeys(trees):
            with self._lock:
                manifest = self._manifests_kept.get(tree)
                kept = tree in self._kept
            if manifest is None:
                manifest = self._manifests.manifest(tree)
                if kept:
                    with self._lock:
                        if tree in self._kept:
                            self._manifests_kept[tree] = manifest
            found[tree] = manifest
        return found

    def _kept_of(self, manifests: dict[TreeRef, Manifest]) -> frozenset[TreeRef]:
        with self._lock:
            return frozenset(tree for tree in manifests if tree in self._kept)

    def _deliver(self, outputs: OutputSink, data: bytes, result: RunResult) -> None:
        folder = self._scratch / secrets.token_hex(8)
        try:
            unpack(data, folder)
            outputs.deliver(folder, result)
        finally:
            remove_tree(folder)

    def _follow(
        self, ref: Any, run: str, handle: Callable[[Event], None], cancel: threading.Event
    ) -> Any:
        """Wait for `ref`, its events to `handle` as they come; on `cancel`, ask the worker
        to stop it, then kill the Ray task if it does not. A task's own KaonError is raised
        here as it was there."""
        stopped: float | None = None
        try:
            while True:
                done, _ = ray.wait([ref], timeout=POLL_SECONDS)
                for event in self._get(self._mailbox.pull.remote(run)):
                    handle(event)
                if done:
                    break
                if cancel.is_set() and stopped is None:
                    stopped = time.monotonic()
                    self._mailbox.stop.remote(run)
                elif stopped is not None and time.monotonic() - stopped > FORCE_SECONDS:
                    ray.cancel(ref, force=True)
                    stopped = float("inf")
            return self._get(ref)
        finally:
            with contextlib.suppress(*LOST, ray.exceptions.RayError):
                for event in self._get(self._mailbox.forget.remote(run)):
                    handle(event)

    @staticmethod
    def _get(ref: Any) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, KaonError):
                raise cause from None
            raise


def _lines(log: LogSink) -> Callable[[Event], None]:
    """A handler of a run's events that sends its lines to `log`."""

    def handle(event: Event) -> None:
        if event[0] == LINE:
            log(event[2])

    return handle


def _line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(exc).__name__
