"""JobStore: training jobs and their trials (metadata database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kaon.core.jobs import Job, JobId, JobState, ModelId, Trial, WorkspaceName
from kaon.ports.workspaces import Workspace as Workspace  # re-exported: the store speaks it


@dataclass(frozen=True)
class TrialTally:
    """A job's trials counted, without loading them: how many, how many started (ran), and
    the seconds they ran together (a running trial counts none yet)."""

    count: int = 0
    started: int = 0
    process: float = 0.0


class JobStore(Protocol):
    def add_job(self, job: Job, trials: Sequence[Trial]) -> None:
        """Record a new job (its workspace exists) with its first trials, atomically."""
        ...

    def save_job(self, job: Job) -> None:
        """Store the job's new state and document (an unknown id is ignored)."""
        ...

    def get_job(self, job_id: JobId) -> Job | None:
        """None when there is no such job."""
        ...

    def job_workspaces(self, job_ids: Sequence[JobId]) -> dict[JobId, WorkspaceName]:
        """The workspace of each of `job_ids` that exists, in one read (not one per job)."""
        ...

    def find_jobs(self, prefix: str, limit: int = 2) -> list[JobId]:
        """Ids of jobs starting with `prefix` (at most `limit`); none for an empty or non-hex
        prefix."""
        ...

    def list_jobs(
        self,
        workspace: WorkspaceName | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[Job]:
        """Newest first (then by id); all workspaces when `workspace` is None, every state
        when `states` is empty; the first `limit` only when given."""
        ...

    def add_trials(self, trials: Sequence[Trial]) -> None:
        """Record more trials of existing jobs."""
        ...

    def save_trial(self, trial: Trial) -> None:
        """Store the trial's new state, model and document (unknown trials are ignored)."""
        ...

    def list_trials(self, job_id: JobId) -> list[Trial]:
        """The job's trials by index (none for an unknown job)."""
        ...

    def tally_trials(self, job_ids: Sequence[JobId]) -> dict[JobId, TrialTally]:
        """Each job's trials counted, in one read that loads none of them (a job without
        trials, or unknown, is left out)."""
        ...

    def last_trials(self, job_id: JobId, limit: int) -> list[Trial]:
        """The `limit` trials of the job that finished last (then those still unfinished, by
        index), loading no others."""
        ...

    def find_model(self, workspace: WorkspaceName, model_id: ModelId) -> Trial | None:
        """A trial of a job in `workspace` that produced `model_id` (the newest job's); model
        ids are content addresses, so the same id can exist in several workspaces."""
        ...

    def model_workspaces(self, model_id: ModelId) -> list[WorkspaceName]:
        """The workspaces where `model_id` was produced, sorted."""
        ...
