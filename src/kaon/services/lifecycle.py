"""Use cases at the start and end of a life that span services.

WorkspaceLifecycle: create a workspace with its creator as owner; kill what runs in it, then
delete it with its repos, jobs and models (WorkspaceService cannot: training and serving depend
on it, not it on them). UserLifecycle: remove a user, then every S3 key acting for them.
"""

from __future__ import annotations

from kaon.core.endpoints import EndpointState
from kaon.core.jobs import ACTIVE_STATES
from kaon.core.users import Principal
from kaon.core.workspaces import Workspace
from kaon.services.notebooks import NotebookService
from kaon.services.s3.credentials import CredentialService
from kaon.services.serving import ServingService
from kaon.services.training import TrainingService
from kaon.services.users import UserService
from kaon.services.workspaces import WorkspaceService


class WorkspaceLifecycle:
    def __init__(
        self,
        workspaces: WorkspaceService,
        users: UserService,
        training: TrainingService,
        serving: ServingService,
        notebooks: NotebookService | None = None,
    ) -> None:
        self._notebooks = notebooks
        self._workspaces = workspaces
        self._users = users
        self._training = training
        self._serving = serving

    def create(self, name: str, creator: Principal) -> Workspace:
        """Create workspace `name`; `creator` becomes its owner."""
        ws = self._workspaces.create(name, creator.user)
        self._users.grant_creator(ws.name, creator)
        return ws

    def kill(self, name: str) -> None:
        """Kill the workspace's running jobs and its endpoints not killed yet, then delete its
        repos, jobs and models."""
        ws = self._workspaces.get(name)
        for job in self._training.jobs(ws.name):
            if job.state in ACTIVE_STATES:
                self._training.kill(job.id)
        for endpoint in self._serving.endpoints(ws.name):
            if endpoint.state is not EndpointState.KILLED:
                self._serving.kill(endpoint.release_name)  # every version of it
        if self._notebooks is not None:
            self._notebooks.stop_workspace(ws.name)  # its repos go: nothing to keep them in
        self._workspaces.delete(ws.name)


class UserLifecycle:
    def __init__(self, users: UserService, credentials: CredentialService) -> None:
        self._users = users
        self._credentials = credentials

    def remove(self, name: str) -> None:
        """Remove user `name` with their tokens and roles (never the last admin), then revoke
        every S3 key acting for them (theirs and their jobs')."""
        self._users.remove(name)
        self._credentials.revoke_user(name)
