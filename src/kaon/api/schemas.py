"""Wire types (Pydantic lives here only)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RepoCreate(BaseModel):
    name: str
    description: str = ""


class RepoOut(BaseModel):
    name: str
    created: float
    description: str
    size: int
    branches: list[str]


class BranchSet(BaseModel):
    head: str | None = Field(None, description="a ref (branch, commit, branch^); null: no head")


class BranchOut(BaseModel):
    repo: str
    name: str
    head: str | None


class CommitOut(BaseModel):
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


class PutIn(BaseModel):
    path: str
    size: int = Field(ge=0)
    chunks: list[tuple[str, int]]


class CommitHeader(BaseModel):
    branch: str = "master"
    message: str = ""
    author: str = ""
    started: float | None = None
    deletes: list[str] = []
    base: str | None = Field(
        None, description="commit the puts are relative to; 409 base_moved if the head moved"
    )


class CommitIn(CommitHeader):
    """The documented body of POST /v1/repos/{repo}/commits (puts are parsed by the service)."""

    puts: list[PutIn] = []


class FileOut(BaseModel):
    path: str
    type: str
    size: int
    commit: str | None = None
    committed: float | None = None


class ChangeOut(BaseModel):
    path: str
    kind: str
    old_size: int | None
    new_size: int | None


class DigestsIn(BaseModel):
    digests: list[str]


class MissingOut(BaseModel):
    missing: list[str]


class PackOut(BaseModel):
    pack: str
    chunks: int
    bytes: int


class GcOut(BaseModel):
    packs_deleted: int
    packs_rewritten: int
    chunks_dropped: int
    trees_deleted: int
    commits_deleted: int
    bytes_freed: int


class HealthOut(BaseModel):
    status: str
    version: str
