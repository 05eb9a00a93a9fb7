"""One datum of a job, run to its end on the Executor port: its task (the transform with
`pfs=True`, each input a view of the paths the datum matched, Pachyderm's variables), its
tries (`datum_tries`), `err_cmd` when every try failed, its output stored (outputs.py).
With `transform.datum_batching`, the datums go through `Executor.run_batch` instead: one
long-lived process per worker asks for them (`BatchFeed`).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kaon.core.errors import KaonError
from kaon.core.ids import CommitId, RepoName
from kaon.core.pipelines.datums import Datum, DatumFile
from kaon.core.pipelines.records import DatumRecord, DatumState, PipelineJob
from kaon.core.pipelines.spec import PipelineSpec
from kaon.core.units import memory_text
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvLock, LogSink
from kaon.ports.executor import BatchDatum, Executor, Input, Limits, Place, RunResult, Task
from kaon.services.pipelines.logs import JobLogWriter
from kaon.services.pipelines.outputs import DatumSink, JobOutputs
from kaon.services.pipelines.planner import DatumQueue

CODE = "code"  # the input holding transform.source (its working directory)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
WAIT_SECONDS = 0.05  # a batch worker with no datum yet looks again this often

Done = Callable[[DatumRecord], None]


@dataclass(frozen=True)
class DatumSetup:
    """What every datum of one job shares."""

    job: PipelineJob
    spec: PipelineSpec
    lock: EnvLock | None
    code: TreeRef | None
    access: Mapping[str, str] = field(default_factory=dict)  # the S3 gateway (s3access)

    @property
    def limits(self) -> Limits:
        memory = self.spec.limits.memory or self.spec.requests.memory
        gpus = max(self.spec.requests.gpu, self.spec.limits.gpu)
        return Limits(
            timeout=self.spec.datum_timeout,
            memory_bytes=memory,
            cpus=self.spec.requests.cpu,
            gpus=gpus,
        )

    @property
    def workdir(self) -> Place:
        if self.code is None:
            return Place.output()  # no code of its own: it runs where it writes
        return Place.input(CODE, self.spec.transform.working_dir.strip("/"))

    def env_base(self) -> dict[str, str]:
        """The spec's variables and Pachyderm's (kaon's too) of the job."""
        job = self.job
        out = {"PATH": DEFAULT_PATH, **dict(self.spec.transform.env), **self.access}
        out |= {f"{i.name}_COMMIT": i.commit for i in job.inputs if i.commit}
        out |= {
            "PACH_JOB_ID": job.id,
            "PACH_OUTPUT_COMMIT_ID": job.id,
            "PACH_PIPELINE_NAME": job.pipeline,
            "KAON_JOB_ID": job.id,
            "KAON_PIPELINE": job.pipeline,
        }
        return out

    def env(self, datum: Datum) -> dict[str, str]:
        return self.env_base() | {"PACH_DATUM_ID": datum.id, "KAON_DATUM_ID": datum.id}

    def batch_inputs(self) -> dict[str, Input]:
        """Every input of the job, whole (a batch process' datums show views of them)."""
        out = {
            i.name: Input(TreeRef(RepoName(i.repo), CommitId(i.commit)))
            for i in self.job.inputs
            if i.commit
        }
        if self.code is not None:
            out[CODE] = Input(self.code)
        return out

    def inputs(self, datum: Datum, own_trees: bool = True) -> dict[str, Input]:
        """Each input the datum reads, showing only the paths it matched: a lone file at the
        top of its commit as a tree of its own (fetched alone: a job running 1 datum of
        1,001 files, or starting on 200,000, never fetches the whole commit), anything else
        as a view of the whole commit (kept by the job: fetched once)."""
        selected: dict[str, list[DatumFile]] = {}
        for f in datum.files:
            selected.setdefault(f.input, []).append(f)
        out: dict[str, Input] = {}
        for name, files in selected.items():
            f = files[0]
            if own_trees and lone_file(files):
                tree = TreeRef(RepoName(f.repo), CommitId(f.commit), f.path)
                out[name] = Input(tree, empty_files=f.empty)
            else:
                tree = TreeRef(RepoName(f.repo), CommitId(f.commit))
                paths = tuple(x.path for x in files)
                out[name] = Input(tree, select=paths, empty_files=f.empty)
        if self.code is not None:
            out[CODE] = Input(self.code)
        return out

    def whole(self, datums: Iterable[Datum]) -> set[TreeRef]:
        """The input commits some of `datums` see a view of (what the job keeps)."""
        out: set[TreeRef] = set()
        for datum in datums:
            for tree in self.inputs(datum).values():
                if tree.tree.path == "/":
                    out.add(tree.tree)
        return out

    def task(self, datum: Datum, key: str, err: bool = False) -> Task:
        t = self.spec.transform
        return Task(
            key=f"{self.job.pipeline}/{self.job.id[:12]}/{datum.id[:16]}/{key}",
            argv=t.err_cmd if err else t.cmd,
            stdin=t.err_stdin if err else t.stdin,
            workdir=self.workdir,
            inputs=self.inputs(datum),
            lock=self.lock,
            env=self.env(datum),
            limits=self.limits,
            labels={"pipeline": self.job.pipeline, "job": self.job.id, "datum": datum.id},
            pfs=True,
        )

    def succeeded(self, result: RunResult) -> bool:
        code = result.exit_code
        return code is not None and (code == 0 or code in self.spec.transform.accept_return_code)


_OUT_OF_MEMORY = re.compile(
    r"memoryerror|cannot allocate memory|out of memory|\boom\b|oom-kill|oomkilled", re.IGNORECASE
)
_PREAMBLE = ("memory limit ",)  # what the executor says before the code runs (exec.process)


def said_out_of_memory(tail: Iterable[str]) -> bool:
    """Whether the code's last lines say it ran out of memory (whole words: "room" is not)."""
    return any(_OUT_OF_MEMORY.search(line) for line in _users(tail))


def _users(tail: Iterable[str]) -> list[str]:
    """The lines of `tail` the user's code printed: without the executor's preamble."""
    return [line for line in tail if not line.startswith(_PREAMBLE)]


class Tail:
    """A log sink that also keeps the last lines (to say why a try failed)."""

    def __init__(self, sink: LogSink, keep: int = 20) -> None:
        self._sink = sink
        self.lines: deque[str] = deque(maxlen=keep)

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self._sink(line)


def lone_file(files: Sequence[DatumFile]) -> bool:
    """One file directly below the root: its own tree shows it at its own path."""
    return len(files) == 1 and not files[0].is_dir and files[0].path.rfind("/") == 0


def why(setup: DatumSetup, result: RunResult, tail: Iterable[str] = (), err: bool = False) -> str:
    """Why a try failed, in words: its exit, a timeout, a command not found, memory."""
    timeout = setup.spec.datum_timeout
    if result.timed_out:
        return f"timed out after {timeout:g} s (datum_timeout)" if timeout else "timed out"
    if result.cancelled:
        return "killed"
    memory = setup.limits.memory_bytes
    if memory and (result.exit_code in (None, 137, -9) or said_out_of_memory(tail)):
        code = "was killed" if result.exit_code is None else f"exited with code {result.exit_code}"
        return f"{code}: out of memory (its memory limit is {memory_text(memory)})"
    if result.exit_code is None:
        return "killed"
    if result.exit_code == 127:
        cmd = setup.spec.transform.err_cmd if err else setup.spec.transform.cmd
        return (
            f"exited with code 127: command not found ({cmd[0] if cmd else '?'}, or a command "
            "it ran): is it installed, or in the source bundle?"
        )
    return f"exited with code {result.exit_code}" + last_words(tail)


TAIL_LINES = 3  # the last lines of output a failed try's reason quotes…
TAIL_CHARS = 400  # …at most this many characters of them


def last_words(tail: Iterable[str]) -> str:
    """`: <the last non-empty lines the process printed>` (stdout and stderr share one pipe),
    so `inspect job` says why, e.g. a release gate's message; empty when it printed nothing."""
    lines = [line.strip() for line in _users(tail) if line.strip()][-TAIL_LINES:]
    said = " | ".join(lines)
    if len(said) > TAIL_CHARS:
        said = "…" + said[-TAIL_CHARS:]
    return f": {said}" if said else ""


def record(
    setup: DatumSetup,
    datum: Datum,
    state: DatumState,
    tries: int,
    seconds: float,
    sink: DatumSink | None = None,
    reason: str = "",
) -> DatumRecord:
    stored = sink.stored if sink is not None and state is DatumState.SUCCESS else None
    return DatumRecord(
        pipeline=setup.job.pipeline,
        job=setup.job.id,
        id=datum.id,
        hash=datum.hash,
        state=state,
        files=tuple(dict(f.__dict__) for f in datum.files),
        tries=tries,
        seconds=seconds,
        output=stored.output if stored else None,
        reason=reason,
        download_bytes=sum(f.size for f in datum.files if not f.empty),
        upload_bytes=stored.size if stored else 0,
    )


class DatumRunner:
    """Runs datums of one job, one per call (from several worker threads)."""

    def __init__(
        self, executor: Executor, setup: DatumSetup, outputs: JobOutputs, log: JobLogWriter
    ) -> None:
        self._executor = executor
        self.setup = setup
        self._outputs = outputs
        self._log = log

    def sink(self, datum: Datum) -> DatumSink:
        return DatumSink(self._outputs, self.setup.succeeded, self.platform_log(datum))

    def user_log(self, datum: Datum) -> LogSink:
        return self._log.datum(datum.id, datum.files)

    def platform_log(self, datum: Datum) -> LogSink:
        return self._log.datum(datum.id, datum.files, user=False)

    def run(self, datum: Datum, cancel: threading.Event) -> DatumRecord | None:
        """The datum's record once it ended (None: the job was killed before it ended)."""
        spec, began = self.setup.spec, time.monotonic()
        say, reason = self.platform_log(datum), ""
        for attempt in range(1, spec.datum_tries + 1):
            sink, out = self.sink(datum), Tail(self.user_log(datum))
            try:
                result = self._executor.run(self.setup.task(datum, str(attempt)), out, sink, cancel)
            except KaonError as exc:
                reason = exc.message
            else:
                if result.cancelled or cancel.is_set():
                    return None
                if self.setup.succeeded(result) and not sink.error:
                    spent = time.monotonic() - began
                    return record(self.setup, datum, DatumState.SUCCESS, attempt, spent, sink)
                if sink.error:  # what it wrote cannot be stored: no other try changes that
                    return self.failed(datum, attempt, sink.error, began, cancel)
                reason = why(self.setup, result, out.lines)
            say(f"try {attempt} of {spec.datum_tries} failed: {reason}")
        return self.failed(datum, spec.datum_tries, reason, began, cancel)

    def failed(
        self, datum: Datum, tries: int, reason: str, began: float, cancel: threading.Event
    ) -> DatumRecord | None:
        """After its last try: err_cmd recovers it (RECOVERED) or it FAILED."""
        say = self.platform_log(datum)
        if self.setup.spec.transform.err_cmd:
            sink = DatumSink(self._outputs, lambda r: False, say)  # err_cmd writes nothing
            try:
                result = self._executor.run(
                    self.setup.task(datum, "err", err=True), self.user_log(datum), sink, cancel
                )
            except KaonError as exc:
                say(f"err_cmd could not run: {exc.message}")
            else:
                if result.cancelled or cancel.is_set():
                    return None
                if result.exit_code == 0:
                    say(f"recovered by err_cmd after: {reason}")
                    spent = time.monotonic() - began
                    return record(
                        self.setup, datum, DatumState.RECOVERED, tries, spent, None, reason
                    )
                say(f"err_cmd {why(self.setup, result, err=True)}")
        say(f"datum failed: {reason}")
        self._log.failed(datum.id)
        spent = time.monotonic() - began
        return record(self.setup, datum, DatumState.FAILED, tries, spent, None, reason)


class BatchFeed:
    """The datums of a job for `Executor.run_batch`, shared by the workers' processes: a
    datum whose process died is tried again (datum_tries), then err_cmd, like `run`.

    `next_datum` waits while the planner is still on its way, or while a datum is out (its
    try may fail and come back): a worker's process ends only when nothing can come any
    more. If every worker ended anyway, what is `left` needs another round of workers."""

    def __init__(
        self,
        runner: DatumRunner,
        datums: DatumQueue,
        done: Done,
        stop: threading.Event,
        cancel: threading.Event,
    ) -> None:
        self._runner = runner
        self._queue = datums
        self._again: deque[tuple[Datum, int]] = deque()  # tries to make again
        self._lock = threading.Lock()
        self._out: dict[str, tuple[Datum, int, DatumSink, Tail, float]] = {}
        self._done, self._stop, self._cancel = done, stop, cancel
        self.taken = 0  # datums handed out, in all

    @property
    def left(self) -> bool:
        """Whether some datum may still be handed out."""
        with self._lock:
            return bool(self._again) or bool(self._out) or not self._queue.exhausted

    def next_datum(self) -> BatchDatum | None:
        while True:
            with self._lock:
                if self._stop.is_set() or self._cancel.is_set():
                    return None
                if self._again:
                    datum, attempt = self._again.popleft()
                    break
                taken = self._queue.take()
                if taken is not None:
                    datum, attempt = taken, 1
                    break
                if self._queue.exhausted and not self._out:
                    return None
            self._queue.wait(WAIT_SECONDS)
        with self._lock:
            key = f"{datum.id[:16]}-{attempt}"
            sink, tail = self._runner.sink(datum), Tail(self._runner.user_log(datum))
            self._out[key] = (datum, attempt, sink, tail, time.monotonic())
            self.taken += 1
        setup = self._runner.setup
        return BatchDatum(
            key=key,
            inputs={k: v for k, v in setup.inputs(datum, own_trees=False).items() if k != CODE},
            outputs=sink,
            env={"PACH_DATUM_ID": datum.id, "KAON_DATUM_ID": datum.id},
            log=tail,
        )

    def finished(self, datum: BatchDatum, result: RunResult) -> None:
        setup = self._runner.setup
        tries = setup.spec.datum_tries
        with self._lock:  # a try to make again is queued before the datum stops being out
            d, attempt, sink, tail, began = self._out.pop(datum.key)
            cancelled = result.cancelled or self._cancel.is_set()
            ok = setup.succeeded(result) and not sink.error
            again = not cancelled and not ok and not sink.error and attempt < tries
            if again:
                self._again.append((d, attempt + 1))
        if cancelled:
            return
        if ok:
            spent = time.monotonic() - began
            self._done(record(setup, d, DatumState.SUCCESS, attempt, spent, sink))
            return
        reason = sink.error or why(setup, result, tail.lines)
        if again:
            self._runner.platform_log(d)(f"try {attempt} of {tries} failed: {reason}")
            return
        rec = self._runner.failed(d, attempt, reason, began, self._cancel)
        if rec is not None:
            self._done(rec)


def batch_task(setup: DatumSetup, worker: int) -> Task:
    """The long-lived process of one worker (its datums' inputs come with each datum)."""
    job = setup.job
    return Task(
        key=f"{job.pipeline}/{job.id[:12]}/batch-{worker}",
        argv=setup.spec.transform.cmd,
        stdin=setup.spec.transform.stdin,
        workdir=setup.workdir,
        inputs=setup.batch_inputs(),
        lock=setup.lock,
        env=setup.env_base(),
        limits=setup.limits,
        labels={"pipeline": job.pipeline, "job": job.id},
        pfs=True,
    )
