"""Writing commits: all or nothing, serialised per branch, no lost update."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from kaon.core import paths
from kaon.core.commit import Commit, seal
from kaon.core.errors import BaseMoved, Conflict, InvalidInput, MissingChunks
from kaon.core.ids import CommitId, Digest, all_digests, branch_name
from kaon.core.tree import (
    ChunkRef,
    DirNode,
    FileContent,
    FileNode,
    Meta,
    Node,
    Tree,
    apply_changes,
    find,
)
from kaon.ports.metadata import MetadataStore
from kaon.services.locks import KeyedLocks, SharedExclusiveLock
from kaon.services.repos import RepoService
from kaon.services.trees import TreeStore

_MAX_ATTEMPTS = 100
log = logging.getLogger("kaon")


class Put(NamedTuple):  # a tuple: a folder's commit makes 20,000 of them
    path: str
    size: int
    chunks: tuple[ChunkRef, ...]
    meta: Meta = ()  # S3 object metadata (kaon.core.tree.Meta)


class CommitService:
    def __init__(
        self,
        meta: MetadataStore,
        repos: RepoService,
        trees: TreeStore,
        gc_lock: SharedExclusiveLock,
        clock: Callable[[], float],
    ) -> None:
        self._meta = meta
        self._repos = repos
        self._trees = trees
        self._gc_lock = gc_lock
        self._branch_locks = KeyedLocks()
        self._clock = clock
        self._observers: list[Callable[[Commit], None]] = []

    def on_commit(self, callback: Callable[[Commit], None]) -> None:
        """Call `callback(commit)` after each commit lands, outside the branch's lock, in the
        committing thread (pipelines start their jobs from it). A callback's error is logged,
        never raised: the commit has landed whatever an observer does with it."""
        self._observers.append(callback)

    def commit(
        self,
        repo: str,
        branch: str,
        puts: Iterable[Put],
        deletes: Iterable[str] = (),
        *,
        message: str = "",
        author: str = "",
        started: float | None = None,
        base: str | None = None,
        staged: Mapping[str, FileContent] | None = None,
        check: Callable[[Commit | None], None] | None = None,
    ) -> Commit:
        """Apply `deletes` then `puts` on top of the branch head as ONE new commit.

        With `base` (a commit id), the puts are only what changed since `base`: the commit is
        refused with BaseMoved unless the branch head is still `base`, and may then be empty
        (a re-put of unchanged files records a new commit with the same tree, as pachctl does).
        `staged` holds puts checked already (kaon.services.staging); `puts` win over them.
        `check` is called with the head the commit is built on, inside the branch's critical
        section and again on every retry: it raises to refuse the commit (a conditional write).
        Once it has landed, the `on_commit` observers are told.
        """
        r = self._repos.get_repo(repo).name
        b = branch_name(branch)
        begun = self._clock() if started is None else started
        put_map = dict(staged) if staged else {}
        put_map.update(content_map(puts))
        delete_list = [paths.normalize(p) for p in deletes]
        if not put_map and not delete_list and base is None:
            raise InvalidInput("nothing to commit: no file to put or delete")
        with self._gc_lock.shared(), self._branch_locks.hold(r, b):
            for _ in range(_MAX_ATTEMPTS):
                current = self._meta.get_branch(r, b)
                head = current.head if current else None
                if base is not None and head != base:
                    raise BaseMoved(
                        f"branch '{branch}' moved from {base[:12]} to {str(head)[:12]}: "
                        "send every file, not only the changed ones"
                    )
                parent = self._meta.get_commit(head) if head else None
                if check is not None:
                    check(parent)
                changed = self._changed(parent.tree if parent else None, put_map, delete_list)
                self._check_chunks(changed.values())
                tree = apply_changes(
                    parent.tree if parent else None,
                    changed,
                    delete_list,
                    self._trees.load,
                    self._trees.save,
                )
                root = self._trees.save(tree)
                commit = seal(
                    Commit(
                        id=CommitId(""),
                        repo=r,
                        branch=b,
                        parent=head,
                        tree=root,
                        size=tree.size,
                        count=tree.count,
                        message=message,
                        author=author,
                        started=begun,
                        finished=self._clock(),
                    )
                )
                self._trees.save_commit(commit)
                self._trees.sync()  # packs, trees and commit object durable before visible
                if self._meta.add_commit(commit, head):
                    break
            else:
                raise Conflict(f"branch '{branch}' of repo '{repo}' is too busy: try again")
        for callback in self._observers:
            try:
                callback(commit)
            except Exception:  # an observer never breaks a commit that has landed
                log.exception("commit %s: an on_commit observer failed", commit.id)
        return commit

    def _changed(
        self, root: Digest | None, puts: dict[str, FileContent], deletes: list[str]
    ) -> dict[str, FileContent]:
        """The puts that change something: re-putting identical content (a re-put of an
        unchanged folder) neither rewrites trees nor needs its chunks checked again."""
        if root is None:
            return puts
        top = self._trees.load(root)
        dirs: dict[str, dict[str, Node] | None] = {}  # each parent directory loaded once
        out: dict[str, FileContent] = {}
        for path, content in puts.items():
            parent, name = path.rsplit("/", 1)
            entries = dirs.get(parent, {})
            if parent not in dirs:
                node = find(top, parent or "/", self._trees.load)
                tree = self._trees.load(node.tree) if isinstance(node, DirNode) else node
                entries = dirs[parent] = (
                    {e.name: e for e in tree.entries} if isinstance(tree, Tree) else None
                )
            old = entries.get(name) if entries else None
            same = (
                isinstance(old, FileNode)
                and old.chunks == content.chunks
                and old.meta == content.meta
            )
            if not same or (deletes and any(paths.is_under(path, d) for d in deletes)):
                out[path] = content
        return out

    def _check_chunks(self, contents: Iterable[FileContent]) -> None:
        wanted: list[Digest] = list({c.digest: None for f in contents for c in f.chunks})
        if not all_digests(wanted):  # typed, but a caller may have skipped parse_puts
            bad = next(d for d in wanted if not all_digests([d]))
            raise InvalidInput(f"invalid digest {bad!r}: expected 64 lowercase hex characters")
        missing = self._meta.missing_chunks(wanted)
        if missing:
            raise MissingChunks(
                f"{len(missing)} chunk(s) of this commit are not in the store (never sent, or "
                "reclaimed by `kaon gc` once the upload's lease ended): send them (POST "
                "/v1/packs with a lease, docs/api.md) and commit again; `kaon put` does both",
                missing=sorted(missing),
            )


def content_map(puts: Iterable[Put]) -> dict[str, FileContent]:
    """Normalised path -> content of `puts`, each size checked against its chunks."""
    out: dict[str, FileContent] = {}
    for put in puts:  # digests are typed: checked where they came in (parse_puts)
        if put.size != sum(c.size for c in put.chunks) or put.size < 0:
            raise InvalidInput(f"{put.path}: size {put.size} does not match its chunks")
        path = paths.normalize(put.path)
        if path == paths.ROOT:
            raise InvalidInput(f"put of {put.path!r}: that is the repo root, name a file")
        out[path] = FileContent(put.size, put.chunks, put.meta)
    return out


def parse_puts(rows: object) -> list[Put]:
    """Puts from their wire form [{path, size, chunks: [[digest, size], ...]}, ...].

    Built first, then checked all at once (digests, sizes): ~3x faster on 20,000 rows."""
    if not isinstance(rows, list):
        raise InvalidInput("puts must be a list of {path, size, chunks}")
    out: list[Put] = []
    for i, row in enumerate(rows):
        try:
            path, size, raw = row["path"], row["size"], row["chunks"]
            if type(raw) is not list:
                raise TypeError(raw)
            chunks = tuple(map(ChunkRef._make, raw))
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                f"puts[{i}]: expected {{path, size, chunks: [[digest, size], ...]}}"
            ) from None
        size = _whole(size)
        if type(path) is not str or type(size) is not int:
            raise InvalidInput(f"puts[{i}]: path must be a string and size an integer")
        out.append(Put(path, size, chunks))
    refs = [c for put in out for c in put.chunks]
    if refs and not _valid_refs(refs):
        out = [
            Put(put.path, put.size, tuple(ChunkRef(d, _whole(n)) for d, n in put.chunks))
            for put in out
        ]
        for i, put in enumerate(out):  # the slow way, to name the first bad row
            if not _valid_refs(put.chunks):
                raise InvalidInput(
                    f"puts[{i}]: chunks must be [digest, size] pairs: 64 lowercase hex "
                    "characters and a non-negative integer"
                )
    return out


def _whole(n: Any) -> Any:
    """JSON's 90.0 is the integer 90 (JSON Schema says so; some encoders write it)."""
    return int(n) if type(n) is float and n.is_integer() else n


def _valid_refs(refs: Sequence[ChunkRef]) -> bool:
    sizes = [r.size for r in refs]
    return (
        all_digests([r.digest for r in refs])
        and set(map(type, sizes)) <= {int}
        and min(sizes, default=0) >= 0
    )
