"""Tables: the state every in-memory store shares, as dicts behind one lock, so that one
store's delete reaches another's rows (a workspace's jobs, endpoints and roles) at once."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kaon.core.commit import Commit
from kaon.core.credentials import S3Credential
from kaon.core.endpoints import Endpoint
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName
from kaon.core.jobs import Job, JobId, Trial, WorkspaceName
from kaon.core.notebooks import Notebook
from kaon.core.pipelines.records import DatumRecord, Pipeline, PipelineJob, PipelineVersion
from kaon.core.provenance import Edge, Node
from kaon.core.releases import Release
from kaon.core.repo import Repo
from kaon.core.users import ApiToken, Role, User
from kaon.ports.metadata import ChunkLocation, PackInfo
from kaon.ports.users import AuditEntry
from kaon.ports.workspaces import Workspace

T = TypeVar("T")


def detached(value: T) -> T:
    """A deep copy: what a caller holds never aliases what is stored (records carry dicts)."""
    return copy.deepcopy(value)


@dataclass
class Tables:
    lock: threading.RLock = field(default_factory=threading.RLock)
    # data: repos, branch heads, commits, chunk locations, packs, upload leases
    repos: dict[RepoName, Repo] = field(default_factory=dict)
    branches: dict[tuple[RepoName, BranchName], CommitId | None] = field(default_factory=dict)
    commits: dict[CommitId, Commit] = field(default_factory=dict)
    chunks: dict[Digest, ChunkLocation] = field(default_factory=dict)
    packs: dict[PackId, PackInfo] = field(default_factory=dict)
    leases: dict[str, float] = field(default_factory=dict)  # expiry
    pins: dict[str, set[Digest]] = field(default_factory=dict)  # by lease
    # workspaces, jobs and their trials, endpoints and releases
    workspaces: dict[WorkspaceName, Workspace] = field(default_factory=dict)
    jobs: dict[JobId, Job] = field(default_factory=dict)
    trials: dict[JobId, dict[int, Trial]] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    signatures: dict[str, tuple[bool, dict[str, Any]]] = field(default_factory=dict)  # declared?
    releases: dict[str, Release] = field(default_factory=dict)
    notebooks: dict[str, Notebook] = field(default_factory=dict)
    # provenance
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[Edge, None] = field(default_factory=dict)  # an ordered set
    # S3 keys, users, their tokens (by id, with the digest) and roles, the audit log
    credentials: dict[str, S3Credential] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, tuple[ApiToken, str]] = field(default_factory=dict)
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (workspace, user)
    audit: list[AuditEntry] = field(default_factory=list)
    # pipelines, their versions, jobs (by pipeline, id), datum records (by job, then id)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    pipeline_versions: dict[str, dict[int, PipelineVersion]] = field(default_factory=dict)
    pipeline_jobs: dict[tuple[str, str], PipelineJob] = field(default_factory=dict)
    datums: dict[tuple[str, str], dict[str, DatumRecord]] = field(default_factory=dict)
    # (pipeline, hash) -> its records' keys, with when their job was created (-1: unknown)
    datum_hashes: dict[tuple[str, str], dict[tuple[str, str, str], float]] = field(
        default_factory=dict
    )

    def drop_workspace(self, name: WorkspaceName) -> None:
        """Remove a workspace with everything of it (the caller holds the lock)."""
        for job in [j for j in self.jobs.values() if j.workspace == name]:
            del self.jobs[job.id]
            self.trials.pop(job.id, None)
        for endpoint in [e for e in self.endpoints.values() if e.workspace == name]:
            del self.endpoints[endpoint.name]
            self.signatures.pop(endpoint.name, None)
        for release in [r for r in self.releases.values() if r.workspace == name]:
            del self.releases[release.name]
        for notebook in [n for n in self.notebooks.values() if n.workspace == name]:
            del self.notebooks[notebook.name]
        for key in [k for k in self.roles if k[0] == name]:
            del self.roles[key]
        self.workspaces.pop(name, None)
