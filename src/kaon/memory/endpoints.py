"""MemoryEndpointStore: the EndpointStore port over the shared in-memory tables."""

from __future__ import annotations

from typing import Any

from kaon.core.endpoints import Endpoint
from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.memory.tables import Tables, detached


class MemoryEndpointStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_endpoint(self, endpoint: Endpoint) -> None:
        with self._t.lock:
            if endpoint.workspace not in self._t.workspaces:
                raise WorkspaceNotFound(f"workspace '{endpoint.workspace}' does not exist")
            if endpoint.name in self._t.endpoints:
                raise AlreadyExists(f"endpoint {endpoint.name!r} already exists")
            self._t.endpoints[endpoint.name] = detached(endpoint)

    def save_endpoint(self, endpoint: Endpoint) -> None:
        with self._t.lock:
            if endpoint.name in self._t.endpoints:
                self._t.endpoints[endpoint.name] = detached(endpoint)

    def get_endpoint(self, name: str) -> Endpoint | None:
        with self._t.lock:
            return detached(self._t.endpoints.get(name))

    def list_endpoints(self, workspace: WorkspaceName | None = None) -> list[Endpoint]:
        with self._t.lock:
            found = [
                e
                for e in self._t.endpoints.values()
                if workspace is None or e.workspace == workspace
            ]
            return detached(sorted(found, key=lambda e: (-e.created, e.name)))

    def save_signature(self, name: str, signature: dict[str, Any], declared: bool) -> bool:
        with self._t.lock:
            if name not in self._t.endpoints:
                return False
            found = self._t.signatures.get(name)
            if found is not None and not declared:
                return False
            self._t.signatures[name] = (declared, detached(signature))
            return True

    def get_signature(self, name: str) -> dict[str, Any] | None:
        with self._t.lock:
            found = self._t.signatures.get(name)
            return None if found is None else detached(found[1])
