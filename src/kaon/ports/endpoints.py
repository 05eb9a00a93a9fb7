"""EndpointStore: the serving endpoints (versions) of the metadata database; ReleaseStore: the
named endpoints they are versions of, with their traffic."""

from __future__ import annotations

from typing import Any, Protocol

from kaon.core.endpoints import Endpoint
from kaon.core.jobs import WorkspaceName
from kaon.core.releases import Release


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

    def save_signature(self, name: str, signature: dict[str, Any], declared: bool) -> bool:
        """Store version `name`'s OIP signature (kaon.core.signatures): `declared` (its bundle
        says) replaces any; learned (its first request) only when it has none, so the first
        server to learn it wins. True when stored."""
        ...

    def get_signature(self, name: str) -> dict[str, Any] | None:
        """Version `name`'s stored signature, or None."""
        ...


class ReleaseStore(Protocol):
    """Named endpoints (kaon.core.releases): one row per release name, platform-wide."""

    def add_release(self, release: Release) -> None:
        """Record a new release; AlreadyExists when its name is taken (two deploys racing for
        one name: exactly one adds it), WorkspaceNotFound when its workspace is gone."""
        ...

    def save_release(self, release: Release) -> None:
        """Store the release's new traffic and document (an unknown name is ignored)."""
        ...

    def get_release(self, name: str) -> Release | None:
        """None when there is no such release."""
        ...

    def list_releases(self, workspace: WorkspaceName | None = None) -> list[Release]:
        """By name; all workspaces when `workspace` is None."""
        ...
