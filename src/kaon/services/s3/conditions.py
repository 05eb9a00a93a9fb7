"""Conditional writes on the S3 gateway: a WriteCondition checked once against the branch
head before any byte is stored (a quick refusal), and again inside the commit's critical
section (CommitService `check`), where it decides: checking and committing are one step."""

from __future__ import annotations

from collections.abc import Callable

from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import PathNotFound, Unsupported
from kaon.core.s3.buckets import Location
from kaon.core.s3.preconditions import Current, WriteCondition
from kaon.core.tree import ChunkRef, FileNode
from kaon.services.files import FileService
from kaon.services.repos import RepoService

Check = Callable[[Commit | None], None]


class ConditionChecks:
    def __init__(
        self, repos: RepoService, files: FileService, etag: Callable[[tuple[ChunkRef, ...]], str]
    ) -> None:
        self._repos = repos
        self._files = files
        self._etag = etag  # the ETag the gateway answers for a file's chunks

    def now(self, loc: Location, key: str, tx: str, cond: WriteCondition | None) -> None:
        """Check `cond` on the current head of `loc`'s branch (None: nothing to check)."""
        if cond is None:
            return
        if tx:
            raise Unsupported(
                "conditional writes (If-Match, If-None-Match) cannot be staged in a "
                "transaction: write without the transaction id, or without the condition"
            )
        head = self._repos.resolve(loc.repo, Ref(loc.ref))
        cond.check(key, self.current(head, loc.path))

    def at_commit(self, loc: Location, key: str, cond: WriteCondition | None) -> Check | None:
        """The check CommitService runs on the head it builds the commit on."""
        if cond is None:
            return None
        return lambda parent: cond.check(key, self.current(parent, loc.path))

    def current(self, commit: Commit | None, path: str) -> Current | None:
        """The file at `path` in `commit` as a condition sees it (None: no file there)."""
        if commit is None:
            return None
        try:
            node = self._files.node(commit, path)
        except PathNotFound:
            return None
        if not isinstance(node, FileNode):
            return None
        return Current(self._etag(node.chunks), node.size, commit.finished)
