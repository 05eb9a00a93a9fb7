"""Wire types of data: repos, branches, commits, files, diffs, uploads (chunks, packs,
stagings), and the platform's own answers (health, gc, errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kaon.core.backends import BackendRole
from kaon.wire.base import Answer, doc

# -- the platform ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorOut(Answer):
    """Every error answer of the API (kaon.core.errors)."""  # `Error` in the spec

    code: str = field(metadata=doc("stable machine-readable code, e.g. repo_not_found"))
    message: str = field(metadata=doc("one line for people: what failed, where, what to do"))
    details: dict[str, Any] = field(metadata=doc("more, per code (missing_chunks: `missing`)"))


@dataclass(frozen=True)
class HealthOut(Answer):
    status: str
    version: str


@dataclass(frozen=True)
class BackendOut(Answer):
    """One engine the platform runs on, as this server sees it now."""

    role: BackendRole = field(metadata=doc("database, store, executor or replicas"))
    url: str = field(metadata=doc("where it is, passwords and secret keys shown as ***"))
    ok: bool = field(metadata=doc("whether it answered just now"))
    version: str = field(metadata=doc("its own version, e.g. PostgreSQL 15.18 (or empty)"))
    detail: str = field(metadata=doc("why it is not ok (what to do), or more about it"))


@dataclass(frozen=True)
class StatusOut(Answer):
    """`GET /v1/status`: the server that answered and the engines behind it."""

    status: str = field(metadata=doc("ok, or degraded when an engine does not answer"))
    version: str = field(metadata=doc("the server's kaon version"))
    server: str = field(metadata=doc("the answering server's URL among those sharing the data"))
    backends: list[BackendOut] = field(metadata=doc("database, store, executor, replicas"))


@dataclass(frozen=True)
class GcReport(Answer):
    packs_deleted: int
    packs_rewritten: int
    chunks_dropped: int
    trees_deleted: int
    commits_deleted: int
    bytes_freed: int


# -- repos and branches ---------------------------------------------------------------------


@dataclass(frozen=True)
class RepoInfo(Answer):
    name: str
    created: float
    description: str
    size: int
    branches: list[str]
    head: CommitInfo | None = field(
        default=None,
        metadata=doc("the last commit of master (else of the first branch); none before any"),
    )


@dataclass(frozen=True)
class BranchInfo(Answer):
    repo: str
    name: str
    head: str | None


# -- commits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitInfo(Answer):
    id: str
    repo: str
    branch: str
    parent: str | None
    tree: str | None
    size: int
    count: int
    message: str
    author: str
    started: float
    finished: float

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class StagingOut(Answer):
    id: str


@dataclass(frozen=True)
class StagedOut(Answer):
    files: int  # rows staged so far (a path staged twice counts twice)


# -- files ----------------------------------------------------------------------------------


def _no_meta(meta: dict[str, str] | None) -> bool:
    return not meta


@dataclass(frozen=True)
class FileInfo(Answer):
    path: str
    type: str
    size: int
    commit: str | None = None
    committed: float | None = None
    # S3 object metadata (Content-Type, x-amz-meta-*, ...): left out of the answer when none
    meta: dict[str, str] | None = field(default=None, metadata={"exclude_if": _no_meta})


@dataclass(frozen=True)
class Change(Answer):
    path: str
    kind: str
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class FileRevision(Answer):
    """A commit that changed a file (or a folder), with what the commit list shows of it."""

    commit: str
    kind: str = field(metadata=doc("added, modified or removed (by this commit)"))
    size: int | None = field(metadata=doc("the size after this commit; null once removed"))
    message: str
    author: str
    finished: float


@dataclass(frozen=True)
class FileHistoryOut(Answer):
    """A page of a path's history, newest first."""

    path: str
    revisions: list[FileRevision]
    next: str | None = field(
        metadata=doc("the commit to go on from (the next page's `ref`); null at the first commit")
    )


@dataclass(frozen=True)
class LocalContentOut(Answer):
    commit: str
    size: int
    chunks: list[tuple[str, int, int, int, int]]  # file, offset, stored and raw length, codec


# -- chunks and packs -----------------------------------------------------------------------


@dataclass(frozen=True)
class MissingOut(Answer):
    missing: list[str]


@dataclass(frozen=True)
class DropOut(Answer):
    dir: str


@dataclass(frozen=True)
class LocalFileOut(Answer):
    chunks: list[tuple[str, int]]
    consumed: int
    new_chunks: int
    new_bytes: int


@dataclass(frozen=True)
class PackOut(Answer):
    pack: str
    chunks: int
    bytes: int
