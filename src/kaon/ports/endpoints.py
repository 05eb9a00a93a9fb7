"""EndpointStore: the serving endpoints of the metadata database."""

from __future__ import annotations

from typing import Protocol

from kaon.core.endpoints import Endpoint
from kaon.core.jobs import WorkspaceName


class EndpointStore(Protocol):
    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Record a new endpoint (its workspace exists; its name is not taken)."""
        ...

    def save_endpoint(self, endpoint: Endpoint) -> None:
        """Store the endpoint's new state and document (an unknown name is ignored)."""
        ...

    def get_endpoint(self, name: str) -> Endpoint | None:
        """None when there is no such endpoint."""
        ...

    def list_endpoints(self, workspace: WorkspaceName | None = None) -> list[Endpoint]:
        """Newest first (then by name); all workspaces when `workspace` is None."""
        ...
