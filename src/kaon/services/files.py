"""Reading a commit's files: list, history, stat, content, walk, diff."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kaon.core import paths
from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import InvalidInput, PathNotFound
from kaon.core.ids import CommitId, Digest
from kaon.core.tree import EMPTY_TREE, DirNode, FileNode, Node, Tree, lookup, walk_files
from kaon.services.chunks import ChunkStore, LocalChunk
from kaon.services.repos import RepoService
from kaon.services.trees import TreeStore


@dataclass(frozen=True)
class FileInfo:
    path: str
    type: str  # "file" | "dir"
    size: int
    commit: CommitId | None = None
    committed: float | None = None
    meta: dict[str, str] | None = None  # a file's S3 object metadata, when it has any


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "added" | "removed" | "modified"
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class Revision:
    """A commit that changed a path: added, modified or removed it."""

    commit: Commit
    kind: str  # "added" | "removed" | "modified"
    size: int | None  # None once removed


def _info(path: str, node: Node, commit: Commit | None = None) -> FileInfo:
    kind = "dir" if isinstance(node, DirNode) else "file"
    meta = dict(node.meta) if isinstance(node, FileNode) and node.meta else None
    return FileInfo(
        path,
        kind,
        node.size,
        commit.id if commit else None,
        commit.finished if commit else None,
        meta,
    )


def _version(node: Node | Tree | None) -> object:
    if isinstance(node, FileNode):
        return node.chunks
    if isinstance(node, DirNode):
        return node.tree
    return None


class FileService:
    def __init__(self, repos: RepoService, trees: TreeStore, chunks: ChunkStore) -> None:
        self._repos = repos
        self._trees = trees
        self._chunks = chunks

    def root(self, commit: Commit | None) -> Tree:
        return self._trees.load(commit.tree) if commit and commit.tree else EMPTY_TREE

    def load_tree(self, tree: Digest) -> Tree:
        return self._trees.load(tree)

    def listing(self, tree: Digest) -> list[tuple[str, Digest | None]]:
        """A stored tree's entries as kaon.core.bundlelayout reads a folder: files (None), and
        sub-trees by digest."""
        return [
            (e.name, e.tree if isinstance(e, DirNode) else None)
            for e in self._trees.load(tree).entries
        ]

    def node(self, commit: Commit | None, path: str) -> Node | Tree:
        return lookup(self.root(commit), paths.normalize(path), self._trees.load)

    def list_files(
        self,
        repo: str,
        ref: Ref,
        path: str,
        history: int = 0,
        limit: int | None = None,
        after: str = "",
    ) -> list[FileInfo]:
        """Entries of the directory at `path` (or the file itself); with `history` n > 0,
        up to n revisions of each entry, newest first (-1: all). A page: at most `limit`
        entries, those named after the entry `after` (a path the previous page ended with);
        entries are sorted by name, so a page of a 100,000-entry folder is a binary search."""
        path = paths.normalize(path)
        commit = self._repos.resolve(repo, ref)
        node = self.node(commit, path)
        if isinstance(node, FileNode):
            entries: list[tuple[str, Node]] = [] if after else [(path, node)]
        else:
            tree = node if isinstance(node, Tree) else self._trees.load(node.tree)
            start = 0
            if after:
                name = paths.normalize(after).rpartition("/")[2]
                start = bisect.bisect_right(tree.entries, name, key=lambda e: e.name)
            end = len(tree.entries) if limit is None else start + max(0, limit)
            entries = [(paths.join(path, e.name), e) for e in tree.entries[start:end]]
        if history == 0 or commit is None:
            return [_info(p, n) for p, n in entries]
        return self._with_history(commit, entries, history)

    def _with_history(
        self, head: Commit, entries: list[tuple[str, Node]], limit: int
    ) -> list[FileInfo]:
        chain = self._repos.history(head.repo, Ref(head.id), None)
        out: list[FileInfo] = []
        for path, _ in entries:
            revisions: list[FileInfo] = []
            for i, commit in enumerate(chain):
                here = self._maybe(commit, path)
                if here is None:
                    break
                before = self._maybe(chain[i + 1], path) if i + 1 < len(chain) else None
                if _version(before) != _version(here):
                    assert not isinstance(here, Tree)
                    revisions.append(_info(path, here, commit))
                    if 0 < limit <= len(revisions):
                        break
            out.extend(revisions)
        return out

    def history(
        self, repo: str, ref: Ref, path: str, limit: int, scan: int
    ) -> tuple[list[Revision], CommitId | None]:
        """The commits that changed `path` (a file or a folder; "/": any file), newest first,
        from `ref` down its chain: at most `limit` of them, looking at at most `scan` commits
        (a bounded walk of a 10,000-commit chain); and where to go on from (a commit id, the
        next page's `ref`), None when the chain's first commit was reached. A commit with its
        parent's root tree is not looked into."""
        path = paths.normalize(path)
        if limit <= 0 or scan <= 0:
            raise InvalidInput("the history's limit and scan must be positive")
        chain = self._repos.history(repo, ref, scan + 1)
        seen: dict[Digest | None, tuple[object, int | None]] = {}

        def at(commit: Commit | None) -> tuple[object, int | None]:
            """(the path's version, its size) in `commit`; (None, None) where absent."""
            if commit is None:
                return None, None
            if commit.tree not in seen:
                if path == "/":
                    seen[commit.tree] = (commit.tree, commit.size) if commit.tree else (None, None)
                else:
                    node = self._maybe(commit, path)
                    seen[commit.tree] = (_version(node), node.size if node else None)
            return seen[commit.tree]

        out: list[Revision] = []
        for i, commit in enumerate(chain[:scan]):
            older = chain[i + 1] if i + 1 < len(chain) else None
            (here, size), (before, _) = at(commit), at(older)
            if here != before:
                kind = "added" if before is None else "removed" if here is None else "modified"
                out.append(Revision(commit, kind, size))
            if len(out) >= limit:
                return out, older.id if older is not None else None
        return out, chain[scan].id if len(chain) > scan else None

    def _maybe(self, commit: Commit, path: str) -> Node | Tree | None:
        try:
            return self.node(commit, path)
        except PathNotFound:
            return None

    def stat(self, repo: str, ref: Ref, path: str) -> tuple[Commit, FileInfo]:
        commit = self._repos.resolve_required(repo, ref)
        path = paths.normalize(path)
        node = self.node(commit, path)
        if isinstance(node, Tree):
            return commit, FileInfo(path, "dir", node.size)
        return commit, _info(path, node)

    def file(self, repo: str, ref: Ref, path: str) -> tuple[Commit, FileNode]:
        commit = self._repos.resolve_required(repo, ref)
        path = paths.normalize(path)
        node = self.node(commit, path)
        if not isinstance(node, FileNode):
            raise InvalidInput(f"{path} is a directory: use -r to get a directory")
        return commit, node

    def content(self, node: FileNode) -> Iterator[bytes]:
        return self._chunks.read(node.chunks)

    def where(self, node: FileNode) -> list[LocalChunk] | None:
        """Where `node`'s chunks lie in local files (None when the store's are not local)."""
        return self._chunks.where(node.chunks)

    def contents(self, nodes: Iterable[FileNode]) -> Iterator[bytes]:
        """The content of `nodes` one after the other, chunk by chunk (a chunk never spans
        two files), located and read in batches across files (a folder's archive)."""
        return self._chunks.read(itertools.chain.from_iterable(n.chunks for n in nodes))

    def walk(self, commit: Commit, path: str) -> Iterator[tuple[str, FileNode]]:
        """Every file at or below `path`, with paths relative to `path`."""
        path = paths.normalize(path)
        node = self.node(commit, path)
        if isinstance(node, FileNode):
            yield paths.parent_and_name(path)[1], node
            return
        tree = node if isinstance(node, Tree) else self._trees.load(node.tree)
        for sub, f in walk_files(tree, "/", self._trees.load):
            yield sub.lstrip("/"), f

    def diff(
        self, repo: str, new: Ref, old: Ref | None, path: str = "/", limit: int | None = None
    ) -> list[Change]:
        """Files added, removed or modified from `old` (default: new's parent) to `new`, in
        path order; with `limit`, the first `limit` of them (the walk stops there)."""
        new_commit = self._repos.resolve(repo, new)
        if old is not None:
            old_commit = self._repos.resolve(repo, old)
        elif new_commit is not None and new_commit.parent is not None:
            old_commit = self._repos.resolve(repo, Ref(new_commit.parent))
        else:
            old_commit = None
        path = paths.normalize(path)
        a = self._subtree(old_commit, path)
        b = self._subtree(new_commit, path)
        out: list[Change] = []
        self._diff_trees(a, b, path, out, limit)
        return out[:limit] if limit is not None else out

    def _subtree(self, commit: Commit | None, path: str) -> Tree:
        node = self._maybe(commit, path) if commit else None
        if isinstance(node, Tree):
            return node
        if isinstance(node, DirNode):
            return self._trees.load(node.tree)
        if isinstance(node, FileNode):
            return Tree((node,))
        return EMPTY_TREE

    def _diff_trees(
        self, a: Tree, b: Tree, where: str, out: list[Change], limit: int | None = None
    ) -> None:
        names = sorted({e.name for e in a.entries} | {e.name for e in b.entries})
        for name in names:
            if limit is not None and len(out) >= limit:
                return
            x, y = a.get(name), b.get(name)
            path = paths.join(where, name)
            if _version(x) == _version(y):
                continue
            if isinstance(x, DirNode) or isinstance(y, DirNode):
                sub_a = self._trees.load(x.tree) if isinstance(x, DirNode) else EMPTY_TREE
                sub_b = self._trees.load(y.tree) if isinstance(y, DirNode) else EMPTY_TREE
                if isinstance(x, FileNode):
                    out.append(Change(path, "removed", x.size, None))
                if isinstance(y, FileNode):
                    out.append(Change(path, "added", None, y.size))
                self._diff_trees(sub_a, sub_b, path, out, limit)
            elif x is None and y is not None:
                out.append(Change(path, "added", None, y.size))
            elif y is None and x is not None:
                out.append(Change(path, "removed", x.size, None))
            elif x is not None and y is not None:
                out.append(Change(path, "modified", x.size, y.size))
