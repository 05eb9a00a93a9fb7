"""What the SDK returns: small frozen dataclasses built from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from kaon.core.errors import Forbidden
from kaon.core.jobs import JobState
from kaon.core.provenance import Graph

T = TypeVar("T")


def from_json(cls: type[T], doc: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass(frozen=True)
class RepoInfo:
    name: str
    created: float
    description: str
    size: int
    branches: list[str]


@dataclass(frozen=True)
class BranchInfo:
    repo: str
    name: str
    head: str | None


@dataclass(frozen=True)
class CommitInfo:
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
class FileInfo:
    path: str
    type: str
    size: int
    commit: str | None = None
    committed: float | None = None
    meta: dict[str, str] | None = None  # S3 object metadata, when the file has any


@dataclass(frozen=True)
class Change:
    path: str
    kind: str
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class GcReport:
    packs_deleted: int
    packs_rewritten: int
    chunks_dropped: int
    trees_deleted: int
    commits_deleted: int
    bytes_freed: int


@dataclass(frozen=True)
class TransferStats:
    files: int
    bytes: int
    chunks: int
    new_chunks: int
    new_bytes: int
    sent_bytes: int
    cached_files: int
    seconds: float
    sent_via: str = ""  # "drop" (the server's folder on this machine), "http", "" (nothing sent)


@dataclass(frozen=True)
class WorkspaceInfo:
    name: str
    created: float
    author: str
    repos: list[str]
    current: dict[str, Any]
    jobs: int
    role: str = ""  # the caller's: owner, editor, viewer; "admin" for an admin with none

    def require_write(self) -> None:
        """Forbidden unless the caller may write here (before anything is uploaded)."""
        if self.role == "viewer":
            raise Forbidden(
                f"you are a viewer of workspace {self.name!r}; to deploy or write it needs the "
                f"editor role: ask an owner to run `kaon workspace share -n {self.name} --user "
                "<your user> --role editor` (`kaon auth whoami` shows your user)"
            )


@dataclass(frozen=True)
class BundleInfo:
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


@dataclass(frozen=True)
class TrialInfo:
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


@dataclass(frozen=True)
class JobInfo:
    id: str
    workspace: str
    state: str
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
    process_time: float
    trials: list[TrialInfo]
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def finished_state(self) -> bool:
        return JobState(self.state).finished

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> JobInfo:
        fixed = dict(doc)
        fixed["source"] = from_json(BundleInfo, doc["source"])
        fixed["data"] = from_json(BundleInfo, doc["data"])
        fixed["trials"] = [from_json(TrialInfo, t) for t in doc.get("trials", [])]
        return from_json(JobInfo, fixed)


@dataclass(frozen=True)
class EndpointInfo:
    name: str
    workspace: str
    state: str
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
    served_commit: str | None
    variables: dict[str, str] = field(default_factory=dict)
    auth: bool = False  # prediction routes need a token (--auth)

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> EndpointInfo:
        fixed = dict(doc)
        fixed["source"] = from_json(BundleInfo, doc["source"])
        return from_json(EndpointInfo, fixed)


@dataclass(frozen=True)
class ProvenanceInfo:
    root: str  # node id the graph is about
    graph: Graph
    dot: str  # Graphviz source
    text: str  # the ancestry as an indented tree

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> ProvenanceInfo:
        return ProvenanceInfo(
            str(doc["root"]), Graph.from_dict(doc["graph"]), str(doc["dot"]), str(doc["text"])
        )


@dataclass(frozen=True)
class S3CredentialInfo:
    access_key: str
    owner: str
    created: float
    secret: str | None = None  # only when just created
    job: str | None = None
    scope: str = "*"  # '*' its user's rights; 'workspace:<name>' narrowed to the shared repos
    # and that workspace's (a job's key)
    user: str | None = None  # whose rights it carries (None: the first admin's)
    endpoint: str | None = None
    region: str = "us-east-1"


@dataclass(frozen=True)
class UserInfo:
    name: str
    admin: bool
    created: float
    workspaces: dict[str, str] = field(default_factory=dict)  # workspace -> role (visible ones)


@dataclass(frozen=True)
class TokenInfo:
    """An API token's record: never its secret."""

    id: str
    user: str
    name: str
    created: float
    expires: float | None = None
    workspace: str | None = None  # a job's token: only this workspace
    job: str | None = None


@dataclass(frozen=True)
class NewToken:
    """A token just made: `secret` is shown only now (`KAON_TOKEN=<secret> kaon ...`)."""

    token: TokenInfo
    secret: str
    user: UserInfo | None = None  # set by `add_user`


@dataclass(frozen=True)
class WhoAmI:
    user: str
    admin: bool
    token: TokenInfo | None = None
    workspace: str | None = None
    job: str | None = None


@dataclass(frozen=True)
class MemberInfo:
    workspace: str
    user: str
    role: str  # owner, editor or viewer


@dataclass(frozen=True)
class AuditRecord:
    """One write or permission change from the audit log (`kaon audit`)."""

    id: int
    at: float  # Unix seconds, when it was answered
    user: str  # "" when authentication failed
    action: str  # "POST /v1/workspaces/{name}/train", "S3 PutObject"
    target: str  # the concrete path, or bucket/key
    workspace: str | None
    status: int  # the HTTP status it answered
    detail: dict[str, Any] = field(default_factory=dict)  # client, job, query, ids

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> AuditRecord:
        import json

        try:
            detail = json.loads(doc.get("detail") or "{}")
        except ValueError:
            detail = {"text": doc.get("detail")}
        return AuditRecord(
            int(doc["id"]),
            float(doc["at"]),
            str(doc["user"]),
            str(doc["action"]),
            str(doc["target"]),
            doc.get("workspace"),
            int(doc["status"]),
            detail if isinstance(detail, dict) else {"value": detail},
        )
