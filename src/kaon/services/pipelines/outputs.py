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
from kaon.core.address import parse_ref
from kaon.core.commit import Commit
from kaon.core.errors import BaseMoved, InvalidInput, KaonError, NotFound
from kaon.core.ids import Digest
from kaon.core.pipelines.records import DatumRecord, DatumState, JobState, PipelineJob
from kaon.core.tree import (
    DirNode,
    FileContent,
    FileNode,
    apply_changes,
    find,
    walk_files,
)
from kaon.ports.executor import RunResult
from kaon.ports.pipelines import PipelineStore
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.localfs import store_files
from kaon.services.repos import RepoService
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

    def changes(
        self,
        records: Iterable[DatumRecord],
        previous: Mapping[str, str],
        base: Digest | None,
    ) -> tuple[list[Put], list[str], str]:
        """What turns the previous output commit (root tree `base`, the union of `previous`:
        datum id → output tree) into the union of `records`' outputs: the files of the datums
        whose output is new or changed (puts) and of those gone or changed (deletes) — O(changed
        datums), not O(datums). Or "" twice and the reason when two datums wrote one path."""
        current = {r.id: r.output for r in records if r.state in _KEPT and r.output is not None}
        gone = [d for d, out in previous.items() if current.get(d) != out]
        new = sorted(d for d, out in current.items() if previous.get(d) != out)
        deletes: set[str] = set()
        for d in gone:
            deletes.update(path for path, _ in self._files(previous[d]))
        owner: dict[str, str] = {}
        puts: list[Put] = []
        root = self._trees.load(base) if base else None
        for d in new:
            for path, node in self._files(str(current[d])):
                other = owner.setdefault(path, d)
                if (
                    root is not None
                    and other == d
                    and path not in deletes
                    and isinstance(find(root, path, self._trees.load), FileNode)
                ):
                    other = self._owner(path, current, set(new)) or "?"  # an unchanged datum's
                if other != d:
                    first, second = sorted((other, d))
                    return [], [], f"datums {first} and {second} both wrote {path}"
                puts.append(Put(path, node.size, node.chunks, node.meta))
        return puts, sorted(deletes - owner.keys()), ""

    def _files(self, output: str) -> Iterable[tuple[str, FileNode]]:
        return walk_files(self._trees.load(Digest(output)), "/", self._trees.load)

    def _owner(self, path: str, outputs: Mapping[str, str | None], skip: set[str]) -> str | None:
        """Which datum of `outputs` (not in `skip`) wrote `path` (a clash: rare)."""
        for d, out in sorted(outputs.items()):
            if d not in skip and out and any(p == path for p, _ in self._files(out)):
                return d
        return None


_KEPT = (DatumState.SUCCESS, DatumState.SKIPPED)


def commit_outputs(
    commits: CommitService,
    repo: str,
    branch: str,
    puts: list[Put],
    message: str,
    *,
    deletes: list[str] | None = None,
    base: str | None = None,
) -> Commit:
    """ONE commit on repo@branch: holding exactly `puts` (its former content replaced), or,
    given `deletes` and the `base` commit they apply to, `base` changed by them (BaseMoved
    when the branch is no longer at `base`)."""
    return commits.commit(
        repo,
        branch,
        puts,
        ["/"] if deletes is None else deletes,
        message=message,
        author="pipelines",
        base=base,
    )


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


PREVIOUS_JOBS = 20  # the output branch's head is looked for among this many recent jobs


@dataclass(frozen=True)
class Previous:
    """The output branch's head when a job made it: its root tree, its datums' outputs."""

    head: str
    root: Digest | None
    datums: dict[str, str]  # datum id → output tree


def previous_output(repos: RepoService, store: PipelineStore, job: PipelineJob) -> Previous | None:
    """The head of `job`'s output branch when an earlier successful job of the pipeline made
    it (None: no head, or someone else's commit: the output is built whole)."""
    try:
        head = repos.get_branch(job.output_repo, job.output_branch).head
    except NotFound:
        return None
    if head is None:
        return None
    recent = store.list_jobs(pipeline=job.pipeline, limit=PREVIOUS_JOBS)
    made = [j for j in recent if j.output_commit == head and j.state is JobState.SUCCESS]
    if not made or made[0].id == job.id:
        return None
    commit = repos.resolve_required(job.output_repo, parse_ref(head))
    datums = {
        r.id: r.output
        for r in store.list_datums(job.pipeline, made[0].id)
        if r.state in _KEPT and r.output is not None
    }
    return Previous(head, Digest(commit.tree) if commit.tree else None, datums)


def commit_job(
    outputs: JobOutputs,
    commits: CommitService,
    repos: RepoService,
    store: PipelineStore,
    job: PipelineJob,
    records: Iterable[DatumRecord],
) -> tuple[Commit, str] | str:
    """The job's ONE output commit and what it holds, in words; or why there is none (two
    datums wrote one path). Built on the previous output commit when a job made it (only the
    changed datums' files), else whole (the branch's former content replaced)."""
    message = f"pipeline {job.pipeline} job {job.id}"
    records = list(records)
    previous = previous_output(repos, store, job)
    if previous is not None:
        puts, deletes, clash = outputs.changes(records, previous.datums, previous.root)
        if clash:
            return clash
        try:
            commit = commit_outputs(
                commits,
                job.output_repo,
                job.output_branch,
                puts,
                message,
                deletes=deletes,
                base=previous.head,
            )
        except BaseMoved:  # someone committed meanwhile: built whole
            pass
        else:
            return commit, f"{len(puts)} file(s) written, {len(deletes)} removed"
    puts, clash = outputs.merge(records)
    if clash:
        return clash
    commit = commit_outputs(commits, job.output_repo, job.output_branch, puts, message)
    return commit, f"{len(puts)} file(s)"
