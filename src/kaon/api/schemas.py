"""Wire types (Pydantic lives here only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from kaon.api.userschemas import Strict

# What the server accepts in names, refs and paths (ECMA-262 regexes for the spec). kaon.core
# checks them (ids, jobs, address, paths), with its own messages: `checked()` only documents.
REPO = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
BRANCH = REPO  # and not 32 hex digits (a commit id)
WORKSPACE = r"^[A-Za-z0-9][A-Za-z0-9_]{0,39}$"  # lowercased by the server
MODEL = r"^[0-9a-f]{5}_[0-9a-f]{5}(_[0-9a-f]{5})?:[0-9a-f]{6}$"
REF = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}([~^][0-9]{0,6})*$"  # branch or commit prefix, ancestry
PATH = r"^(?!(.*[/\\])?\.\.([/\\].*)?$)[^\x00-\x1f]*$"  # no control character, no '..'
FILE_PATH = r"^(?=.*[^/\\.]|.*\.\.\.)" + PATH[1:]  # and names a file, not the root
DIGEST = r"^[0-9a-f]{64}$"
LEASE = r"^[0-9a-f]{32}$"
LEASE_DOC = (
    "the upload's lease (32 hex digits it chose): gc spares the chunks asked about or sent "
    "under it until it is released or expires (docs/architecture.md)"
)
MEMORY = r"^[0-9]+(\.[0-9]+)?(k|K|M|G|T|Ki|Mi|Gi|Ti)?$"  # 1 byte to 1024Ti


def checked(default: Any = ..., description: str | None = None, **schema: Any) -> Any:
    """A field whose constraints (`schema`, JSON Schema) kaon.core checks: documented here."""
    return Field(default, description=description, json_schema_extra=schema)


class ErrorOut(BaseModel):
    """Every error answer of the API (kaon.core.errors)."""

    code: str = Field(description="stable machine-readable code, e.g. repo_not_found")
    message: str = Field(description="one line for people: what failed, where, what to do")
    details: dict[str, Any] = Field(description="more, per code (missing_chunks: `missing`)")


class RepoCreate(BaseModel):
    name: str = checked(pattern=REPO)
    description: str = ""


class RepoOut(BaseModel):
    name: str
    created: float
    description: str
    size: int
    branches: list[str]


class BranchSet(BaseModel):
    head: str | None = checked(
        None, description="a ref (branch, commit, branch^); null: no head", pattern=REF
    )


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


class StagingIn(BaseModel):
    branch: str = checked("master", pattern=BRANCH)


class StagingOut(BaseModel):
    id: str


class StagedOut(BaseModel):
    files: int  # files staged so far


class StagedIn(BaseModel):
    """The documented body of POST /v1/repos/{repo}/stagings/{id} (parsed by the service)."""

    puts: list[PutIn] = []


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


class FileOut(BaseModel):
    path: str
    type: str
    size: int
    commit: str | None = None
    committed: float | None = None
    meta: dict[str, str] | None = None  # S3 object metadata (Content-Type, x-amz-meta-*, ...)


class ChangeOut(BaseModel):
    path: str
    kind: str
    old_size: int | None
    new_size: int | None


class DigestsIn(BaseModel):
    digests: list[str] = checked(items={"type": "string", "pattern": DIGEST})
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


class MissingOut(BaseModel):
    missing: list[str]


class DropOut(BaseModel):
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


class WorkspaceCreate(Strict):
    name: str = checked(pattern=WORKSPACE)


class WorkspaceOut(BaseModel):
    name: str
    created: float
    author: str
    repos: list[str]
    current: dict[str, Any]
    jobs: int
    role: str = Field(
        "",
        description="the caller's role here: owner, editor or viewer; `admin` for an admin "
        "with none (an admin may do everything)",
    )


class BundleIn(Strict):
    kind: str = checked(description="source, serve or data", enum=["source", "serve", "data"])
    branch: str = checked(description="the bundle branch the folder was put to", pattern=BRANCH)
    ref: str = checked(
        "", description="a commit of that branch (default: its head)", pattern=f"^$|{REF}"
    )


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


class TrainIn(Strict):
    source: BundleIn | None = None
    data: BundleIn | None = None
    hyper: HyperIn | None = None
    parallelism: int = Field(1, ge=1, le=256)
    cpu: float | None = Field(None, gt=0)
    memory: str | None = checked(None, description="e.g. 2Gi (up to 1024Ti)", pattern=MEMORY)
    timeout: str | None = Field(None, description="e.g. 1h, 90s")
    sandbox: bool = False
    env: dict[str, str] | None = Field(
        None,
        description="Variables for every trial (--env); none given: the workspace's latest. "
        "KAON_*, AWS_*, S3_ENDPOINT, S3_USE_HTTPS, S3_VERIFY_SSL, S3_REGION and the "
        "interpreter's variables are refused.",
    )


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
    variables: dict[str, str]
    process_time: float
    trials: list[TrialOut]


class LogOut(BaseModel):
    text: str
    offset: int
    finished: bool


class ServeIn(Strict):
    source: BundleIn
    model_id: str | None = checked(None, pattern=MODEL)
    replicas: int = Field(1, ge=1, le=64)
    batch: str | None = Field(None, description="MAX/WAITms, e.g. 32/5ms")
    timeout: str | None = Field(None, description="per request, e.g. 30s")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables for every replica (--env)."
    )
    auth: bool = Field(
        False,
        description="Prediction routes need `Authorization: Bearer <token>` of a user (or "
        "job) that may read the endpoint's workspace (--auth); default: open, as in kaos.",
    )


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
    variables: dict[str, str]
    served_commit: str | None
    auth: bool


class ProvenanceOut(BaseModel):
    root: str
    graph: dict[str, Any]
    dot: str
    text: str


class ReproduceIn(Strict):
    """Nothing to give (the re-run's author is the caller): an empty object or no body."""


class S3CredentialIn(BaseModel):
    owner: str = Field(
        "", description="a label for the key; it acts for the caller, whose name its commits show"
    )


class S3CredentialOut(BaseModel):
    access_key: str
    secret: str | None = Field(None, description="only in the answer that creates the key")
    owner: str
    created: float
    job: str | None = None
    scope: str = Field(
        "*",
        description="what the key reaches: '*' what its user may, 'workspace:<name>' (a "
        "job's) what its user may among the shared repos and that workspace's",
    )
    user: str | None = Field(
        None, description="the user whose rights the key carries (none: the first admin's)"
    )
    endpoint: str | None = Field(None, description="the S3 gateway's URL")
    region: str = "us-east-1"
