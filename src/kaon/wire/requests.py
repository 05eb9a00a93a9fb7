"""The API's request bodies (pydantic models: FastAPI validates and documents them; a `Strict`
one refuses a field it does not know with 400). Only the server imports this module: the SDK
sends plain JSON, and its answers (kaon.wire) need no pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kaon.wire.base import (
    BRANCH,
    DIGEST,
    FILE_PATH,
    LEASE,
    LEASE_DOC,
    MEMORY,
    MODEL,
    REF,
    REPO,
    USER,
    WORKSPACE,
)


def checked(default: Any = ..., description: str | None = None, **schema: Any) -> Any:
    """A field whose constraints (`schema`, JSON Schema) kaon.core checks: documented here."""
    return Field(default, description=description, json_schema_extra=schema)


class Strict(BaseModel):
    """A request body: a field the server does not know is refused (400), never ignored."""

    model_config = ConfigDict(extra="forbid")


class RepoCreate(Strict):
    name: str = checked(pattern=REPO)
    description: str = ""


class BranchSet(Strict):
    head: str | None = checked(
        None, description="a ref (branch, commit, branch^); null: no head", pattern=REF
    )


class PutIn(Strict):
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


class StagingIn(Strict):
    branch: str = checked("master", pattern=BRANCH)


class StagedIn(Strict):
    """The documented body of POST /v1/repos/{repo}/stagings/{id} (parsed by the service)."""

    puts: list[PutIn] = []


class LocalContentIn(Strict):
    ref: str = "master"
    path: str
    token: str  # the drop folder's: proves the client runs on the server's machine


class DigestsIn(Strict):
    digests: list[str] = checked(items={"type": "string", "pattern": DIGEST})
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


class DroppedPackIn(Strict):
    name: str
    token: str
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


class LocalFileIn(Strict):
    path: str
    size: int
    mtime_ns: int
    inode: int
    start: int = 0
    limit: int | None = None
    token: str
    lease: str | None = checked(None, LEASE_DOC, pattern=LEASE)


class WorkspaceCreate(Strict):
    name: str = checked(pattern=WORKSPACE)


class BundleIn(Strict):
    kind: str = checked(description="source, serve or data", enum=["source", "serve", "data"])
    branch: str = checked(description="the bundle branch the folder was put to", pattern=BRANCH)
    ref: str = checked(
        "", description="a commit of that branch (default: its head)", pattern=f"^$|{REF}"
    )


class HyperIn(Strict):
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
    name: str | None = checked(
        None,
        description="the endpoint's name (--name, e.g. petset; 2-40 of a-z 0-9 '-'); default: "
        "serve-<workspace>-<6 hex>",
    )
    version: str | None = checked(
        None,
        description="this version's label (--version, 1-32 of a-z 0-9 '.' '_'); default: the "
        "model's data commit prefix",
    )


class ReleaseIn(Strict):
    """`kaon serve update`: a new version of a named endpoint."""

    model_id: str | None = checked(None, pattern=MODEL)
    source: BundleIn | None = Field(None, description="default: the current version's bundle")
    canary: int | None = Field(None, description="percent of requests to the new version, 1-99")
    shadow: bool = Field(False, description="mirror requests to it; its answers are recorded")
    version: str | None = Field(None, description="its label; default: data commit prefix")


class ReproduceIn(Strict):
    """Nothing to give (the re-run's author is the caller): an empty object or no body."""


class UserIn(Strict):
    name: str = Field(pattern=USER)
    admin: bool = Field(False, strict=True)


class TokenIn(Strict):
    name: str = Field("", max_length=100, description="what the token is for (e.g. laptop)")
    expires: str | None = Field(None, description="a lifetime such as 30d, 12h (none: never)")


class MemberIn(Strict):
    role: str = Field(
        description="owner, editor or viewer",
        json_schema_extra={"enum": ["owner", "editor", "viewer"]},
    )


class S3CredentialIn(Strict):
    owner: str = Field(
        "", description="a label for the key; it acts for the caller, whose name its commits show"
    )


# -- pipelines (docs/pipelines.md) ----------------------------------------------------------


class PipelineSourceIn(Strict):
    """Where the client uploaded a spec's `transform.source` folder."""

    repo: str = checked(pattern=REPO)
    commit: str = Field(min_length=4, description="a commit of that repo (its id)")


class PipelineSpecIn(Strict):
    spec: dict[str, Any] = Field(
        description="one pipeline spec document, Pachyderm's format (pipeline, transform, "
        "input, …): unknown fields are refused naming them, known ones with no effect here "
        "are accepted with a warning"
    )
    source: PipelineSourceIn | None = None


class PipelinesIn(Strict):
    specs: list[PipelineSpecIn] = Field(min_length=1, description="created all or none")
    update: bool = Field(False, description="replace existing pipelines of these names")
    reprocess: bool = Field(
        True,
        description="on update: datums of older versions run again (false: kept, and "
        "recorded as such in the version and provenance)",
    )


class PipelineRunIn(Strict):
    reprocess: bool = Field(False, description="run every datum, none skipped")


class NotebookIn(Strict):
    source: BundleIn = Field(description="the notebook bundle (a branch of the source repo)")
    data: BundleIn | None = Field(None, description="default: the workspace's latest data")
    name: str | None = checked(None, description="default: notebook-<workspace>-<user>")
    cpu: float | None = Field(None, gt=0)
    memory: str | None = checked(None, description="e.g. 2Gi", pattern=MEMORY)


class NotebookSaveIn(Strict):
    message: str = ""
    outputs: bool = Field(False, description="keep the cells' outputs (default: stripped)")
