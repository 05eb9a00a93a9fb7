"""Training jobs: submit, then build, run and record them, one lifecycle step each.

Each job runs in its own thread through the steps of its lifecycle (kaon.core.jobs):
BUILDING (kaon.services.jobbuild: the lock and the environment), RUNNING
(kaon.services.jobrun: the trials as tasks on the executor), then SUCCESS, FAILURE (with a
JobFailure) or KILLED with a reason, every move recorded by kaon.services.jobrecord and the
outputs committed by kaon.services.joboutputs. Jobs left BUILDING or RUNNING by a platform
stop are marked FAILURE on the next start (`recover`), never left running forever.

With several servers (kaon.services.cluster) a job is run by the server that accepted it: it
holds the job's claim (ClaimKind.JOB) until the job ends. Another server kills it or reads
its live log through that server (the API forwards); a job whose server died is taken over
by a live one (`take_over`): ended FAILURE "interrupted" naming the lost server, as a
restart ends its own, or started there when it was still PENDING.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Collection, Container, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaon.core.errors import (
    BuildFailed,
    Conflict,
    InvalidInput,
    InvalidTransition,
    JobNotFound,
    JobNotRunning,
    KaonError,
    ModelNotFound,
    NotFound,
)
from kaon.core.hyper import grid, random_points
from kaon.core.jobs import (
    Bundle,
    Hyper,
    Job,
    JobFailure,
    JobId,
    JobState,
    ModelId,
    Resources,
    Trial,
    new_job_id,
)
from kaon.ports.executor import Executor
from kaon.ports.jobs import JobStore, TrialTally
from kaon.services.cluster import ClusterService
from kaon.services.jobaccess import JobAccess
from kaon.services.jobbuild import JobBuilder
from kaon.services.jobclaims import JobClaims
from kaon.services.joblog import JobLog
from kaon.services.joboutputs import JobOutputs
from kaon.services.jobrecord import KILLED, JobRecorder, interrupted, lost
from kaon.services.jobrun import TrialRunner
from kaon.services.trials import TrialOutcome, fingerprint
from kaon.services.workspaces import WorkspaceService

log = logging.getLogger("kaon.training")

__all__ = ["JobSteps", "TrainingService", "interrupted"]


@dataclass(frozen=True)
class JobSteps:
    """The lifecycle steps a job goes through, wired by the composition root (kaon.wiring)."""

    builder: JobBuilder  # BUILDING
    runner: TrialRunner  # RUNNING
    recorder: JobRecorder  # every state change, provenance
    outputs: JobOutputs  # models and logs → commits


class TrainingService:
    def __init__(
        self,
        jobs: JobStore,
        workspaces: WorkspaceService,
        steps: JobSteps,
        access: JobAccess,
        clock: Callable[[], float],
        cluster: ClusterService | None = None,
    ) -> None:
        self._claims = JobClaims(cluster)  # which server runs which job
        self._jobs = jobs
        self._workspaces = workspaces
        self._builder = steps.builder
        self._runner = steps.runner
        self._recorder = steps.recorder
        self._outputs = steps.outputs
        self._access = access  # each running job's own S3 keys and API token
        self._clock = clock
        self._cancel: dict[JobId, threading.Event] = {}
        self._threads: dict[JobId, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def _executor(self) -> Executor:
        return self._runner.executor

    # queries -----------------------------------------------------------------------------
    def get(self, ref: str) -> Job:
        job = self._jobs.get_job(JobId(ref)) if len(ref) == 32 else None
        if job is None:
            found = self._jobs.find_jobs(ref.lower(), limit=2) if len(ref) >= 4 else []
            if len(found) > 1:
                raise InvalidInput(f"job id prefix '{ref}' is ambiguous: give more characters")
            job = self._jobs.get_job(found[0]) if found else None
        if job is None:
            raise JobNotFound(f"there is no job with id '{ref}': see `kaon train list`")
        return job

    def workspaces_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        """The workspace of each of the jobs `job_ids` (full ids) that exists, in one read."""
        found = self._jobs.job_workspaces([JobId(i) for i in job_ids])
        return {str(i): str(w) for i, w in found.items()}

    def jobs(self, workspace: str, limit: int | None = None) -> list[Job]:
        """Newest first; the newest `limit` only when given."""
        return self._jobs.list_jobs(self._workspaces.get(workspace).name, limit=limit)

    def trials(self, job: Job) -> list[Trial]:
        return self._jobs.list_trials(job.id)

    def tally(self, jobs: Sequence[Job]) -> dict[str, TrialTally]:
        """Each job's trials counted (count, started, process time), none loaded."""
        found = self._jobs.tally_trials([j.id for j in jobs])
        return {j.id: found.get(j.id, TrialTally()) for j in jobs}

    def last_trials(self, job: Job, limit: int) -> list[Trial]:
        """The `limit` trials that finished last."""
        return self._jobs.last_trials(job.id, limit) if limit > 0 else []

    def model(
        self, workspace: str, model_id: ModelId, visible: Container[str] | None = None
    ) -> Trial:
        """The trial that produced `model_id` in `workspace` (model ids are content
        addresses: the same id trained elsewhere is another workspace's model; the 404
        names those of them in `visible`, by default all)."""
        ws = self._workspaces.get(workspace).name
        trial = self._jobs.find_model(ws, model_id)
        if trial is None:
            elsewhere = [
                w for w in self._jobs.model_workspaces(model_id) if visible is None or w in visible
            ]
            where = (
                f"it was trained in workspace{'s' if len(elsewhere) > 1 else ''} "
                f"{', '.join(repr(w) for w in elsewhere)}: train it "
                f"in '{ws}' or switch with `kaon workspace set -n {elsewhere[0]}`"
                if elsewhere
                else "see `kaon train list` and `kaon train info`"
            )
            raise ModelNotFound(f"there is no model '{model_id}' in workspace '{ws}': {where}")
        return trial

    def outputs(self, ref: str, indexes: Collection[int] | None = None) -> dict[str, Any]:
        """Every trial's model id and output files (path -> content hash), for comparisons;
        only the trials numbered `indexes` when given (a model of a search of 1,000)."""
        job = self.get(ref)
        out: dict[str, Any] = {"job": job.id, "state": job.state.value, "trials": []}
        wanted = None if indexes is None else set(indexes)
        for trial in self._jobs.list_trials(job.id):
            if wanted is not None and trial.index not in wanted:
                continue
            files = self._outputs.model_files(job, trial)
            out["trials"].append(
                {
                    "index": trial.index,
                    "state": trial.state.value,
                    "model_id": trial.model_id,
                    "params": trial.params,
                    "files": files,
                }
            )
        return out

    def log_path(self, job: Job, kind: str) -> Path:
        return self._outputs.log_path(job, kind)

    def read_log(self, job: Job, kind: str, offset: int) -> tuple[bytes, int]:
        return self._outputs.read_log(job, kind, offset)

    def read_log_tail(self, job: Job, kind: str, lines: int) -> tuple[bytes, int, int]:
        """The last `lines` lines of the log: (text, the offset it starts at, end offset)."""
        return self._outputs.read_log_tail(job, kind, lines)

    # commands ----------------------------------------------------------------------------
    def deploy(
        self,
        workspace: str,
        author: str,
        source: Bundle | None,
        data: Bundle | None,
        hyper: Hyper | None,
        resources: Resources,
        variables: dict[str, str] | None = None,
    ) -> tuple[Job, list[Trial]]:
        """Submit a job; source, data and --env variables not given are the workspace's
        latest (kaos' incremental development); a workspace that never had data gets the
        empty data bundle (the job reads over S3); hyperparameters apply only to the deploy
        that gives them, as in kaos. Returns at once: the job runs in the background."""
        ws = self._workspaces.get(workspace)
        current = ws.current
        if source is None and current.get("source"):
            source = Bundle.from_dict(current["source"])
        if data is None and current.get("data"):
            data = Bundle.from_dict(current["data"])
        if variables is None:
            variables = dict(current.get("variables") or {})
        if source is None:
            raise InvalidInput(
                f"workspace '{ws.name}' has no source (-s) bundle yet: give one to "
                "`kaon train deploy`"
            )
        if data is None:
            data = self._builder.no_data(ws.name, author)
        self._workspaces.set_current(
            ws.name,
            source=source.to_dict(),
            data=data.to_dict(),
            hyper=hyper.to_dict() if hyper else None,
            variables=variables,
        )
        job = Job(
            new_job_id(),
            ws.name,
            JobState.PENDING,
            self._clock(),
            author,
            source,
            data,
            hyper,
            resources,
            variables=variables,
        )
        trials = [Trial(job.id, i, p) for i, p in enumerate(self._points(hyper))]
        self._claims.claim(job.id)  # before it is recorded: no other server's recovery takes it
        self._jobs.add_job(job, trials)
        self._start(job)
        return job, trials

    def reproduce(self, ref: str, author: str) -> tuple[Job, list[Trial]]:
        """Run a finished job again from its recorded inputs: the same code and data commits,
        the same trials' parameters and the recorded environment lock (rebuilt if deleted)."""
        job = self.get(ref)
        if "lock" not in job.env:
            raise InvalidInput(
                f"job {job.id} never built its environment ({job.state.value}): nothing to reproduce"
            )
        missing = self._builder.missing(job)
        if missing:
            raise NotFound(
                f"job {job.id} cannot be reproduced: no longer available: " + "; ".join(missing)
            )
        pinned = {k: job.env[k] for k in ("lock_id", "lock", "python")}
        again = Job(
            new_job_id(),
            job.workspace,
            JobState.PENDING,
            self._clock(),
            author,
            job.source,
            job.data,
            job.hyper,
            job.resources,
            env={"pinned": pinned, "reproduces": job.id},
            variables=job.variables,
        )
        trials = [Trial(again.id, t.index, t.params) for t in self._jobs.list_trials(job.id)]
        self._claims.claim(again.id)
        self._jobs.add_job(again, trials)
        self._start(again)
        return again, trials

    def kill(self, ref: str) -> Job:
        job = self.get(ref)
        if job.state.finished:
            raise JobNotRunning(f"job {job.id} is not running (state {job.state.value})")
        with self._lock:
            cancel = self._cancel.get(job.id)
        if cancel is not None:
            cancel.set()
            thread = self._threads.get(job.id)
            if thread is not None:
                thread.join(timeout=30)
            job = self.get(job.id)
            if not job.state.finished:  # its thread did not end in time: mark it
                job = self._recorder.finish(job, JobState.KILLED, JobFailure.CANCELLED, KILLED)
            return job
        if not self._claims.take(job.id):
            where = self.runs_on(job.id)
            raise Conflict(
                f"job {job.id} runs on {where or 'another server'}, which did not answer: "
                "try again (a server that stopped has its jobs taken over within "
                f"{self._claims.ttl:g} s)"
            )
        try:  # no server runs it (it was never started, or its server is gone): mark it
            job = self.get(job.id)
            if not job.state.finished:
                job = self._recorder.finish(job, JobState.KILLED, JobFailure.CANCELLED, KILLED)
        finally:
            self._claims.release(job.id)
        return job

    def runs_on(self, job_id: str) -> str | None:
        """The URL of the other live server running `job_id` (None: here, or nowhere)."""
        return self._claims.runs_on(job_id)

    def recover(self) -> list[JobId]:
        """At start-up: fail honestly what a stop interrupted (its processes died with the
        platform), revoke the keys and API tokens of every job not running, restart what was
        queued. Jobs another live server runs (it holds their claims) are its own."""
        failed: list[JobId] = []
        for job in self._jobs.list_jobs(states=[JobState.BUILDING, JobState.RUNNING]):
            if not self._claims.take(job.id):
                continue
            what = "building" if job.state is JobState.BUILDING else "running"
            self._recorder.finish(job, JobState.FAILURE, JobFailure.INTERRUPTED, interrupted(what))
            self._claims.release(job.id)
            failed.append(job.id)
        # interrupted jobs never revoked their keys and tokens: now
        running = self._jobs.list_jobs(states=[JobState.BUILDING, JobState.RUNNING])
        self._access.revoke_stale({job.id for job in running})
        for job in reversed(self._jobs.list_jobs(states=[JobState.PENDING])):
            if self._claims.take(job.id):
                self._start(job)
        return failed

    def take_over(self, job_id: str) -> None:
        """The server running `job_id` died (this one holds its claim now): end it honestly
        as a restart would, naming the lost server, or run it here if it never started."""
        job = self._jobs.get_job(JobId(job_id))
        if job is None or job.state.finished:
            self._claims.release(job_id)
            return
        if job.state is JobState.PENDING:
            log.warning("job %s was queued on a server that stopped: running it here", job.id)
            self._start(job)
            return
        what = "building" if job.state is JobState.BUILDING else "running"
        where = self._claims.lost(job_id)
        self._recorder.finish(job, JobState.FAILURE, JobFailure.INTERRUPTED, lost(what, where))
        self._access.revoke(job)
        self._claims.release(job_id)
        log.warning("job %s was interrupted: %s stopped", job.id, where)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job's processes (the jobs are recovered as interrupted on restart)."""
        self._recorder.stopping()  # what it cancels ends JOB_FAILURE "interrupted", not KILLED
        with self._lock:
            events = list(self._cancel.values())
            threads = list(self._threads.values())
        for event in events:
            event.set()
        for thread in threads:
            thread.join(timeout=timeout)

    def wait(self, job_id: JobId, timeout: float | None = None) -> Job:
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    # the job thread ----------------------------------------------------------------------
    def _points(self, hyper: Hyper | None) -> list[dict[str, Any]]:
        if hyper is None:
            return [{}]
        if hyper.search == "grid":
            return grid(hyper.space)
        if hyper.search == "random":
            return random_points(hyper)
        return []  # optuna: asked for while the job runs

    def _start(self, job: Job) -> None:
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(job, cancel), name=f"job-{job.id[:8]}", daemon=True
        )
        with self._lock:
            self._cancel[job.id] = cancel
            self._threads[job.id] = thread
        thread.start()

    def _run(self, job: Job, cancel: threading.Event) -> None:
        build_log = JobLog(self._outputs.log_path(job, "build"))
        train_log = JobLog(self._outputs.log_path(job, "train"))
        recorder = self._recorder
        try:
            job = recorder.building(job)
            build = self._builder.build(job, build_log.write, cancel)
            recorded = {
                "lock_id": build.lock.id,
                "lock": build.lock.text,
                "python": build.lock.python,
                "platform": fingerprint(),
                "memory_limit": self._runner.describe_memory(job),
            } | {k: v for k, v in job.env.items() if k == "reproduces"}
            job = recorder.running(job, recorded)
            access = self._access.grant(job, train_log.write)
            outcomes = self._runner.run(job, build, access, train_log, cancel)
            self._ended(job, outcomes, cancel)
        except BuildFailed as exc:
            build_log.write(f"build failed: {exc.message}")
            if cancel.is_set():
                recorder.finish(job, *recorder.cancelled("building"))
            else:
                recorder.finish(
                    job, JobState.FAILURE, JobFailure.BUILD, f"build failed: {exc.message}"
                )
        except KaonError as exc:
            build_log.write(f"error: {exc.message}")
            bug = isinstance(exc, InvalidTransition)
            kind = JobFailure.INTERNAL if bug else JobFailure.INPUT
            recorder.finish(job, JobState.FAILURE, kind, exc.message)
        except Exception as exc:
            for line in traceback.format_exc().splitlines():
                build_log.write(line)
            log.exception("job %s failed", job.id)
            recorder.finish(
                job,
                JobState.FAILURE,
                JobFailure.INTERNAL,
                f"internal error: {exc} (see build logs)",
            )
        finally:
            self._access.revoke(job)
            self._outputs.keep_logs(job)
            with self._lock:
                self._cancel.pop(job.id, None)
            self._claims.release(job.id)

    def _ended(self, job: Job, outcomes: list[TrialOutcome], cancel: threading.Event) -> None:
        recorder = self._recorder
        if cancel.is_set():
            recorder.finish(job, *recorder.cancelled("running"))
        elif not outcomes:
            recorder.finish(job, JobState.FAILURE, JobFailure.RUN, "no trial ran")
        elif any(o.error for o in outcomes):
            bad = [o for o in outcomes if o.error]
            reason = (
                bad[0].error
                if len(outcomes) == 1
                else f"{len(bad)} of {len(outcomes)} trials failed: {bad[0].error}"
            )
            recorder.finish(job, JobState.FAILURE, bad[0].failure or JobFailure.RUN, reason)
        else:
            recorder.finish(job, JobState.SUCCESS, None, "")
