"""MemoryWorkspaceStore: the WorkspaceStore port over the shared in-memory tables."""

from __future__ import annotations

import dataclasses
from typing import Any

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.memory.tables import Tables, detached
from kaon.ports.workspaces import Workspace


class MemoryWorkspaceStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def create_workspace(self, workspace: Workspace) -> None:
        with self._t.lock:
            if workspace.name in self._t.workspaces:
                raise AlreadyExists(
                    f"workspace '{workspace.name}' already exists: use `kaon workspace set -n "
                    f"{workspace.name}`"
                )
            self._t.workspaces[workspace.name] = detached(workspace)

    def get_workspace(self, name: WorkspaceName) -> Workspace | None:
        with self._t.lock:
            return detached(self._t.workspaces.get(name))

    def list_workspaces(self) -> list[Workspace]:
        with self._t.lock:
            return detached(sorted(self._t.workspaces.values(), key=lambda w: w.name))

    def set_current(self, name: WorkspaceName, current: dict[str, Any]) -> None:
        with self._t.lock:
            workspace = self._t.workspaces.get(name)
            if workspace is None:
                raise WorkspaceNotFound(f"workspace '{name}' does not exist")
            moved = dataclasses.replace(workspace, current=detached(current))
            self._t.workspaces[name] = moved

    def delete_workspace(self, name: WorkspaceName) -> None:
        with self._t.lock:
            self._t.drop_workspace(name)
