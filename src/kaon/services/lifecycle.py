"""WorkspaceLifecycle: the use cases that span a workspace's services — create it with its
creator as owner; kill what runs in it, then delete it with its repos, jobs and models.

WorkspaceService cannot do these itself: training and serving depend on it, not it on them.
"""

from __future__ import annotations

from kaon.core.endpoints import EndpointState
from kaon.core.jobs import ACTIVE_STATES
from kaon.core.users import Principal
from kaon.core.workspaces import Workspace
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
    ) -> None:
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
                self._serving.kill(endpoint.name)
        self._workspaces.delete(ws.name)
