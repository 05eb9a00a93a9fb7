"""JobStore: workspaces, training jobs and their trials, endpoints (metadata database)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kaon.core.endpoints import Endpoint
from kaon.core.jobs import Job, JobId, JobState, ModelId, Trial, WorkspaceName
from kaon.core.workspaces import Workspace as Workspace  # re-exported: the store speaks it


class JobStore(Protocol):
    def create_workspace(self, workspace: Workspace) -> None:
        """Raises AlreadyExists when the name is taken."""
        ...

    def get_workspace(self, name: WorkspaceName) -> Workspace | None: ...

    def list_workspaces(self) -> list[Workspace]: ...

    def set_current(self, name: WorkspaceName, current: dict[str, Any]) -> None: ...

    def delete_workspace(self, name: WorkspaceName) -> None:
        """Also deletes the workspace's jobs and trials."""
        ...

    def add_job(self, job: Job, trials: Sequence[Trial]) -> None: ...

    def save_job(self, job: Job) -> None: ...

    def get_job(self, job_id: JobId) -> Job | None: ...

    def find_jobs(self, prefix: str, limit: int = 2) -> list[JobId]: ...

    def list_jobs(
        self, workspace: WorkspaceName | None = None, states: Sequence[JobState] = ()
    ) -> list[Job]:
        """Newest first; all workspaces when `workspace` is None."""
        ...

    def add_trials(self, trials: Sequence[Trial]) -> None: ...

    def save_trial(self, trial: Trial) -> None: ...

    def list_trials(self, job_id: JobId) -> list[Trial]: ...

    def find_model(self, workspace: WorkspaceName, model_id: ModelId) -> Trial | None:
        """A trial of a job in `workspace` that produced `model_id` (the newest job's); model
        ids are content addresses, so the same id can exist in several workspaces."""
        ...

    def model_workspaces(self, model_id: ModelId) -> list[WorkspaceName]:
        """The workspaces where `model_id` was produced, sorted."""
        ...

    def close(self) -> None: ...

    # endpoints ---------------------------------------------------------------------------
    def add_endpoint(self, endpoint: Endpoint) -> None: ...

    def save_endpoint(self, endpoint: Endpoint) -> None: ...

    def get_endpoint(self, name: str) -> Endpoint | None: ...

    def list_endpoints(self, workspace: WorkspaceName | None = None) -> list[Endpoint]:
        """Newest first; all workspaces when `workspace` is None."""
        ...
