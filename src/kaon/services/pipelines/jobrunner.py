"""Runs ONE pipeline job to its end: plan → skip → run datums → merge → one output commit.

    STARTING   resolve the input commits (listings are lazy).
    RUNNING    the plan is streamed (core.pipelines.planning.stream) by a planner thread
               (planner.py): each batch's hashes looked up at once (`store.succeeded`): those
               are SKIPPED, their stored outputs reused (not with `reprocess_spec:
               every_job`, `--reprocess`); the rest queued for `parallelism` workers (within
               the platform's slots), who start on the first batch while the rest is planned:
               each datum a task on the Executor port (datumrun.py); records and counts saved
               in batches. A FAILED datum: the running ones finish, no other starts, the job
               fails (its plan still goes to its end: the counts say how many datums it had).
    FINISHING  ONE output commit (outputs.commit_job): on the previous output commit, when a
               job made it, only the files of the datums whose output changed put and of those
               gone removed; else the datums' outputs (SUCCESS + SKIPPED) merged whole. Two
               datums writing one path fail the job naming both. The last step: a job that
               fails never commits, nor one with a datum that never ran.

Run again after a platform restart (H4b moves it back to STARTING), a job finds the datums
it finished before through `succeeded` and keeps them: only the others run again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from kaon.core.errors import KaonError
from kaon.core.ids import CommitId, Digest, RepoName
from kaon.core.pipelines.datums import Datum
from kaon.core.pipelines.inputs import as_pfs, pfs_inputs
from kaon.core.pipelines.planning import stream
from kaon.core.pipelines.records import (
    DatumCounts,
    DatumRecord,
    DatumState,
    JobState,
    JobStats,
    PipelineJob,
    PipelineVersion,
)
from kaon.core.pipelines.spec import PfsInput, Reprocess
from kaon.ports.content import TreeRef
from kaon.ports.executor import Executor
from kaon.ports.pipelines import PipelineStore
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService
from kaon.services.leases import new_lease
from kaon.services.pipelines.datumrun import (
    BatchFeed,
    DatumRunner,
    DatumSetup,
    batch_task,
    lone_file,
)
from kaon.services.pipelines.inputs import InputListings
from kaon.services.pipelines.logs import JobLogWriter, PipelineLogs
from kaon.services.pipelines.longrun import lock_of, spec_of
from kaon.services.pipelines.outputs import JobOutputs, commit_job
from kaon.services.pipelines.planner import DatumQueue, Planner
from kaon.services.pipelines.s3access import PipelineAccess
from kaon.services.repos import RepoService
from kaon.services.trees import TreeStore

log = logging.getLogger("kaon.pipelines")

FLUSH_SECONDS = 0.5  # datum records and the job's counts are saved this often…
FLUSH_RECORDS = 100  # …or after this many datums, whichever comes first
WAKE_SECONDS = 0.05  # a worker free while the planner goes on: the queue looked at this often
_RUNNING = (JobState.RUNNING, JobState.FINISHING)


def gpu_count() -> int:
    """GPUs this machine shows (NVIDIA device files)."""
    return len(list(Path("/dev").glob("nvidia[0-9]*")))


class PipelineJobRunner:
    def __init__(
        self,
        store: PipelineStore,
        executor: Executor,
        repos: RepoService,
        commits: CommitService,
        trees: TreeStore,
        chunks: ChunkStore,
        logs: PipelineLogs,
        clock: Callable[[], float] = time.time,
        slots: int = 1,
        gpus: Callable[[], int] = gpu_count,
        access: PipelineAccess | None = None,
        refused: Callable[[str, list[str]], str | None] | None = None,
        on_success: Callable[[PipelineJob, PipelineVersion], None] | None = None,
    ) -> None:
        self.store, self.executor, self.repos, self.commits = store, executor, repos, commits
        # A succeeded job's provenance (wiring): run before the job is saved SUCCESS, so
        # whoever sees it succeeded (wait_job, `kaon wait`) finds its provenance too.
        self.on_success = on_success
        self.access = access  # S3 gateway keys for the datums (revoked by the caller)
        self.refused = refused  # why the author may not read the inputs now (InputAccess)
        self.trees, self.chunks, self.logs = trees, chunks, logs
        self.clock, self.slots, self.gpus = clock, slots, gpus

    def run(
        self, job: PipelineJob, version: PipelineVersion, cancel: threading.Event
    ) -> PipelineJob:
        """Run `job` (CREATED, or interrupted: STARTING/RUNNING/FINISHING) to its end."""
        writer = self.logs.writer(job)
        run = _JobRun(self, job, version, cancel, writer)
        try:
            return run.run()
        except Exception as exc:  # never leave a job hanging: it fails, saying why
            log.exception("pipeline job %s failed", job.key)
            if run.job.state.finished:
                return run.job
            why = exc.message if isinstance(exc, KaonError) else f"internal error: {exc!r}"
            return run.end(JobState.FAILURE, why)
        finally:
            writer.close()
            self.chunks.release(run.lease)


class _JobRun:
    """One run of one job (its state as it goes)."""

    def __init__(
        self,
        runner: PipelineJobRunner,
        job: PipelineJob,
        version: PipelineVersion,
        cancel: threading.Event,
        writer: JobLogWriter,
    ) -> None:
        self.r, self.job, self.version, self.cancel, self.log = runner, job, version, cancel, writer
        self.spec = spec_of(version)
        self.lease = new_lease()
        self.records: dict[str, DatumRecord] = {}
        self.unsaved: list[DatumRecord] = []
        self.lock = threading.Lock()
        self.kill = threading.Event()  # the running datums are killed
        self.stop = threading.Event()  # no datum starts any more
        self.killed = ""  # why the job was killed
        self.saved_at = time.monotonic()
        self.began = time.monotonic()
        self.outputs: JobOutputs | None = None
        self.total = 0  # datums planned so far
        self.ended = 0  # datums run to their end by this run
        self.abort = threading.Event()  # the workers failed: planning stops
        self.setup: DatumSetup | None = None
        self.stack = ExitStack()  # the input trees the job keeps
        self.kept: set[TreeRef] = set()

    # -- the steps --------------------------------------------------------------------------

    def run(self) -> PipelineJob:
        job = self.job
        if job.state in _RUNNING:
            job = job.moved(JobState.STARTING)
        if job.state is JobState.CREATED:
            job = job.moved(JobState.STARTING, started=self.r.clock())
        self.job = replace(job, started=job.started or self.r.clock())
        self.job = replace(self.job, pfs_mode=self.r.executor.pfs_mode)
        self.r.store.save_job(self.job)
        self.log.job(f"job {self.job.key} started (pipeline version {self.version.version})")
        gpus = max(self.spec.requests.gpu, self.spec.limits.gpu)
        if gpus and self.r.gpus() < gpus:
            return self.end(
                JobState.FAILURE,
                f"the pipeline requests {gpus} GPU(s) but this machine has "
                f"{self.r.gpus() or 'none'}: remove resource_requests.gpu or run on a GPU host",
            )
        why = self.r.refused and self.r.refused(
            self.version.author, [c.repo for c in self.job.inputs]
        )
        if why:  # the author lost the right to read an input since the pipeline was made
            return self.end(JobState.FAILURE, why)
        listings = InputListings(self.r.repos, self.r.trees, self.job.inputs)
        if self.spec.input is None:
            return self.end(JobState.FAILURE, "the pipeline has no input (a spout's job)")
        for leaf in pfs_inputs(self.spec.input):  # each input's commit, resolved now
            listings.listing_of(leaf if isinstance(leaf, PfsInput) else as_pfs(leaf))
        roots = {n: Digest(c.tree) if c.tree else None for n, c in listings.commits.items()}
        self.outputs = JobOutputs(self.r.chunks, self.r.trees, self.lease, roots)
        self.job = self.job.moved(JobState.RUNNING, counts=self.counts())
        self.flush(force=True)
        queue = DatumQueue()
        planner = Planner(
            stream(self.spec.input, listings.reader, self.version.salt),
            self.admit,
            queue,
            lambda: self.abort.is_set() or self.kill.is_set() or self.cancel.is_set(),
            name=f"plan-{self.job.pipeline}",
        )
        self.run_datums(planner, queue)
        if planner.error is not None:
            raise planner.error
        note = ""
        if not self.total:
            note = f"no datum: {listings.nothing_matched(self.spec.input)}"
            self.log.job(note)
        self.flush(force=True)
        if self.killed or self.cancel.is_set():
            return self.end(JobState.KILLED, self.killed or "killed")
        failed = [r for r in self.records.values() if r.state is DatumState.FAILED]
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            return self.end(
                JobState.FAILURE, f"datum {failed[0].id} failed: {failed[0].reason}{more}"
            )
        missing = planner.queued - self.ended
        if missing > 0:  # never commit without every datum's output
            return self.end(JobState.FAILURE, f"internal error: {missing} datum(s) never ran")
        return self.finish(note)

    def admit(self, datums: list[Datum]) -> list[Datum]:
        """Of one planned batch, the datums still to run; the others recorded SKIPPED (or
        kept: this job's own); the input commits the rest see views of kept by the job."""
        job = self.job
        every = job.reprocess or self.spec.reprocess is Reprocess.EVERY_JOB
        done = (
            {}
            if every or not datums
            else self.r.store.succeeded(job.pipeline, [d.hash for d in datums])
        )
        rerun = set(job.rerun)
        todo: list[Datum] = []
        skipped: list[DatumRecord] = []
        kept: list[DatumRecord] = []
        for d in datums:
            old = done.get(d.hash)
            if old is None or d.id in rerun:
                todo.append(d)
            elif old.job == job.id:  # this job's own, before a platform restart
                kept.append(old)
            else:
                skipped.append(
                    replace(
                        old,
                        job=job.id,
                        id=d.id,
                        state=DatumState.SKIPPED,
                        files=tuple(dict(f.__dict__) for f in d.files),
                        tries=0,
                        seconds=0.0,
                        reused_from=old.reused_from or old.job,
                        reason="",
                        download_bytes=0,
                        upload_bytes=0,
                    )
                )
        if skipped:
            self.r.store.save_datums(skipped)
        self.keep_whole(todo)
        with self.lock:
            self.records.update((r.id, r) for r in (*kept, *skipped))
            self.total += len(datums)
        return todo

    def keep_whole(self, todo: list[Datum]) -> None:
        """The input commits some of `todo` see a view of: kept by the job (fetched once)."""
        if self.setup is None or self.spec.transform.datum_batching:
            return  # a batch keeps every input already
        wanted: set[TreeRef] = set()
        for d in todo:
            files = d.files
            if len(files) == 1 and lone_file(files):
                continue  # the common case, decided without building its inputs
            wanted |= self.setup.whole([d]) - self.kept
        if wanted:
            self.kept |= wanted
            self.stack.enter_context(self.r.executor.keep(sorted(wanted, key=repr)))

    def run_datums(self, planner: Planner, queue: DatumQueue) -> None:
        code = None
        if self.version.source_repo and self.version.source_commit:
            code = TreeRef(RepoName(self.version.source_repo), CommitId(self.version.source_commit))
        s3 = self.r.access.datum_access(self.job, self.version) if self.r.access else {}
        self.setup = setup = DatumSetup(self.job, self.spec, lock_of(self.version), code, s3)
        assert self.outputs is not None
        runner = DatumRunner(self.r.executor, setup, self.outputs, self.log)
        workers = max(1, min(self.spec.parallelism, self.r.slots))
        if self.spec.transform.datum_batching:  # a batch's datums are views of its inputs
            kept = [given.tree for given in setup.batch_inputs().values()]
        else:
            kept = [code] if code else []
        with self.stack:  # the trees kept (by the planner too) until the workers are done
            self.stack.enter_context(self.r.executor.keep(kept))
            planner.start()
            try:
                if self.spec.transform.datum_batching:
                    self.run_batches(runner, setup, queue, workers)
                else:
                    self.run_each(runner, queue, workers)
            except BaseException:
                self.abort.set()
                raise
            finally:
                planner.join()
        todo, planned = planner.queued, planner.planned
        self.log.job(f"{todo} datum(s) to process, {planned - todo} already done")

    def run_each(self, runner: DatumRunner, queue: DatumQueue, workers: int) -> None:
        running: set[Future[DatumRecord | None]] = set()
        with ThreadPoolExecutor(workers, thread_name_prefix=f"job-{self.job.pipeline}") as pool:
            while True:
                while len(running) < workers and not self.stop.is_set():
                    datum = queue.take()
                    if datum is None:
                        break
                    running.add(pool.submit(runner.run, datum, self.kill))
                if not running:
                    if self.stop.is_set() or queue.exhausted:
                        break
                    queue.wait(FLUSH_SECONDS)  # the planner is on its way
                    self.tick()
                    continue
                # a free worker: look at the queue again soon
                timeout = FLUSH_SECONDS if len(running) == workers else WAKE_SECONDS
                done, running = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    rec = future.result()
                    if rec is not None:
                        self.finished(rec)
                self.tick()

    def run_batches(
        self, runner: DatumRunner, setup: DatumSetup, queue: DatumQueue, workers: int
    ) -> None:
        feed = BatchFeed(runner, queue, self.finished, self.stop, self.kill)

        def work(i: int) -> None:
            try:
                self.r.executor.run_batch(batch_task(setup, i), feed, self.log.job, self.kill)
            except Exception:
                log.exception("pipeline job %s: a batch worker failed", self.job.key)
                self.stop.set()

        taken = -1
        while feed.left and feed.taken > taken and not self.stop.is_set():
            taken = feed.taken  # a round that takes no datum is the last
            threads = [
                threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(FLUSH_SECONDS)
                    self.tick()

    def finish(self, note: str) -> PipelineJob:
        self.job = self.job.moved(JobState.FINISHING)
        self.r.store.save_job(self.job)
        assert self.outputs is not None
        made = commit_job(
            self.outputs,
            self.r.commits,
            self.r.repos,
            self.r.store,
            self.job,
            self.records.values(),
        )
        if isinstance(made, str):
            return self.end(JobState.FAILURE, made)
        commit, said = made
        self.log.job(f"output commit {self.job.output_repo}@{commit.id}: {said}")
        return self.end(JobState.SUCCESS, note, output_commit=commit.id)

    # -- as it goes -------------------------------------------------------------------------

    def finished(self, rec: DatumRecord) -> None:
        """A datum ended (from any worker thread)."""
        with self.lock:
            self.records[rec.id] = rec
            self.unsaved.append(rec)
            self.ended += 1
            if rec.state is DatumState.FAILED:
                self.stop.set()
        self.flush()

    def tick(self) -> None:
        """Killed by the user or job_timeout? Records and counts saved when due."""
        timeout = self.spec.job_timeout
        if self.cancel.is_set() and not self.kill.is_set():
            self.killed = "killed"
        elif timeout and time.monotonic() - self.began > timeout and not self.kill.is_set():
            self.killed = f"job_timeout of {timeout:g} s exceeded"
        if self.killed:
            self.stop.set()
            self.kill.set()
        self.flush()

    def flush(self, force: bool = False) -> None:
        with self.lock:
            due = len(self.unsaved) >= FLUSH_RECORDS or (
                time.monotonic() - self.saved_at >= FLUSH_SECONDS
            )
            if not (force or due):
                return
            batch, self.unsaved = self.unsaved, []
            self.saved_at = time.monotonic()
            self.job = self.tallied(self.job)
            job = self.job
        if batch:
            self.r.store.save_datums(batch)
        self.r.store.save_job(job)
        self.r.chunks.renew(self.lease)

    def counts(self) -> DatumCounts:
        states = [r.state for r in self.records.values()]
        return DatumCounts(
            total=self.total,
            processed=states.count(DatumState.SUCCESS),
            skipped=states.count(DatumState.SKIPPED),
            failed=states.count(DatumState.FAILED),
            recovered=states.count(DatumState.RECOVERED),
        )

    def tallied(self, job: PipelineJob) -> PipelineJob:
        """`job` with its counts, restarts and stats as the datums stand."""
        ran = [r for r in self.records.values() if r.state is not DatumState.SKIPPED]
        upload = self.outputs.upload_seconds if self.outputs else 0.0
        stats = JobStats(
            download_bytes=sum(r.download_bytes for r in ran),
            upload_bytes=sum(r.upload_bytes for r in ran),
            process_seconds=max(0.0, sum(r.seconds for r in ran) - upload),
            upload_seconds=upload,
        )
        restarts = sum(max(0, r.tries - 1) for r in ran)
        return replace(job, counts=self.counts(), restarts=restarts, stats=stats)

    def end(self, state: JobState, reason: str, **changes: object) -> PipelineJob:
        with self.lock:
            self.job = self.tallied(self.job)
        if state is not JobState.SUCCESS:
            changes["output_commit"] = None
        self.job = self.job.moved(state, reason, finished=self.r.clock(), **changes)
        if state is JobState.SUCCESS and self.r.on_success is not None:
            try:
                self.r.on_success(self.job, self.version)
            except Exception:  # the output commit is made: the job still succeeded
                log.exception("pipeline job %s: recording its provenance failed", self.job.key)
        self.r.store.save_job(self.job)
        self.log.job(f"job {state.label}" + (f": {reason}" if reason else ""))
        return self.job
