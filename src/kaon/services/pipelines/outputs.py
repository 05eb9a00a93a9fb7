"""A job's outputs: each datum's /pfs/out stored as a tree (its chunks packed, no commit), then
the datums' trees merged into ONE commit of the output branch.

A symlink the executor normalised to "/pfs/<input>/<path>" is stored as that input file's
chunks (no copy; a directory: every file below it). A symlink to a file inside /pfs/out is
stored as a copy of it; any other symlink fails the datum.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kaon.core import paths
from kaon.core.commit import Commit
from kaon.core.errors import InvalidInput, KaonError
from kaon.core.ids import Digest
from kaon.core.pipelines.records import DatumRecord, DatumState
from kaon.core.tree import (
    DirNode,
    FileContent,
    FileNode,
    apply_changes,
    find,
    walk_files,
)
from kaon.ports.executor import RunResult
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.localfs import store_files
from kaon.services.trees import TreeStore

PFS = "/pfs/"


@dataclass(frozen=True)
class Stored:
    output: str | None  # the tree digest (None: it wrote nothing)
    size: int  # bytes of its files
    seconds: float


class DatumSink:
    """The OutputSink of one try of a datum: stores its output when the try succeeded."""

    def __init__(
        self,
        outputs: JobOutputs,
        succeeded: Callable[[RunResult], bool],
        log: Callable[[str], None],
    ) -> None:
        self._outputs = outputs
        self._succeeded = succeeded
        self._log = log
        self.stored: Stored | None = None
        self.error = ""

    def deliver(self, folder: Path, result: RunResult) -> None:
        if not self._succeeded(result):
            return
        try:
            self.stored = self._outputs.store(folder)
        except KaonError as exc:
            self.error = exc.message
            self._log(exc.message)


class JobOutputs:
    """Stores datum outputs of one job (chunks pinned by the job's lease until its commit)."""

    def __init__(
        self,
        chunks: ChunkStore,
        trees: TreeStore,
        lease: str,
        input_roots: Mapping[str, Digest | None],
    ) -> None:
        self._chunks = chunks
        self._trees = trees
        self._lease = lease
        self._roots = input_roots  # input name → its commit's root tree
        self._lock = threading.Lock()
        self.upload_seconds = 0.0  # storing the datums' outputs, in all

    def store(self, folder: Path) -> Stored:
        """The datum's output folder as a saved tree."""
        began = time.monotonic()
        regular: list[tuple[str, Path]] = []
        linked: dict[str, FileContent] = {}
        for rel, full in _entries(folder):
            if full.is_symlink():
                linked.update(self._link(folder, rel, full))
            elif full.is_file():
                regular.append((rel, full))
        puts = store_files(self._chunks, regular, "", self._lease)
        contents = {p.path: FileContent(p.size, p.chunks) for p in puts}
        contents.update({paths.normalize(k): v for k, v in linked.items()})
        if not contents:
            return Stored(None, 0, time.monotonic() - began)
        tree = apply_changes(None, contents, (), self._trees.load, self._trees.save)
        digest = self._trees.save(tree)
        size = sum(c.size for c in contents.values())
        return self._spent(Stored(digest, size, time.monotonic() - began))

    def _spent(self, stored: Stored) -> Stored:
        with self._lock:
            self.upload_seconds += stored.seconds
        return stored

    def _link(self, folder: Path, rel: str, full: Path) -> dict[str, FileContent]:
        target = str(full.readlink())
        where = f"/pfs/out/{rel}"
        if target.startswith(PFS) and not target.startswith(PFS + "out/"):
            name, _, path = target[len(PFS) :].partition("/")
            root = self._roots.get(name)
            node = find(self._trees.load(root), "/" + path, self._trees.load) if root else None
            if isinstance(node, FileNode):
                return {"/" + rel: FileContent(node.size, node.chunks, node.meta)}
            if isinstance(node, DirNode):
                below = walk_files(self._trees.load(node.tree), "/" + rel, self._trees.load)
                return {p: FileContent(n.size, n.chunks, n.meta) for p, n in below}
            raise InvalidInput(f"{where} links to {target}, which is not in input {name!r}")
        resolved = full.resolve()
        inside = resolved.is_relative_to(folder.resolve())
        if inside and resolved.is_file():
            rel_target = resolved.relative_to(folder.resolve()).as_posix()
            (put,) = store_files(self._chunks, [(rel_target, resolved)], "", self._lease)
            return {"/" + rel: FileContent(put.size, put.chunks)}
        raise InvalidInput(
            f"{where} is a symbolic link to {target}, outside /pfs/out and the inputs: "
            "write the file itself (or link to a file under /pfs/<input>)"
        )

    # -- the job's commit ------------------------------------------------------------------

    def merge(self, records: Iterable[DatumRecord]) -> tuple[list[Put], str]:
        """Every file of the datums' outputs (SUCCESS and SKIPPED): the puts, or "" when two
        datums wrote one path: the reason naming both and the path."""
        owner: dict[str, str] = {}
        puts: list[Put] = []
        for record in sorted(records, key=lambda r: r.id):
            if record.output is None or record.state not in _KEPT:
                continue
            tree = self._trees.load(Digest(record.output))
            for path, node in walk_files(tree, "/", self._trees.load):
                other = owner.setdefault(path, record.id)
                if other != record.id:
                    return [], f"datums {other} and {record.id} both wrote {path}"
                puts.append(Put(path, node.size, node.chunks, node.meta))
        return puts, ""


_KEPT = (DatumState.SUCCESS, DatumState.SKIPPED)


def commit_outputs(
    commits: CommitService, repo: str, branch: str, puts: list[Put], message: str
) -> Commit:
    """ONE commit holding exactly `puts` on repo@branch (its former content replaced)."""
    return commits.commit(repo, branch, puts, ["/"], message=message, author="pipelines")


def _entries(folder: Path) -> Iterable[tuple[str, Path]]:
    """(relative posix path, path) of every file and symlink below `folder`, symlinked
    directories not followed."""
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in list(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)
                filenames.append(name)
        for name in filenames:
            full = here / name
            yield full.relative_to(folder).as_posix(), full
