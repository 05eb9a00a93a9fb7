"""Executor: run one task — inputs by content address, in a locked environment — to its end,
streaming its output and handing its outputs to a sink.

The service says *what* runs, never *where*: a `Task` names its code and data as content
addresses (`TreeRef`s: a commit of a repo), the environment as a lock (`EnvLock`), the command
line, variables, resources and labels. The backend decides where it runs and fetches the
inputs itself (through the `Content` port), builds or finds the environment, runs the command,
and hands what the task wrote to the `OutputSink` the service gave. Paths exist only on the
backend's side: where the service needs one in the command line or a variable (the data
folder, the output folder) it puts a `Place`, which the backend turns into its own path.

Metaflow's trampoline is the model: a backend only changes where the same step runs. The local
backend (kaon.exec.local) runs it as a subprocess on this machine (inside bubblewrap where it
can); a Ray or Kubernetes backend would run the same task on a worker. A training trial is one
task (code + data → a model folder); a pipeline datum is another (code + input datums → an
output tree).

What a backend must do with a task, in this order:
1. fetch every `Task.inputs` tree (a shared input read-only; a private one as a writable copy
   of its own with `overlay` written over it and `executable` made executable), and make the
   environment of `Task.lock` ready (`prepare` may have done it already);
2. make an empty output folder and a private scratch folder; write `Task.files` there;
3. run `Task.argv` in the `Task.workdir` folder with exactly `Task.env` (Places resolved) plus:
   PATH = the environment's bin folder, then `Task.env["PATH"]`; VIRTUAL_ENV = the environment;
   HOME and TMPDIR = private writable folders; PYTHONPATH = the kaon runtime where it has one
   (`kaon.determinism`); nothing else of its own environment;
4. enforce `Task.limits` (memory, timeout, the sandbox: inputs read-only, writes only to its
   own folders, no network with `sandbox`), stream every output line to the log sink, stop the
   task and everything it started on cancel, timeout or when the platform dies;
5. call `OutputSink.deliver(output folder, result)` exactly once after the process ended,
   whatever the result, then drop its folders.

Datum batching (`run_batch`, a pipeline's `transform.datum_batching`): one long-lived process
runs `Task.argv` for many datums. The user's code asks for the next datum
(`kaon.runtime.datums.next_datum()` in Python, `kaon-next-datum` in a shell): that reports the
previous one done and blocks until /pfs shows the next one. A datum whose process dies
(non-zero exit, timeout) failed; the rest go to a new process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from kaon.core.backends import BackendHealth
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvLock, LogSink


class Where(StrEnum):
    INPUT = "input"  # the folder of one of Task.inputs (Place.name)
    OUTPUT = "output"  # the output folder handed to the OutputSink
    FILE = "file"  # one of Task.files (Place.name), written in the task's scratch


@dataclass(frozen=True)
class Place:
    """A path only the backend knows, named by what it holds: `Place.input("data")`,
    `Place.output()`, `Place.file("hyperparams.json")`; `rel` goes below it."""

    where: Where
    name: str = ""
    rel: str = ""

    @staticmethod
    def input(name: str, rel: str = "") -> Place:
        return Place(Where.INPUT, name, rel)

    @staticmethod
    def output(rel: str = "") -> Place:
        return Place(Where.OUTPUT, "", rel)

    @staticmethod
    def file(name: str) -> Place:
        return Place(Where.FILE, name)


@dataclass(frozen=True)
class Input:
    """A tree the task reads. Shared (the default): read-only, and the backend may give the
    same fetched copy to every task that reads it (`Executor.keep`). `private`: a writable copy
    for this task alone (code it may change), with `overlay` (path → bytes, relative to the
    tree) written over it and `executable` paths made executable."""

    tree: TreeRef
    private: bool = False
    overlay: Mapping[str, bytes] = field(default_factory=dict)
    executable: tuple[str, ...] = ()
    select: tuple[str, ...] = ()  # shared only: just these paths of the tree (files or
    # folders, "/a/b" relative to tree.path) are seen, each at its own path; empty: all of
    # it (a pipeline datum sees the files its glob matched, fetched once per job by `keep`)
    empty_files: bool = False  # files are seen with their names and no content


@dataclass(frozen=True)
class Limits:
    timeout: float | None = None  # seconds; the task and all it started are killed past it
    memory_bytes: int | None = None  # for all the task's processes where the backend can
    # (a cgroup), else for each of them: see Executor.describe_memory
    memory_default: bool = False  # memory_bytes is the platform's default, not the job's:
    # applied only where it bounds the task as a whole, never per process
    sandbox: bool = False  # the strict mode (`--sandbox`): no network either
    cpus: float | None = None  # cores the task asks for (`--cpu`, a pipeline's
    # resource_requests): a cluster backend reserves them; the local one only records them
    gpus: int = 0  # GPUs it asks for (a pipeline's resource_requests/limits)


@dataclass(frozen=True)
class Task:
    """What runs: see the module doc for what a backend does with it."""

    key: str  # unique among running tasks, path-safe, e.g. "<job id>/trials/0" (local: the
    # task's folder below the backend's root, so an operator finds it)
    argv: tuple[str | Place, ...]
    workdir: Place  # where argv runs, e.g. Place.input("code", "proj/model")
    inputs: Mapping[str, Input] = field(default_factory=dict)  # name → tree
    lock: EnvLock | None = None  # the environment argv runs in (None: the backend's own)
    env: Mapping[str, str | Place] = field(default_factory=dict)  # the variables it gets
    files: Mapping[str, bytes] = field(default_factory=dict)  # small files the task reads
    limits: Limits = field(default_factory=Limits)
    labels: Mapping[str, str] = field(default_factory=dict)  # job id, trial, for the logs
    stdin: tuple[str | Place, ...] = ()  # lines written to the process' stdin, then closed
    # (empty: stdin is /dev/null)
    pfs: bool = False  # Pachyderm's layout: every input is seen at /pfs/<name> and the
    # output folder at /pfs/out. Where the backend can (bubblewrap), by mounts, so literal
    # /pfs paths work; elsewhere PFS_DIR names a folder holding <name> and out, and a
    # literal "/pfs/" in argv, stdin and env values is rewritten to it (Executor.pfs_mode
    # says which). Before `deliver`, a symlink in the output whose target lies in an input
    # is rewritten to "/pfs/<name>/<path>" so the sink can store it by reference.
    pfs_out_pipe: str = ""  # with `pfs`, a spout's: the host path of a named pipe (made by
    # the caller, who reads it) seen at /pfs/out instead of the output folder (bound there,
    # or PFS_DIR/out is a symlink to it); the output folder handed to the sink stays empty


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when killed (timeout or cancel) before it exited
    timed_out: bool
    cancelled: bool
    seconds: float


class OutputSink(Protocol):
    def deliver(self, folder: Path, result: RunResult) -> None:
        """Take what the task wrote into its output folder `folder` (read it, store it: it is
        removed after this returns). Called once per run, after the process ended, whatever
        `result` says; where the task ran remotely, `folder` is a local copy of its outputs."""
        ...


@dataclass(frozen=True)
class BatchDatum:
    """One datum of a batch: what the long-lived process sees next."""

    key: str  # the datum's id (path-safe), for the logs
    inputs: Mapping[str, Input]  # name → tree and select (names among the Task's inputs)
    outputs: OutputSink  # gets what the process wrote to /pfs/out for this datum
    env: Mapping[str, str] = field(default_factory=dict)  # PACH_DATUM_ID…: handed to the code
    # by next_datum() (and put in its os.environ), not set at the process' start
    log: LogSink | None = None  # the lines printed while it is processed (None: the batch's)


class DatumFeed(Protocol):
    """Where `Executor.run_batch` takes its datums from, one at a time, and reports them."""

    def next_datum(self) -> BatchDatum | None:
        """The next datum to process; None when there is none left."""
        ...

    def finished(self, datum: BatchDatum, result: RunResult) -> None:
        """`datum` is done (after its `outputs.deliver`): `result.exit_code` 0 is a success;
        otherwise its process died (that exit code, timed out, or cancelled)."""
        ...


class Executor(Protocol):
    @property
    def can_sandbox(self) -> bool:
        """Whether `Limits.sandbox` and hiding the platform's files are honoured here."""
        ...

    @property
    def pfs_mode(self) -> str:
        """How `Task.pfs` is given here: "bubblewrap" (mounts at /pfs) or "rewrite"."""
        ...

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        """How a `memory_bytes` of `limit` is enforced here, e.g. "512Mi for the trial's
        processes together (cgroup)", or "none" (`default`: see Limits.memory_default)."""
        ...

    def prepare(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> None:
        """Make the environment of `lock` ready where tasks run, building it if needed (its
        lines go to `log`), so that a build failure is reported before any task starts.
        Raises BuildFailed when it cannot be built."""
        ...

    def keep(self, trees: Sequence[TreeRef]) -> AbstractContextManager[None]:
        """While this context is open, a shared input of `trees` fetched for one task is kept
        for the next tasks that read it (a job's trials share its code and data: one fetch);
        once every context keeping it is closed, the backend drops it."""
        ...

    def run(
        self, task: Task, log: LogSink, outputs: OutputSink, cancel: threading.Event
    ) -> RunResult:
        """Run `task` to its end (see the module doc). Every line it prints (stdout and stderr,
        in order) goes to `log` as it comes. Setting `cancel` kills it and all its children;
        when it exits, whatever it started and left running is killed too. If the platform
        dies, the task dies with it. Raises NotFound when an input is gone."""
        ...

    def run_batch(
        self, task: Task, feed: DatumFeed, log: LogSink, cancel: threading.Event
    ) -> RunResult:
        """Run the datums of `feed` through one long-lived process of `task` (its `pfs`
        layout, its inputs' names; a datum's own inputs give the views, `limits.timeout` is per
        datum), a new one when a datum's process died, until the feed is empty or `cancel` is
        set. Every datum handed out is delivered and reported to `feed.finished` exactly once.
        Lines printed while a datum is processed go to its `log`, the others to `log`. The
        result is the last process'; `cancelled` when `cancel` stopped it."""
        ...

    def health(self) -> BackendHealth:
        """Whether tasks can run now (where: `local`, the Ray head's address; the engine's
        version, its nodes and resources). Never raises: a failure is ok=False with a
        one-line `detail` (what failed, what to do)."""
        ...
