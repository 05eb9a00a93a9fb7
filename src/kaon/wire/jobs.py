"""Wire types of workspaces and what runs in them: bundles, training jobs and their trials,
endpoints, logs, provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.errors import Forbidden
from kaon.core.jobs import JobFailure, JobState
from kaon.core.provenance import Graph
from kaon.wire.base import GRAPH, Answer, doc

# -- workspaces and bundles -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceInfo(Answer):
    name: str
    created: float
    author: str
    repos: list[str]
    current: dict[str, Any]
    jobs: int
    role: str = field(
        default="",
        metadata=doc(
            "the caller's role here: owner, editor or viewer; `admin` for an admin "
            "with none (an admin may do everything)"
        ),
    )

    def require_write(self) -> None:
        """Forbidden unless the caller may write here (before anything is uploaded)."""
        if self.role == "viewer":
            raise Forbidden(
                f"you are a viewer of workspace {self.name!r}; to deploy or write it needs the "
                f"editor role: ask an owner to run `kaon workspace share -n {self.name} --user "
                "<your user> --role editor` (`kaon auth whoami` shows your user)"
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
    failure: JobFailure | None = field(
        default=None, metadata=doc("why a failed or killed job ended so (build, run, ...)")
    )
    trial_count: int = field(
        default=0,
        metadata=doc("how many trials the job has (`trials` lists fewer when asked to)"),
    )
    trials_started: int = field(
        default=0, metadata=doc("how many of its trials started (0: the job never ran one)")
    )

    @property
    def finished_state(self) -> bool:
        return self.state.finished


@dataclass(frozen=True)
class TrialsPage(Answer):
    """One page of a job's trials in the order asked, with the search's best trial and,
    when asked, every trial's point for charts (so 1,000 trials are never sent whole)."""

    job: str
    total: int
    offset: int
    sort: str
    order: str
    metric: str | None = field(metadata=doc("the metric `best` is judged on"))
    maximize: bool
    metrics: list[str] = field(metadata=doc("every metric the trials report"))
    params: list[str] = field(metadata=doc("the search's hyperparameters"))
    best: TrialInfo | None
    trials: list[TrialInfo]
    points: list[list[Any]] = field(
        default_factory=list,
        metadata=doc(
            "with points=true: [index, metric value, model id, *param values] for every "
            "trial that reports `metric` as a number"
        ),
    )


@dataclass(frozen=True)
class LogOut(Answer):
    text: str
    offset: int
    finished: bool
    start: int = field(
        default=0,
        metadata=doc("the offset `text` starts at (with `tail`, > 0 when earlier lines were left)"),
    )


# -- serving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaInfo(Answer):
    """One replica of an endpoint version as the server running it sees it."""

    ready: bool = field(metadata=doc("it answers (its health check passed): in the rotation"))
    address: str = field(metadata=doc("where it listens (unix:// socket, tcp://host:port)"))
    server: str = field(metadata=doc("the server that runs it ('' for the one answering)"))


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
    failure: EndpointFailure | None = field(
        default=None,
        metadata=doc("why a failed endpoint is down: build (final) or crash (restarted)"),
    )
    release: str = field(
        default="", metadata=doc("the named endpoint this is a version of (--name)")
    )
    version: str = field(default="", metadata=doc("this version's label (--version)"))
    job: str | None = field(
        default=None, metadata=doc("the job that deployed it (a pipeline's release stage)")
    )
    replica_list: list[ReplicaInfo] = field(
        default_factory=list,
        metadata=doc("each wanted replica: the ready ones first, then those not (yet) ready"),
    )
    last_error: str = field(default="", metadata=doc("why its last replica exited, if one did"))


# -- provenance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvenanceInfo(Answer):
    root: str  # node id the graph is about
    graph: Annotated[Graph, GRAPH]
    dot: str  # Graphviz source
    text: str  # the ancestry as an indented tree
