"""Wire types of data: repos, branches, commits, files, diffs, uploads (chunks, packs,
stagings), and the platform's own answers (health, gc, errors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass

from kaon.wire.base import (
    BRANCH,
    DIGEST,
    FILE_PATH,
    LEASE,
    LEASE_DOC,
    REF,
    REPO,
    Answer,
    Strict,
    checked,
)

# -- the platform ---------------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error answer of the API (kaon.core.errors)."""  # `Error` in the spec

    code: str = Field(description="stable machine-readable code, e.g. repo_not_found")
    message: str = Field(description="one line for people: what failed, where, what to do")
    details: dict[str, Any] = Field(description="more, per code (missing_chunks: `missing`)")


@dataclass(frozen=True)
class HealthOut(Answer):
    status: str
    version: str


@dataclass(frozen=True)
class GcReport(Answer):
    packs_deleted: int
    packs_rewritten: int
    chunks_dropped: int
    trees_deleted: int
    commits_deleted: int
    bytes_freed: int


# -- repos and branches ---------------------------------------------------------------------


class RepoCreate(BaseModel):
    name: str = checked(pattern=REPO)
    description: str = ""


@dataclass(frozen=True)
class RepoInfo(Answer):
    name: str
    created: float
    description: str
    size: int
    branches: list[str]


class BranchSet(BaseModel):
    head: str | None = checked(
        None, description="a ref (branch, commit, branch^); null: no head", pattern=REF
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


class PutIn(BaseModel):
    path: str = checked(pattern=FILE_PATH)
    size: int = Field(ge=0)
    chunks: list[tuple[str, int]] = checked(
        items={
            "type": "array",
            "prefixItems": [
                {"type": "string", "pattern": DIGEST},
                {"type": "integer", "minimum": 0},
            ],
            "minItems": 2,
            "maxItems": 2,
        }
    )


class CommitHeader(Strict):
    """The commit's author is the caller (its token's user), never a field of the request."""

    branch: str = checked("master", pattern=BRANCH)
    message: str = ""
    started: float | None = None
    deletes: list[str] = checked([], items={"type": "string", "pattern": FILE_PATH})
    base: str | None = Field(
        None, description="commit the puts are relative to; 409 base_moved if the head moved"
    )
    staged: str | None = Field(
        None, description="a staging of this repo and branch whose puts the commit includes"
    )


class CommitIn(CommitHeader):
    """The documented body of POST /v1/repos/{repo}/commits (puts are parsed by the service)."""

    model_config = {
        "json_schema_extra": {  # something to commit: puts, deletes, staged puts, or a base
            "anyOf": [
                {"required": ["puts"], "properties": {"puts": {"minItems": 1}}},
                {"required": ["deletes"], "properties": {"deletes": {"minItems": 1}}},
                {"required": ["staged"], "properties": {"staged": {"type": "string"}}},
                {"required": ["base"], "properties": {"base": {"type": "string"}}},
            ]
        }
    }

    puts: list[PutIn] = []


class StagingIn(BaseModel):
    branch: str = checked("master", pattern=BRANCH)


@dataclass(frozen=True)
class StagingOut(Answer):
    id: str


class StagedIn(BaseModel):
    """The documented body of POST /v1/repos/{repo}/stagings/{id} (parsed by the service)."""

    puts: list[PutIn] = []


@dataclass(frozen=True)
class StagedOut(Answer):
    files: int  # files staged so far


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
    meta: dict[str, str] | None = Field(default=None, exclude_if=_no_meta)


@dataclass(frozen=True)
class Change(Answer):
    path: str
    kind: str
    old_size: int | None
    new_size: int | None


class LocalContentIn(BaseModel):
    ref: str = "master"
    path: str
    token: str  # the drop folder's: proves the client runs on the server's machine


@dataclass(frozen=True)
class LocalContentOut(Answer):
    commit: str
    size: int
    chunks: list[tuple[str, int, int, int, int]]  # file, offset, stored and raw length, codec


# -- chunks and packs -----------------------------------------------------------------------


class DigestsIn(BaseModel):
    digests: list[str] = checked(items={"type": "string", "pattern": DIGEST})
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


@dataclass(frozen=True)
class MissingOut(Answer):
    missing: list[str]


@dataclass(frozen=True)
class DropOut(Answer):
    dir: str


class DroppedPackIn(BaseModel):
    name: str
    token: str
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


class LocalFileIn(BaseModel):
    path: str
    size: int
    mtime_ns: int
    inode: int
    start: int = 0
    limit: int | None = None
    token: str
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


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
