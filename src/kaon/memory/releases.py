"""MemoryReleaseStore: the ReleaseStore port over the shared in-memory tables."""

from __future__ import annotations

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.releases import Release
from kaon.memory.tables import Tables, detached


class MemoryReleaseStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_release(self, release: Release) -> None:
        with self._t.lock:
            if release.workspace not in self._t.workspaces:
                raise WorkspaceNotFound(f"workspace '{release.workspace}' does not exist")
            if release.name in self._t.releases:
                raise AlreadyExists(f"endpoint {release.name!r} already exists")
            self._t.releases[release.name] = detached(release)

    def save_release(self, release: Release) -> None:
        with self._t.lock:
            if release.name in self._t.releases:
                self._t.releases[release.name] = detached(release)

    def get_release(self, name: str) -> Release | None:
        with self._t.lock:
            return detached(self._t.releases.get(name))

    def list_releases(self, workspace: WorkspaceName | None = None) -> list[Release]:
        with self._t.lock:
            found = [
                r
                for r in self._t.releases.values()
                if workspace is None or r.workspace == workspace
            ]
            return detached(sorted(found, key=lambda r: r.name))
