"""When pipeline jobs run: one queue per pipeline, upstream jobs awaited, recovery.

Jobs (created by kaon.services.pipelines.triggers) of one pipeline run one at a time, in
order (a daemon worker per pipeline with queued jobs); jobs of different pipelines run in
parallel, at most `slots` at once (service and spout jobs, which run on, take none). A job
waits for its pipeline's environment (STARTING) and for the jobs of its cascade upstream of
it: their output commits are its inputs; if one did not succeed it is UNRUNNABLE, naming it.

At a platform stop, running jobs are cancelled and left to be run again: the next start moves
every job that was STARTING, RUNNING or FINISHING back to STARTING ("recovered after a platform
restart") and queues it with the jobs that never started, so a stop and a crash end the same
way. The job runner keeps the datums that finished before.

With several servers only one leads (kaon.services.pipelines.leader: the PIPELINES claim):
the others `standby`, their triggers record jobs in the store and queue nothing; the leader
`adopt`s jobs recorded anywhere and `reconcile`s its work with what other servers wrote
(a kill, a stop, a delete).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from kaon.core.errors import Conflict, NotFound
from kaon.core.pipelines.records import (
    ACTIVE_JOB_STATES,
    InputCommit,
    JobState,
    PipelineJob,
    PipelineState,
    PipelineVersion,
)
from kaon.core.pipelines.spec import PipelineSpec
from kaon.ports.pipelines import PipelineStore
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.services.pipelines.spouts import SpoutRunner
from kaon.services.repos import RepoService

log = logging.getLogger("kaon")

RunJob = Callable[[PipelineJob, PipelineVersion, threading.Event], PipelineJob]
"""Runs a job to its end (kaon.services.pipelines.jobrunner.PipelineJobRunner.run)."""
RECOVERED = "recovered after a platform restart"
_POLL = 0.5  # seconds between looks at the store while a job waits (also woken at once)


class Scheduler:
    def __init__(
        self,
        store: PipelineStore,
        repos: RepoService,
        spec_of: Callable[[str, int], PipelineSpec],
        run_job: RunJob,
        slots: int,
        clock: Callable[[], float],
        services: ServiceRunner | None = None,
        spouts: SpoutRunner | None = None,
    ) -> None:
        self._store = store
        self._repos = repos
        self._spec_of = spec_of
        self._run_job = run_job
        self.services = services
        self.spouts = spouts
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._clock = clock
        self._cond = threading.Condition()
        self._queues: dict[str, deque[str]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}  # job key → its cancel event
        self._running: set[str] = set()  # job keys a worker has taken
        self._stopping = False
        self._leading = True  # False: another server runs the jobs (standby)

    def enqueue(self, job: PipelineJob) -> None:
        """Queue a job recorded elsewhere (restart datum); on a server on standby the job
        stays recorded for the leading server to adopt."""
        with self._cond:
            if self._leading:
                self._queue(job)

    def standby(self) -> None:
        """Another server leads: queue nothing here (`recover` leads again)."""
        with self._cond:
            self._leading = False

    def adopt(self, jobs: list[PipelineJob]) -> None:
        """Queue the jobs (recorded by any server, oldest first) not queued here yet."""
        with self._cond:
            if self._leading and not self._stopping:
                for job in jobs:
                    self._queue(job)

    def reconcile(self) -> None:
        """Stop what another server ended in the store: a running job killed there (or of a
        pipeline deleted there), a service or spout whose job ended or pipeline stopped."""
        with self._cond:
            running = list(self._running)
        for key in running:
            name, _, job_id = key.partition("@")
            job = self._store.get_job(name, job_id)
            if job is None or job.state.finished:
                with self._cond:
                    if key in self._cancel:
                        self._cancel[key].set()
                    self._cond.notify_all()
        for runner in (self.services, self.spouts):
            if runner is None:
                continue
            for name, job in runner.running().items():
                now = self._store.get_job(name, job.id)
                pipeline = self._store.get_pipeline(name)
                if now is None or now.state.finished or pipeline is None:
                    why = now.reason if now is not None else "pipeline deleted"
                    runner.stop(name, why, job.id)
                elif pipeline.state is PipelineState.PAUSED:
                    runner.stop(name, "pipeline stopped", job.id)

    def _queue(self, job: PipelineJob) -> None:
        """Under the lock: queue `job` behind its pipeline's others, start a worker if none
        (nothing when it is queued or running already)."""
        if job.key in self._running or job.id in self._queues.get(job.pipeline, ()):
            return
        self._cancel.setdefault(job.key, threading.Event())
        self._queues.setdefault(job.pipeline, deque()).append(job.id)
        worker = self._workers.get(job.pipeline)
        if worker is None or not worker.is_alive():
            worker = threading.Thread(
                target=self._work, args=(job.pipeline,), name=f"pipeline-{job.pipeline}"
            )
            worker.daemon = True
            self._workers[job.pipeline] = worker
            worker.start()

    def _work(self, pipeline: str) -> None:
        while True:
            with self._cond:
                queue = self._queues.get(pipeline)
                if self._stopping or not queue:
                    self._workers.pop(pipeline, None)
                    return
                job_id = queue.popleft()
                key = f"{pipeline}@{job_id}"
                self._running.add(key)
                cancel = self._cancel.setdefault(key, threading.Event())
            try:
                self._process(pipeline, job_id, cancel)
            except Exception:
                log.exception("pipeline job %s failed in the scheduler", key)
                if not self._stopping:  # a stop leaves it to be recovered at the next start
                    self._fail(pipeline, job_id, "the scheduler failed: see the server log")
            finally:
                with self._cond:
                    self._running.discard(key)
                    self._cancel.pop(key, None)
                    self._cond.notify_all()

    def _process(self, pipeline: str, job_id: str, cancel: threading.Event) -> None:
        job = self._store.get_job(pipeline, job_id)
        if job is None or job.state.finished:
            return  # killed while queued, or its pipeline deleted
        ready = self._wait_ready(job, cancel)
        if ready is None:
            return
        job, version = ready
        if job.service:  # a service or a spout: it runs on, outside the slots
            self._long_running(job, version)
            return
        while not self._slots.acquire(timeout=_POLL):
            if self._stopping:
                return
            if cancel.is_set():
                self._end(job, JobState.KILLED, "killed before it started")
                return
        try:
            if cancel.is_set():
                self._end(job, JobState.KILLED, "killed before it started")
                return
            done = self._run_job(job, version, cancel)
        finally:
            self._slots.release()
        if self._stopping and done.state is JobState.KILLED:
            # a platform stop, not a user's kill: run again at the next start
            self._store.save_job(replace(done, state=JobState.STARTING, reason=RECOVERED))
            return

    def _long_running(self, job: PipelineJob, version: PipelineVersion) -> None:
        """Hand a service job (or a spout's) to its runner: it returns with the job RUNNING."""
        spout = self._spec_of(job.pipeline, job.version).spout is not None
        if spout and self.spouts is not None:
            self.spouts.start(version, job)
        elif not spout and self.services is not None:
            self.services.serve(job, version)
        else:
            kind = "spout" if spout else "service"
            self._end(job, JobState.FAILURE, f"{kind} pipelines cannot run on this platform")

    def stop_long_running(self, pipeline: str, reason: str) -> None:
        """Stop the pipeline's service or spout process, if it has one (its job: KILLED)."""
        for runner in (self.services, self.spouts):
            if runner is not None:
                runner.stop(pipeline, reason)

    def _wait_ready(
        self, job: PipelineJob, cancel: threading.Event
    ) -> tuple[PipelineJob, PipelineVersion] | None:
        """The job with its inputs resolved and its version, once its pipeline's environment
        is ready and its upstream jobs are done; None when it ended (or the platform stops)."""
        while True:
            if self._stopping:
                return None
            if cancel.is_set():
                self._end(job, JobState.KILLED, "killed before it started")
                return None
            pipeline = self._store.get_pipeline(job.pipeline)
            if pipeline is None:
                return None
            if pipeline.state is PipelineState.FAILURE:
                self._end(job, JobState.FAILURE, f"pipeline {job.pipeline}: {pipeline.reason}")
                return None
            blocked = pipeline.state is PipelineState.STARTING
            inputs, why = self._resolve(job)
            if why:
                self._end(job, JobState.UNRUNNABLE, why)
                return None
            if not blocked and inputs is not None:
                version = self._store.get_version(job.pipeline, job.version)
                if version is None:
                    self._end(job, JobState.FAILURE, f"version {job.version} is gone")
                    return None
                if inputs != job.inputs:
                    job = replace(job, inputs=inputs)
                    self._store.save_job(job)
                return job, version
            with self._cond:
                self._cond.wait(_POLL)

    def _resolve(self, job: PipelineJob) -> tuple[tuple[InputCommit, ...] | None, str]:
        """(inputs with upstream commits filled in, or None while an upstream job runs;
        why the job cannot run, or "")."""
        out = []
        for given in job.inputs:
            upstream = (
                self._store.get_job(given.repo, job.id) if given.repo != job.pipeline else None
            )
            if upstream is None or upstream.output_branch != given.branch:
                out.append(given)
                continue
            if not upstream.state.finished:
                return None, ""
            if upstream.state is not JobState.SUCCESS:
                reason = f": {upstream.reason}" if upstream.reason else ""
                return None, f"upstream job {upstream.key} {upstream.state.label}{reason}"
            commit = upstream.output_commit or self._head(given.repo, given.branch)
            out.append(replace(given, commit=commit))
        return tuple(out), ""

    def _head(self, repo: str, branch: str) -> str | None:
        try:
            return self._repos.get_branch(repo, branch).head
        except NotFound:
            return None

    def _end(self, job: PipelineJob, state: JobState, reason: str) -> None:
        if job.state is not JobState.CREATED and state is JobState.UNRUNNABLE:
            state = JobState.FAILURE  # a recovered job had started: it failed
        now = self._clock()
        self._store.save_job(job.moved(state, reason, finished=now, started=job.started or now))

    def _fail(self, pipeline: str, job_id: str, reason: str) -> None:
        job = self._store.get_job(pipeline, job_id)
        if job is not None and not job.state.finished:
            self._end(job, JobState.FAILURE, reason)

    # control -----------------------------------------------------------------------------
    def kill(self, job: PipelineJob, timeout: float = 30.0) -> PipelineJob:
        """Kill a queued or running job: a queued one at once, a running one once its
        processes are stopped (within `timeout`)."""
        if job.state.finished:
            raise Conflict(f"job {job.key} has finished ({job.state.label}): nothing to kill")
        if job.service and job.state is JobState.RUNNING:  # a service's or a spout's process
            self.stop_long_running(job.pipeline, "killed by request")
        with self._cond:
            self._cancel.setdefault(job.key, threading.Event()).set()
            if job.key not in self._running:
                fresh = self._store.get_job(job.pipeline, job.id) or job
                if not fresh.state.finished:
                    self._end(fresh, JobState.KILLED, "killed by request")
                self._cond.notify_all()
            else:
                self._cond.wait_for(lambda: job.key not in self._running, timeout)
        return self._store.get_job(job.pipeline, job.id) or job

    def forget(self, pipeline: str) -> None:
        """Stop every job of `pipeline` (it is being deleted): queued ones dropped."""
        self.stop_long_running(pipeline, "pipeline deleted")
        with self._cond:
            self._queues.pop(pipeline, None)
            keys = [k for k in self._cancel if k.startswith(pipeline + "@")]
            for key in keys:
                self._cancel[key].set()
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: not any(k.startswith(pipeline + "@") for k in self._running), 30.0
            )

    def wake(self) -> None:
        """A pipeline's state changed (its environment is ready): waiting jobs look again."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, pipeline: str, job_id: str, timeout: float | None = None) -> PipelineJob:
        """The job once it has finished (or as it is after `timeout`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self._store.get_job(pipeline, job_id)
            if job is None:
                raise NotFound(f"job {pipeline}@{job_id} not found")
            if job.state.finished or (deadline is not None and time.monotonic() >= deadline):
                return job
            with self._cond:
                self._cond.wait(_POLL)

    def recover(self, reason: str = RECOVERED) -> list[str]:
        """At start-up (or taking over from a server that stopped, `reason` naming it): lead,
        queue again every job a stop or crash left unfinished, oldest first."""
        self._stopping = False
        self._leading = True
        found = self._store.list_jobs(states=ACTIVE_JOB_STATES)
        keys = []
        with self._cond:
            for job in sorted(found, key=lambda j: j.created):
                if job.state is not JobState.CREATED:
                    job = job.moved(JobState.STARTING, reason)
                    self._store.save_job(job)
                self._queue(job)
                keys.append(job.key)
        return keys

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel running jobs (run again at the next start), stop the workers."""
        with self._cond:
            self._stopping = True
            for key in self._running:
                self._cancel[key].set()
            workers = list(self._workers.values())
            self._cond.notify_all()
        for worker in workers:
            worker.join(timeout)
        for runner in (self.services, self.spouts):
            if runner is not None:  # processes stopped, records left RUNNING: recovered
                runner.close()
