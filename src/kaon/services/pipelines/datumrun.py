"""One datum of a job, run to its end on the Executor port: its task (the transform with
`pfs=True`, each input a view of the paths the datum matched, Pachyderm's variables), its
tries (`datum_tries`), `err_cmd` when every try failed, its output stored (outputs.py).
With `transform.datum_batching`, the datums go through `Executor.run_batch` instead: one
long-lived process per worker asks for them (`BatchFeed`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kaon.core.errors import KaonError
from kaon.core.ids import CommitId, RepoName
from kaon.core.pipelines.datums import Datum
from kaon.core.pipelines.records import DatumRecord, DatumState, PipelineJob
from kaon.core.pipelines.spec import PipelineSpec
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvLock, LogSink
from kaon.ports.executor import BatchDatum, Executor, Input, Limits, Place, RunResult, Task
from kaon.services.pipelines.logs import JobLogWriter
from kaon.services.pipelines.outputs import DatumSink, JobOutputs

CODE = "code"  # the input holding transform.source (its working directory)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

Done = Callable[[DatumRecord], None]


@dataclass(frozen=True)
class DatumSetup:
    """What every datum of one job shares."""

    job: PipelineJob
    spec: PipelineSpec
    lock: EnvLock | None
    code: TreeRef | None

    @property
    def limits(self) -> Limits:
        memory = self.spec.limits.memory or self.spec.requests.memory
        return Limits(timeout=self.spec.datum_timeout, memory_bytes=memory)

    @property
    def workdir(self) -> Place:
        if self.code is None:
            return Place.output()  # no code of its own: it runs where it writes
        return Place.input(CODE, self.spec.transform.working_dir.strip("/"))

    def env_base(self) -> dict[str, str]:
        """The spec's variables and Pachyderm's (kaon's too) of the job."""
        job = self.job
        out = {"PATH": DEFAULT_PATH, **dict(self.spec.transform.env)}
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

    def inputs(self, datum: Datum) -> dict[str, Input]:
        """Each input the datum reads, showing only the paths it matched."""
        selected: dict[str, list[str]] = {}
        first: dict[str, tuple[str, str, bool]] = {}
        for f in datum.files:
            selected.setdefault(f.input, []).append(f.path)
            first.setdefault(f.input, (f.repo, f.commit, f.empty))
        out = {
            name: Input(
                TreeRef(RepoName(repo), CommitId(commit)),
                select=tuple(selected[name]),
                empty_files=empty,
            )
            for name, (repo, commit, empty) in first.items()
        }
        if self.code is not None:
            out[CODE] = Input(self.code)
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


def why(result: RunResult, timeout: float | None) -> str:
    if result.timed_out:
        return f"timed out after {timeout:g} s (datum_timeout)" if timeout else "timed out"
    if result.cancelled or result.exit_code is None:
        return "killed"
    if result.exit_code == 127:
        return "exited with code 127 (command not found?)"
    return f"exited with code {result.exit_code}"


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
            sink = self.sink(datum)
            try:
                result = self._executor.run(
                    self.setup.task(datum, str(attempt)), self.user_log(datum), sink, cancel
                )
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
                reason = why(result, spec.datum_timeout)
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
                say(f"err_cmd {why(result, self.setup.spec.datum_timeout)}")
        say(f"datum failed: {reason}")
        self._log.failed(datum.id)
        spent = time.monotonic() - began
        return record(self.setup, datum, DatumState.FAILED, tries, spent, None, reason)


class BatchFeed:
    """The datums of a job for `Executor.run_batch`, shared by the workers' processes: a
    datum whose process died is tried again (datum_tries), then err_cmd, like `run`."""

    def __init__(
        self,
        runner: DatumRunner,
        datums: list[Datum],
        done: Done,
        stop: threading.Event,
        cancel: threading.Event,
    ) -> None:
        self._runner = runner
        self._todo: deque[tuple[Datum, int]] = deque((d, 1) for d in datums)
        self._lock = threading.Lock()
        self._out: dict[str, tuple[Datum, int, DatumSink, float]] = {}
        self._done, self._stop, self._cancel = done, stop, cancel

    def next_datum(self) -> BatchDatum | None:
        with self._lock:
            if not self._todo or self._stop.is_set() or self._cancel.is_set():
                return None
            datum, attempt = self._todo.popleft()
            key = f"{datum.id[:16]}-{attempt}"
            sink = self._runner.sink(datum)
            self._out[key] = (datum, attempt, sink, time.monotonic())
        setup = self._runner.setup
        return BatchDatum(
            key=key,
            inputs={k: v for k, v in setup.inputs(datum).items() if k != CODE},
            outputs=sink,
            env={"PACH_DATUM_ID": datum.id, "KAON_DATUM_ID": datum.id},
            log=self._runner.user_log(datum),
        )

    def finished(self, datum: BatchDatum, result: RunResult) -> None:
        with self._lock:
            d, attempt, sink, began = self._out.pop(datum.key)
        setup = self._runner.setup
        if result.cancelled or self._cancel.is_set():
            return
        if setup.succeeded(result) and not sink.error:
            spent = time.monotonic() - began
            self._done(record(setup, d, DatumState.SUCCESS, attempt, spent, sink))
            return
        reason = sink.error or why(result, setup.spec.datum_timeout)
        if not sink.error and attempt < setup.spec.datum_tries:
            self._runner.platform_log(d)(
                f"try {attempt} of {setup.spec.datum_tries} failed: {reason}"
            )
            with self._lock:
                self._todo.append((d, attempt + 1))
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
