"""The audit log's records: an entry (who did what to what, and how it ended) and a query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    """One write or permission change: who did what to what, and how it ended."""

    at: float
    user: str  # the user ("" for an unauthenticated request)
    action: str  # e.g. "PUT /v1/repos/images/branches/master", "workspace.share"
    target: str  # what it touched: a workspace, repo, endpoint, job, user
    workspace: str | None = None
    status: int = 0  # the HTTP status it answered (0: not an HTTP request)
    detail: str = ""  # JSON object with anything else worth keeping
    id: int = 0  # assigned by the store, increasing


@dataclass(frozen=True)
class AuditQuery:
    user: str | None = None
    workspace: str | None = None
    action: str | None = None  # substring of the action
    since: float | None = None
    until: float | None = None
    limit: int = 100
    # a reader who is no admin: only `viewer`'s own entries and those of the `owned` workspaces
    viewer: str | None = None
    owned: tuple[str, ...] = ()
