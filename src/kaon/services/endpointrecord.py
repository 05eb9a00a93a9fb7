"""What an endpoint leaves behind: its build and serve logs, the files it serves as a commit
of the workspace's `endpoints` repo (the content address its replicas run), its provenance,
and the feedback on its predictions as commits of the `feedback` repo."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from kaon.core.endpoints import Endpoint
from kaon.core.errors import AlreadyExists
from kaon.core.ids import CommitId, RepoName
from kaon.ports.content import TreeRef
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.endpointrun import Route
from kaon.services.joblog import JobLog
from kaon.services.localfs import commit_folder
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.workspaces import repo_of


class EndpointRecorder:
    def __init__(
        self,
        repos: RepoService,
        commits: CommitService,
        chunks: ChunkStore,
        provenance: ProvenanceService,
        root: Path,
    ) -> None:
        self._repos = repos
        self._commits = commits
        self._chunks = chunks
        self._provenance = provenance
        self._root = root  # <root>/<endpoint>/{build,serve}.log

    def log_path(self, endpoint: Endpoint, kind: str) -> Path:
        return self._root / endpoint.name / f"{kind}.log"

    def log(self, endpoint: Endpoint, kind: str) -> JobLog:
        return JobLog(self.log_path(endpoint, kind))

    def served(self, endpoint: Endpoint, files: list[Put]) -> TreeRef:
        """Record exactly what is served (bundle + model files; chunks are shared, not
        copied) as the head of branch <endpoint> of the `endpoints` repo."""
        repo = repo_of(endpoint.workspace, "endpoints")
        with contextlib.suppress(AlreadyExists):
            self._repos.create_repo(repo, f"workspace {endpoint.workspace}: served code")
        commit = self._commits.commit(
            repo,
            endpoint.name,
            files,
            ["/"],
            message=f"endpoint {endpoint.name}: {endpoint.source.path} + model {endpoint.model_id}",
            author=endpoint.author,
        )
        return TreeRef(RepoName(repo), CommitId(commit.id))

    def started(self, endpoint: Endpoint) -> None:
        self._provenance.endpoint_started(endpoint)

    def feedback(self, route: Route, record: dict[str, Any]) -> str:
        """Store feedback on one prediction as a commit of the workspace's feedback repo
        (branch = endpoint), linked to the request and the model id that answered it."""
        repo = repo_of(route.workspace, "feedback")
        with contextlib.suppress(AlreadyExists):
            self._repos.create_repo(repo, f"workspace {route.workspace}: feedback")
        home = self._root / route.name / "feedback"
        home.mkdir(parents=True, exist_ok=True)
        path = home / f"{record['request_id']}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        try:
            commit = commit_folder(
                self._chunks,
                self._commits,
                repo,
                route.name,
                [(path.name, path)],
                message=f"feedback on {record['request_id']} ({route.model_id})",
            )
        finally:
            path.unlink(missing_ok=True)
        self._provenance.feedback_received(route.name, route.workspace, record, str(commit.id))
        return str(commit.id)
