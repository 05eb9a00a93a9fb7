"""Wire types (Pydantic lives here only)."""

from __future__ import annotations

from typing import Any

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
    staged: str | None = Field(
        None, description="a staging of this repo and branch whose puts the commit includes"
    )


class StagingIn(BaseModel):
    branch: str = "master"


class StagingOut(BaseModel):
    id: str


class StagedOut(BaseModel):
    files: int  # files staged so far


class StagedIn(BaseModel):
    """The documented body of POST /v1/repos/{repo}/stagings/{id} (parsed by the service)."""

    puts: list[PutIn] = []


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


class DropOut(BaseModel):
    dir: str


class DroppedPackIn(BaseModel):
    name: str
    token: str


class LocalFileIn(BaseModel):
    path: str
    size: int
    mtime_ns: int
    inode: int
    start: int = 0
    limit: int | None = None
    token: str


class LocalContentIn(BaseModel):
    ref: str = "master"
    path: str
    token: str  # the drop folder's: proves the client runs on the server's machine


class LocalContentOut(BaseModel):
    commit: str
    size: int
    chunks: list[tuple[str, int, int, int, int]]  # file, offset, stored and raw length, codec


class LocalFileOut(BaseModel):
    chunks: list[tuple[str, int]]
    consumed: int
    new_chunks: int
    new_bytes: int


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


# -- workspaces and training ---------------------------------------------------------------


class WorkspaceCreate(BaseModel):
    name: str
    author: str = ""


class WorkspaceOut(BaseModel):
    name: str
    created: float
    author: str
    repos: list[str]
    current: dict[str, Any]
    jobs: int


class BundleIn(BaseModel):
    kind: str = Field(description="source or data")
    branch: str = Field(description="the bundle branch the folder was put to")
    ref: str = Field("", description="a commit of that branch (default: its head)")
    author: str = ""


class BundleOut(BaseModel):
    kind: str
    name: str
    repo: str
    branch: str
    commit: str
    digest: str
    author: str
    size: int
    files: int
    path: str


class HyperIn(BaseModel):
    space: dict[str, Any]
    search: str = "grid"
    trials: int | None = None
    objective: str | None = None
    direction: str = "maximize"


class TrainIn(BaseModel):
    author: str = ""
    source: BundleIn | None = None
    data: BundleIn | None = None
    hyper: HyperIn | None = None
    parallelism: int = Field(1, ge=1, le=256)
    cpu: float | None = Field(None, gt=0)
    memory: str | None = Field(None, description="e.g. 2Gi")
    timeout: str | None = Field(None, description="e.g. 1h, 90s")
    sandbox: bool = False


class TrialOut(BaseModel):
    index: int
    params: dict[str, Any]
    state: str
    started: float | None
    finished: float | None
    exit_code: int | None
    model_id: str | None
    model_commit: str | None
    model_path: str | None
    metrics: dict[str, Any]
    reason: str


class JobOut(BaseModel):
    id: str
    workspace: str
    state: str
    created: float
    started: float | None
    finished: float | None
    duration: float | None
    author: str
    source: BundleOut
    data: BundleOut
    hyper: dict[str, Any] | None
    hyperopt: bool
    parallelism: int
    timeout: float | None
    memory: int | None
    cpu: float | None
    sandbox: bool
    reason: str
    env: dict[str, Any]
    process_time: float
    trials: list[TrialOut]


class LogOut(BaseModel):
    text: str
    offset: int
    finished: bool


class ServeIn(BaseModel):
    author: str = ""
    source: BundleIn
    model_id: str | None = None
    replicas: int = Field(1, ge=1, le=64)
    batch: str | None = Field(None, description="MAX/WAITms, e.g. 32/5ms")
    timeout: str | None = Field(None, description="per request, e.g. 30s")


class EndpointOut(BaseModel):
    name: str
    workspace: str
    state: str
    created: float
    started: float | None
    author: str
    source: BundleOut
    model_id: str | None
    replicas: int
    ready: int
    restarts: int
    batch: str | None
    timeout: float
    url: str
    reason: str
    env: dict[str, Any]
    served_commit: str | None


class ProvenanceOut(BaseModel):
    root: str
    graph: dict[str, Any]
    dot: str
    text: str


class ReproduceIn(BaseModel):
    author: str = ""


class S3CredentialIn(BaseModel):
    owner: str = Field("", description="who the key is for (shown in commits it writes)")


class S3CredentialOut(BaseModel):
    access_key: str
    secret: str | None = Field(None, description="only in the answer that creates the key")
    owner: str
    created: float
    job: str | None = None
    endpoint: str | None = Field(None, description="the S3 gateway's URL")
    region: str = "us-east-1"
