"""JobRecorder: a job's and its trials' state changes, each a move its lifecycle allows
(kaon.core.jobs), saved as it happens, with the provenance of what ran and what it made."""

from __future__ import annotations

import threading
from collections.abc import Callable

from kaon.core.jobs import Job, JobFailure, JobState, Trial
from kaon.ports.jobs import JobStore
from kaon.services.provenance import ProvenanceService

KILLED = "killed by request"


def interrupted(what: str) -> str:
    """The reason of a job a platform stop interrupted while it was `what` (building, running)."""
    return (
        f"interrupted: the platform stopped while the job was {what}; "
        "submit it again with `kaon train deploy`"
    )


def lost(what: str, server: str) -> str:
    """The reason of a job whose server died while it was `what`, ended by another server."""
    return (
        f"interrupted: {server}, which ran the job, stopped while the job was {what}; "
        "submit it again with `kaon train deploy`"
    )


class JobRecorder:
    def __init__(
        self, jobs: JobStore, provenance: ProvenanceService, clock: Callable[[], float]
    ) -> None:
        self._jobs = jobs
        self._provenance = provenance
        self._clock = clock
        self._stopping = threading.Event()  # set by `stopping`: cancelled jobs were interrupted

    def stopping(self) -> None:
        """The platform stops: what is cancelled from now on ends FAILURE "interrupted"."""
        self._stopping.set()

    def cancelled(self, what: str) -> tuple[JobState, JobFailure, str]:
        """How a cancelled job ends: KILLED by `kaon train kill`, FAILURE "interrupted" when the
        platform stops (`kaon down`), as a crash is reported at the next start."""
        if self._stopping.is_set():
            return JobState.FAILURE, JobFailure.INTERRUPTED, interrupted(what)
        return JobState.KILLED, JobFailure.CANCELLED, KILLED

    def now(self) -> float:
        return self._clock()

    def save(self, job: Job) -> Job:
        self._jobs.save_job(job)
        return job

    def save_trial(self, trial: Trial) -> Trial:
        self._jobs.save_trial(trial)
        return trial

    def building(self, job: Job) -> Job:
        return self.save(job.moved(JobState.BUILDING, started=self._clock()))

    def running(self, job: Job, env: dict[str, object]) -> Job:
        job = self.save(job.moved(JobState.RUNNING, env=env))
        self._provenance.job_started(job, self._jobs.list_trials(job.id))
        return job

    def trials(self, job: Job) -> list[Trial]:
        return self._jobs.list_trials(job.id)

    def trials_added(self, job: Job, trials: list[Trial]) -> None:
        """Trials asked for while the job runs (an optuna search)."""
        self._jobs.add_trials(trials)
        self._provenance.job_started(job, trials)

    def trial_started(self, trial: Trial) -> Trial:
        return self.save_trial(trial.moved(JobState.RUNNING, started=self._clock()))

    def trial_ended(
        self,
        trial: Trial,
        state: JobState,
        failure: JobFailure | None,
        reason: str,
        exit_code: int | None = None,
    ) -> Trial:
        return self.save_trial(
            trial.moved(
                state, finished=self._clock(), exit_code=exit_code, reason=reason, failure=failure
            )
        )

    def model_made(self, job: Job, trial: Trial, **model: object) -> Trial:
        done = self.save_trial(
            trial.moved(JobState.SUCCESS, finished=self._clock(), exit_code=0, **model)
        )
        self._provenance.model_produced(job, done)
        return done

    def finish(self, job: Job, state: JobState, failure: JobFailure | None, reason: str) -> Job:
        """End `job` (and its unfinished trials) in `state`; a job already ended (by a kill
        that did not wait for its thread) keeps how it ended first."""
        current = self._jobs.get_job(job.id) or job
        if current.state.finished:
            return current
        now = self._clock()
        for trial in self._jobs.list_trials(job.id):
            if not trial.state.finished:
                mark = JobState.KILLED if state is JobState.KILLED else JobState.FAILURE
                self.save_trial(
                    trial.moved(mark, finished=now, reason=reason or "not run", failure=failure)
                )
        done = current.moved(
            state, finished=now, reason=reason, started=current.started or now, failure=failure
        )
        return self.save(done)
