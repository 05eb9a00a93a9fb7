"""WorkspaceStore: the workspaces of the metadata database (a name, its author, its latest
source/data/hyper bundles)."""

from __future__ import annotations

from typing import Any, Protocol

from kaon.core.jobs import WorkspaceName
from kaon.core.workspaces import Workspace as Workspace  # re-exported: the store speaks it


class WorkspaceStore(Protocol):
    def create_workspace(self, workspace: Workspace) -> None:
        """Raises AlreadyExists when the name is taken."""
        ...

    def get_workspace(self, name: WorkspaceName) -> Workspace | None:
        """None when there is no such workspace."""
        ...

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace, sorted by name."""
        ...

    def set_current(self, name: WorkspaceName, current: dict[str, Any]) -> None:
        """Replace the workspace's latest bundles; WorkspaceNotFound when there is none."""
        ...

    def delete_workspace(self, name: WorkspaceName) -> None:
        """Also deletes the workspace's jobs with their trials, its endpoints and its members'
        roles; an unknown name is ignored."""
        ...
