"""What an endpoint leaves behind: its build and serve logs, the files it serves as a commit
of the workspace's `endpoints` repo (the content address its replicas run), its provenance,
and the feedback on its predictions as commits of the `feedback` repo."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.endpoints import Endpoint
from kaon.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kaon.core.feedback import Feedback, request_id, request_of
from kaon.core.ids import CommitId, RepoName
from kaon.core.tree import FileNode, Tree, find
from kaon.ports.content import TreeRef
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.endpointrun import Route
from kaon.services.files import FileService
from kaon.services.joblog import JobLog
from kaon.services.leases import new_lease
from kaon.services.localfs import store_stream
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
        files: FileService,
    ) -> None:
        self._files = files
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

    # feedback: one file per request id, appended, never overwritten -----------------------
    def feedback(self, route: Route, fb: Feedback) -> Feedback:
        """Store `fb` as `/<request id>.json` in the workspace's feedback repo, branch = the
        release, in one commit; Conflict (409) when that request already has its feedback
        (checked inside the branch's critical section: of two at once, one lands). Returns it
        with the commit set; provenance links the version that answered to it."""
        rid = request_id(fb.request_id)
        repo = repo_of(route.workspace, "feedback")
        with contextlib.suppress(AlreadyExists):
            self._repos.create_repo(repo, f"workspace {route.workspace}: feedback")
        data = (json.dumps(fb.to_doc(), indent=2, sort_keys=True) + "\n").encode()
        lease = new_lease()

        def first(parent: Commit | None) -> None:
            if parent is not None and self._found(parent, fb.path) is not None:
                raise Conflict(f"request {rid} already has its feedback (one per request)")

        try:
            put = store_stream(self._chunks, fb.path, io.BytesIO(data), lease)
            commit = self._commits.commit(
                repo, fb.endpoint, [put], message=fb.message, author="gateway", check=first
            )
        finally:
            self._chunks.release(lease)
        stored = replace(fb, commit=str(commit.id))
        self._provenance.feedback_received(route.name, route.workspace, stored.to_doc(), commit.id)
        return stored

    def feedbacks(
        self, workspace: str, release: str, limit: int, version: str | None = None
    ) -> list[Feedback]:
        """The feedback on `release` (only `version`'s when given), newest first, at most
        `limit`: the branch's commits walked back from its head, each one's file read from the
        head's tree (files are never overwritten), so the cost is `limit` commits and files,
        not the branch's length. Commits that are not the gateway's (a `kaon put file`) are
        skipped."""
        if limit <= 0:
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        repo = repo_of(workspace, "feedback")
        try:
            head = self._repos.resolve(repo, Ref(release))
        except NotFound:  # no repo, or no feedback on this release yet
            return []
        out: list[Feedback] = []
        if head is None:
            return out
        root = self._files.root(head)
        for commit in self._back(repo, head, max(limit, 32)):
            if len(out) >= limit:
                break
            rid = request_of(commit.message)
            if rid is None:
                continue
            node = self._found(head, f"/{rid}.json", root)
            fb = None if node is None else self._read(node, str(commit.id), rid)
            if fb is None:  # removed or rewritten by hand since: as that commit stored it
                node = self._found(commit, f"/{rid}.json")
                fb = None if node is None else self._read(node, str(commit.id), rid)
            if fb is not None and (version is None or fb.version == version):
                out.append(fb)
        return out

    def _read(self, node: FileNode, commit: str, rid: str) -> Feedback | None:
        """The feedback on request `rid` a file holds; None when it holds another."""
        try:
            doc = json.loads(b"".join(self._files.content(node)))
            fb = Feedback.from_doc(doc, commit=commit) if isinstance(doc, dict) else None
        except (ValueError, KeyError, TypeError):
            return None
        return fb if fb is not None and fb.request_id == rid else None

    def _back(self, repo: str, head: Commit, page: int) -> Iterator[Commit]:
        """`head` and its ancestors, newest first, read `page` commits at a time."""
        ref, skip = str(head.id), 0
        while True:
            batch = self._repos.history(repo, Ref(ref), page + skip)[skip:]
            yield from batch
            if len(batch) < page:
                return
            ref, skip = str(batch[-1].id), 1

    def _found(self, commit: Commit, path: str, root: Tree | None = None) -> FileNode | None:
        top = root if root is not None else self._files.root(commit)
        node = find(top, path, self._files.load_tree)
        return node if isinstance(node, FileNode) else None
