"""Workspaces and the bundles submitted to them.

A workspace owns six repos: `<ws>-source` and `<ws>-data` (one branch per bundle name, whose
head is the latest submission), `<ws>-models` (trained models, one branch per input
combination), `<ws>-logs` (build and run logs of every job), `<ws>-endpoints` (what each
endpoint serves: bundle + model files) and `<ws>-feedback` (feedback on predictions). A bundle's id is its root tree
digest: the same files always give the same id, whoever submits them and whenever.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from kaon.core import bundlelayout
from kaon.core.address import Ref
from kaon.core.bundlelayout import Entrypoint
from kaon.core.commit import Commit
from kaon.core.errors import (
    AlreadyExists,
    InvalidBundle,
    InvalidInput,
    NotFound,
    RepoNotFound,
    WorkspaceNotFound,
)
from kaon.core.jobs import Bundle, WorkspaceName, workspace_name
from kaon.core.tree import DirNode, FileNode
from kaon.core.workspaces import Workspace
from kaon.ports.workspaces import WorkspaceStore
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.repos import RepoService
from kaon.services.trees import TreeStore

KINDS = ("source", "data", "models", "logs", "endpoints", "feedback")
NO_DATA = "none"  # the data bundle of a job that reads everything over S3: no files


_INTERNAL = re.compile(rf"([a-z0-9][a-z0-9_]{{0,39}})-({'|'.join(KINDS)})")


def repo_of(ws: str, kind: str) -> str:
    return f"{ws}-{kind}"


def reserved_for(repo: str) -> str | None:
    """The workspace whose internal repo `repo` is or would be (existing or not), None for a
    name no workspace can own."""
    match = _INTERNAL.fullmatch(repo)
    return match.group(1) if match else None


def _description(ws: str, kind: str) -> str:
    return f"workspace {ws}: {kind}"


class WorkspaceService:
    def __init__(
        self,
        workspaces: WorkspaceStore,
        repos: RepoService,
        trees: TreeStore,
        files: FileService,
        clock: Callable[[], float],
    ) -> None:
        self._workspaces = workspaces
        self._repos = repos
        self._trees = trees
        self._files = files
        self._clock = clock

    # workspaces --------------------------------------------------------------------------
    def create(self, name: str, author: str) -> Workspace:
        ws = Workspace(workspace_name(name), self._clock(), author)
        if self._workspaces.get_workspace(ws.name) is not None:
            raise AlreadyExists(
                f"workspace '{ws.name}' already exists: use `kaon workspace set -n {ws.name}`"
            )
        for kind in KINDS:  # all checked before any is made: a refusal leaves nothing
            self._check_free(ws.name, kind)
        for kind in KINDS:
            with contextlib.suppress(AlreadyExists):  # left by an interrupted create: reused
                self._repos.create_repo(repo_of(ws.name, kind), _description(ws.name, kind))
        self._workspaces.create_workspace(ws)
        return ws

    def _check_free(self, ws: WorkspaceName, kind: str) -> None:
        """AlreadyExists unless repo `<ws>-<kind>` is missing or an empty one this service
        made (an interrupted create): a workspace never adopts a repo someone else filled or
        made (a job could have planted data for a workspace to come)."""
        name = repo_of(ws, kind)
        try:
            repo = self._repos.get_repo(name)
        except RepoNotFound:
            return
        empty = all(b.head is None for b in self._repos.list_branches(name))
        if repo.description == _description(ws, kind) and empty:
            return
        raise AlreadyExists(
            f"cannot create workspace '{ws}': repo '{name}' already exists and was not made "
            f"for it ({repo.description or 'no description'}); a workspace's repos must be "
            f"its own: save what it holds, delete it with `kaon repo delete {name}` and create "
            "the workspace again, or choose another workspace name"
        )

    def get(self, name: str) -> Workspace:
        ws = self._workspaces.get_workspace(workspace_name(name))
        if ws is None:
            known = [w.name for w in self._workspaces.list_workspaces()]
            hint = f" (existing: {', '.join(known)})" if known else ""
            raise WorkspaceNotFound(
                f"workspace '{name}' does not exist: create it with "
                f"`kaon workspace create -n {name}`{hint}"
            )
        return ws

    def all(self) -> list[Workspace]:
        return self._workspaces.list_workspaces()

    def repos(self, name: str) -> list[str]:
        ws = self.get(name)
        return [repo_of(ws.name, kind) for kind in KINDS]

    def owner_of_repo(self, repo: str) -> str | None:
        """The workspace whose internal repo `repo` is (None: a shared repo)."""
        prefix, dash, kind = repo.rpartition("-")
        if not dash or kind not in KINDS:
            return None
        with contextlib.suppress(InvalidInput):
            if self._workspaces.get_workspace(workspace_name(prefix)) is not None:
                return prefix
        return None

    def delete(self, name: str) -> None:
        """Delete the workspace, its repos, jobs and models (jobs must be stopped first)."""
        ws = self.get(name)
        for kind in KINDS:
            with contextlib.suppress(RepoNotFound):
                self._repos.delete_repo(repo_of(ws.name, kind))
        self._workspaces.delete_workspace(ws.name)

    def set_current(self, name: WorkspaceName, **bundles: dict[str, Any] | None) -> None:
        current = dict(self.get(name).current)
        current.update({k: v for k, v in bundles.items()})
        self._workspaces.set_current(name, current)

    # bundles -----------------------------------------------------------------------------
    def bundle(self, ws: str, kind: str, branch: str, ref: str, author: str) -> Bundle:
        """The bundle at `ref` of branch `branch` in the workspace's `kind` repo, checked."""
        workspace = self.get(ws)
        if kind not in ("source", "data", "serve"):
            raise InvalidBundle(f"unknown bundle kind {kind!r}: source, serve or data")
        repo = repo_of(workspace.name, "source" if kind == "serve" else kind)
        commit = self._repos.resolve_required(repo, Ref(ref))
        root = self._files.root(commit)
        visible = [e for e in root.entries if not e.name.startswith(".")]
        if not visible:
            raise InvalidBundle(f"the {kind} bundle is empty: give a folder with files in it")
        dirs = [e for e in visible if isinstance(e, DirNode)]
        name = dirs[0].name if len(visible) == 1 and dirs else str(commit.branch)
        bundle = Bundle(
            kind=kind,
            name=name,
            repo=repo,
            branch=str(commit.branch),
            commit=str(commit.id),
            digest=str(commit.tree),
            author=author or commit.author,
            size=commit.size,
            files=commit.count,
        )
        if kind == "source":
            self.entrypoint(bundle)
        return bundle

    def entrypoint(self, bundle: Bundle) -> Entrypoint:
        """Find `train` (the shallowest file of that name), else a notebook `train.ipynb`, and
        the requirements beside it."""
        commit = self._repos.resolve_required(bundle.repo, Ref(bundle.commit))
        root = commit.tree
        notebook = False
        found = (
            []
            if root is None
            else bundlelayout.shallowest(root, self._files.listing, bundlelayout.TRAIN)
        )
        if not found and root is not None:
            found = bundlelayout.shallowest(root, self._files.listing, bundlelayout.NOTEBOOK)
            notebook = bool(found)
        entry = bundlelayout.NOTEBOOK if notebook else bundlelayout.TRAIN
        if not found:
            raise InvalidBundle(
                f"source bundle {bundle.path}: no `train` file found; the bundle needs an "
                "executable `train` (e.g. <bundle>/<name>/model/train) or a notebook "
                "`train.ipynb`, and a requirements.txt"
            )
        if len(found) > 1:
            raise InvalidBundle(
                f"source bundle {bundle.path}: several `{entry}` files at the same depth "
                f"({', '.join(f + entry for f in found)}): keep one"
            )
        folder = found[0]
        head = (
            b""
            if notebook
            else self._read_head(commit, folder + "train", len(bundlelayout.SHEBANG))
        )
        if not notebook and not bundlelayout.has_shebang(head):
            raise InvalidBundle(
                f"source bundle {bundle.path}: {folder}train does not start with a '#!' line "
                "(add e.g. `#!/usr/bin/env python3` as its first line)"
            )
        for candidate in bundlelayout.requirements_candidates(folder):
            if self._exists(commit, candidate):
                return Entrypoint(folder.rstrip("/"), candidate, notebook)
        raise InvalidBundle(
            f"source bundle {bundle.path}: no requirements.txt beside {folder}{entry} "
            "(an empty file is fine when the code needs only the standard library)"
        )

    def _exists(self, commit: Commit, path: str) -> bool:
        try:
            return isinstance(self._files.node(commit, "/" + path), FileNode)
        except NotFound:
            return False

    def _read_head(self, commit: Commit, path: str, n: int) -> bytes:
        node = self._files.node(commit, "/" + path)
        if not isinstance(node, FileNode):
            return b""
        for piece in self._files.content(node):
            return piece[:n]
        return b""


def no_data(repos: RepoService, commits: CommitService, ws: str, author: str) -> Bundle:
    """The empty data bundle (`/none:<hash>`) of a job given no data: its data folder is
    empty, what it reads over S3 is recorded in its provenance. One commit, reused."""
    repo = repo_of(ws, "data")
    head = repos.resolve(repo, Ref(NO_DATA)) if _has_branch(repos, repo) else None
    if head is None or head.count:
        head = commits.commit(
            repo, NO_DATA, [], ["/"], message="no data: the job reads over S3", author=author
        )
    return Bundle(
        kind="data",
        name=NO_DATA,
        repo=repo,
        branch=NO_DATA,
        commit=str(head.id),
        digest=str(head.tree),
        author=author,
    )


def _has_branch(repos: RepoService, repo: str) -> bool:
    return any(str(b.name) == NO_DATA for b in repos.list_branches(repo))
