"""MemoryJobStore: the JobStore port (jobs and their trials) over the shared in-memory tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kaon.core.errors import AlreadyExists, NotFound, WorkspaceNotFound
from kaon.core.ids import is_hex
from kaon.core.jobs import Job, JobId, JobState, ModelId, Trial, WorkspaceName
from kaon.memory.tables import Tables, detached
from kaon.ports.jobs import TrialTally


class MemoryJobStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_job(self, job: Job, trials: Sequence[Trial]) -> None:
        with self._t.lock:
            if job.workspace not in self._t.workspaces:
                raise WorkspaceNotFound(f"workspace '{job.workspace}' does not exist")
            if job.id in self._t.jobs:
                raise AlreadyExists(f"job {job.id} already exists", job=job.id)
            self._t.jobs[job.id] = detached(job)
            self._t.trials[job.id] = {}
            self._add_trials(trials)

    def save_job(self, job: Job) -> None:
        with self._t.lock:
            old = self._t.jobs.get(job.id)
            if old is not None:  # its workspace and creation time stay
                kept = dataclasses.replace(job, workspace=old.workspace, created=old.created)
                self._t.jobs[job.id] = detached(kept)

    def get_job(self, job_id: JobId) -> Job | None:
        with self._t.lock:
            return detached(self._t.jobs.get(job_id))

    def job_workspaces(self, job_ids: Sequence[JobId]) -> dict[JobId, WorkspaceName]:
        with self._t.lock:
            return {i: self._t.jobs[i].workspace for i in job_ids if i in self._t.jobs}

    def find_jobs(self, prefix: str, limit: int = 2) -> list[JobId]:
        if not prefix or not is_hex(prefix):
            return []
        with self._t.lock:
            return sorted(i for i in self._t.jobs if i.startswith(prefix))[: max(0, limit)]

    def list_jobs(
        self,
        workspace: WorkspaceName | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[Job]:
        with self._t.lock:
            found = [
                j
                for j in self._t.jobs.values()
                if (workspace is None or j.workspace == workspace)
                and (not states or j.state in states)
            ]
            found.sort(key=lambda j: (-j.created, j.id))
            return detached(found if limit is None else found[: max(0, limit)])

    def add_trials(self, trials: Sequence[Trial]) -> None:
        with self._t.lock:
            self._add_trials(trials)

    def _add_trials(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            of_job = self._t.trials.get(trial.job)
            if of_job is None:
                raise NotFound(f"job {trial.job} not found", job=trial.job)
            if trial.index in of_job:
                raise AlreadyExists(f"trial {trial.index} of job {trial.job} already exists")
        for trial in trials:
            self._t.trials[trial.job][trial.index] = detached(trial)

    def save_trial(self, trial: Trial) -> None:
        with self._t.lock:
            of_job = self._t.trials.get(trial.job, {})
            if trial.index in of_job:
                of_job[trial.index] = detached(trial)

    def list_trials(self, job_id: JobId) -> list[Trial]:
        with self._t.lock:
            of_job = self._t.trials.get(job_id, {})
            return detached([of_job[i] for i in sorted(of_job)])

    def tally_trials(self, job_ids: Sequence[JobId]) -> dict[JobId, TrialTally]:
        with self._t.lock:
            found: dict[JobId, TrialTally] = {}
            for job_id in job_ids:
                trials = list(self._t.trials.get(job_id, {}).values())
                if trials:
                    ran = [t for t in trials if t.started is not None]
                    process = sum(
                        (t.finished or t.started or 0.0) - (t.started or 0.0) for t in ran
                    )
                    found[job_id] = TrialTally(len(trials), len(ran), float(process))
            return found

    def last_trials(self, job_id: JobId, limit: int) -> list[Trial]:
        with self._t.lock:
            of_job = self._t.trials.get(job_id, {})
            ordered = sorted(of_job.values(), key=lambda t: (-(t.finished or 0.0), t.index))
            return detached(ordered[: max(0, limit)])

    def find_model(self, workspace: WorkspaceName, model_id: ModelId) -> Trial | None:
        with self._t.lock:
            found = [
                (-job.created, job.id, trial.index, trial)
                for job in self._t.jobs.values()
                if job.workspace == workspace
                for trial in self._t.trials.get(job.id, {}).values()
                if trial.model_id == model_id
            ]
            return detached(min(found, key=lambda f: f[:3])[3]) if found else None

    def model_workspaces(self, model_id: ModelId) -> list[WorkspaceName]:
        with self._t.lock:
            return sorted(
                {
                    self._t.jobs[job].workspace
                    for job, of_job in self._t.trials.items()
                    if any(t.model_id == model_id for t in of_job.values())
                }
            )
