"""Wire types of workspaces and what runs in them: bundles, training jobs and their trials,
endpoints, logs, provenance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass

from kaon.core.endpoints import EndpointState
from kaon.core.errors import Forbidden
from kaon.core.jobs import JobState
from kaon.wire.base import BRANCH, MEMORY, MODEL, REF, WORKSPACE, Answer, GraphJson, Strict, checked

# -- workspaces and bundles -----------------------------------------------------------------


class WorkspaceCreate(Strict):
    name: str = checked(pattern=WORKSPACE)


@dataclass(frozen=True)
class WorkspaceInfo(Answer):
    name: str
    created: float
    author: str
    repos: list[str]
    current: dict[str, Any]
    jobs: int
    role: str = Field(
        default="",
        description="the caller's role here: owner, editor or viewer; `admin` for an admin "
        "with none (an admin may do everything)",
    )

    def require_write(self) -> None:
        """Forbidden unless the caller may write here (before anything is uploaded)."""
        if self.role == "viewer":
            raise Forbidden(
                f"you are a viewer of workspace {self.name!r}; to deploy or write it needs the "
                f"editor role: ask an owner to run `kaon workspace share -n {self.name} --user "
                "<your user> --role editor` (`kaon auth whoami` shows your user)"
            )


class BundleIn(Strict):
    kind: str = checked(description="source, serve or data", enum=["source", "serve", "data"])
    branch: str = checked(description="the bundle branch the folder was put to", pattern=BRANCH)
    ref: str = checked(
        "", description="a commit of that branch (default: its head)", pattern=f"^$|{REF}"
    )


@dataclass(frozen=True)
class BundleInfo(Answer):
    kind: str
    name: str
    repo: str
    branch: str
    commit: str
    digest: str
    author: str
    size: int
    files: int
    path: str  # /mnist:e23a2


# -- training -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class TrialInfo(Answer):
    index: int
    params: dict[str, Any]
    state: JobState
    started: float | None
    finished: float | None
    exit_code: int | None
    model_id: str | None
    model_commit: str | None
    model_path: str | None
    metrics: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class JobInfo(Answer):
    id: str
    workspace: str
    state: JobState
    created: float
    started: float | None
    finished: float | None
    duration: float | None
    author: str
    source: BundleInfo
    data: BundleInfo
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
    trials: list[TrialInfo]

    @property
    def finished_state(self) -> bool:
        return self.state.finished


@dataclass(frozen=True)
class LogOut(Answer):
    text: str
    offset: int
    finished: bool


# -- serving --------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class EndpointInfo(Answer):
    name: str
    workspace: str
    state: EndpointState
    created: float
    started: float | None
    author: str
    source: BundleInfo
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
    auth: bool  # prediction routes need a token (--auth)


# -- provenance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvenanceInfo(Answer):
    root: str  # node id the graph is about
    graph: GraphJson
    dot: str  # Graphviz source
    text: str  # the ancestry as an indented tree


class ReproduceIn(Strict):
    """Nothing to give (the re-run's author is the caller): an empty object or no body."""
