"""S3 objects over versioned repos: reads, and writes as commits (the buckets and their
listings: kaon.services.s3.buckets, its base).

Every write (put, delete, delete-many, copy, completed multipart upload) is ONE commit on the
bucket's branch through CommitService, parent = the head it lands on; pinned commits are
read-only. Writes that carry a transaction id are staged instead (their chunks are stored at
once, nothing is visible) and become one commit when the transaction is committed. Reads and
writes signed with a job's key are recorded in that job's provenance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kaon.core import paths
from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import (
    BranchNotFound,
    Conflict,
    InvalidInput,
    KaonError,
    NotFound,
    PathNotFound,
    ReadOnly,
)
from kaon.core.ids import RepoName, branch_name
from kaon.core.jobs import JobId
from kaon.core.s3.buckets import Bucket, Location, locate
from kaon.core.s3.preconditions import WriteCondition
from kaon.core.tree import ChunkRef, FileNode, Meta, content_digest
from kaon.ports.jobs import JobStore
from kaon.ports.workspaces import WorkspaceStore
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.files import FileService
from kaon.services.localfs import store_files, store_stream
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3.buckets import BucketService, Who
from kaon.services.s3.conditions import Check, ConditionChecks
from kaon.services.s3.transactions import S3Transactions, TakenBranch

Cond = WriteCondition | None  # a conditional write (If-Match, If-None-Match: *)
_SEEN = 100_000  # (job, commit) reads already recorded


def _author(who: Who) -> str:
    """A commit's author: a user's key writes as its user, a job's as the job (its owner)."""
    if who is None:
        return "anonymous (s3)"
    return who.user if who.user is not None and who.job is None else who.owner


def etag_of(chunks: tuple[ChunkRef, ...]) -> str:
    """A stable content hash (the BLAKE3 content digest, 128 bits): equal bytes, equal ETag."""
    return content_digest(chunks)[:32]


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    path: str
    commit: Commit
    node: FileNode

    @property
    def etag(self) -> str:
        return etag_of(self.node.chunks)


class ObjectService(BucketService):
    """Objects in buckets (BucketService: the buckets and their listings): reads, writes as
    commits, transactions, and a job's reads and writes in its provenance."""

    def __init__(
        self,
        repos: RepoService,
        commits: CommitService,
        files: FileService,
        chunks: ChunkStore,
        workspaces: WorkspaceStore,
        jobs: JobStore,
        provenance: ProvenanceService,
        clock: Callable[[], float],
        transactions: S3Transactions,
    ) -> None:
        super().__init__(repos, files, workspaces)
        self._commits = commits
        self._chunks = chunks
        self._jobs = jobs
        self._provenance = provenance
        self._clock = clock
        self._conds = ConditionChecks(repos, files, etag_of)
        self._transactions = transactions  # writes staged in the database till committed
        self._seen: set[tuple[str, str, str]] = set()
        self._job_observers: list[Callable[[str, Commit, str, bool], None]] = []
        self._lock = threading.Lock()

    def on_job_access(self, callback: Callable[[str, Commit, str, bool], None]) -> None:
        """Call `callback(job, commit, path, wrote)` for reads and writes signed with the key
        of a job that is no training job (a pipeline job's: kaon.services.pipelines.s3access)."""
        self._job_observers.append(callback)

    # reading -----------------------------------------------------------------------------
    def stat(
        self, bucket: Bucket, key: str, who: Who = None, *, version: str = "", read: bool = False
    ) -> ObjectVersion:
        """The file at `key` (PathNotFound for a directory or nothing); with `read`, a job's
        read of it is recorded in its provenance."""
        loc = locate(bucket, key)
        commit = self._repos.resolve(loc.repo, Ref(version or loc.ref))
        if commit is None or loc.path == paths.ROOT:
            raise PathNotFound(f"no object {key!r} in bucket {bucket.name!r}")
        try:
            node = self._files.node(commit, loc.path)
        except PathNotFound:
            raise PathNotFound(f"no object {key!r} in bucket {bucket.name!r}") from None
        if not isinstance(node, FileNode):
            raise PathNotFound(f"no object {key!r} in bucket {bucket.name!r} (a prefix of others)")
        obj = ObjectVersion(key, loc.path, commit, node)
        if read:
            self._record(who, obj.commit, obj.path, wrote=False)
        return obj

    def read(self, node: FileNode, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of a file, decoding only the chunks that hold them."""
        end = node.size if end is None else min(end, node.size)
        wanted: list[ChunkRef] = []
        offset = 0
        first = 0
        for ref in node.chunks:
            if offset + ref.size > start and offset < end:
                if not wanted:
                    first = offset
                wanted.append(ref)
            offset += ref.size
        position = first
        for data in self._chunks.read(wanted):
            lo, hi = max(start - position, 0), min(end - position, len(data))
            position += len(data)
            yield data if (lo, hi) == (0, len(data)) else data[lo:hi]

    # writing -----------------------------------------------------------------------------
    def put_file(
        self,
        bucket: Bucket,
        key: str,
        local: Path,
        who: Who,
        tx: str = "",
        meta: Meta = (),
        cond: Cond = None,
    ) -> tuple[str, Commit | None]:
        """Store `local` at `key` with object metadata `meta`: (ETag, the commit; None when
        staged in transaction `tx`); with `cond`, only if the object there meets it when the
        commit is made."""
        loc = self.precheck(bucket, key, tx, cond)
        (put,) = store_files(self._chunks, [(loc.path.lstrip("/"), local)])
        put = put._replace(meta=meta)
        check = self._conds.at_commit(loc, key, cond)
        message = f"s3: put {loc.path}"
        return etag_of(put.chunks), self._write(loc, who, tx, [put], [], message, check)

    def put_stream(
        self,
        bucket: Bucket,
        key: str,
        stream: BinaryIO,
        who: Who,
        tx: str = "",
        meta: Meta = (),
        cond: Cond = None,
    ) -> tuple[str, Commit | None]:
        loc = self.precheck(bucket, key, tx, cond)
        put = store_stream(self._chunks, loc.path, stream)._replace(meta=meta)
        check = self._conds.at_commit(loc, key, cond)
        message = f"s3: put {loc.path}"
        return etag_of(put.chunks), self._write(loc, who, tx, [put], [], message, check)

    def copy(
        self,
        source: ObjectVersion,
        bucket: Bucket,
        key: str,
        who: Who,
        tx: str = "",
        meta: Meta | None = None,
        cond: Cond = None,
    ) -> tuple[str, Commit | None]:
        """Put `source`'s content at `key` (no bytes move: the same chunks), with its
        metadata or `meta` instead."""
        loc = self.precheck(bucket, key, tx, cond)
        put = Put(
            loc.path,
            source.node.size,
            source.node.chunks,
            source.node.meta if meta is None else meta,
        )
        message = (
            f"s3: copy {source.commit.repo}@{source.commit.id[:12]}:{source.path} to {loc.path}"
        )
        check = self._conds.at_commit(loc, key, cond)
        return etag_of(put.chunks), self._write(loc, who, tx, [put], [], message, check)

    def delete(
        self, bucket: Bucket, keys: list[str], who: Who, tx: str = "", cond: Cond = None
    ) -> Commit | None:
        """Delete the objects among `keys` that exist (S3 answers the same for missing
        ones); one commit, or none when nothing existed. With `cond` (one key), only if the
        object meets it when the commit is made (no object: nothing to do, as S3)."""
        if cond is not None:
            (key,) = keys
            try:
                loc = self.precheck(bucket, key, tx, cond)
                check = self._conds.at_commit(loc, key, cond)
                message = f"s3: delete {loc.path}"
                return self._write(loc, who, "", [], [loc.path], message, check)
            except PathNotFound:
                return None
        if not keys:
            return None
        locs = [self.writable(bucket, k) for k in keys]
        refs = {(loc.repo, loc.ref) for loc in locs}
        if len(refs) > 1:
            raise InvalidInput("delete objects of one branch per request")
        head = self._repos.resolve(locs[0].repo, Ref(locs[0].ref))
        existing = [loc.path for loc in locs if self._is_file(head, loc.path)]
        if tx:
            self._transactions.delete(locs[0], tx, [loc.path for loc in locs])
            return None
        if not existing:
            return None
        what = existing[0] if len(existing) == 1 else f"{len(existing)} objects"
        return self._write(locs[0], who, "", [], existing, f"s3: delete {what}")

    # transactions ------------------------------------------------------------------------
    def commit_transaction(self, bucket: Bucket, tx: str, who: Who) -> list[Commit]:
        """Everything staged under `tx` in this bucket as ONE commit per branch (a branch
        bucket has one; a lakeFS-style bucket one per branch written)."""
        staged = self._take(bucket, tx)
        out: list[Commit] = []
        for repo, branch, puts, deleted in staged:
            loc = Location(RepoName(repo), branch, paths.ROOT, True)
            head = self._repos.resolve(repo, Ref(branch))
            deletes = [p for p in deleted if self._is_file(head, p)]
            if puts or deletes:
                n = len(puts) + len(deletes)
                message = f"s3: transaction {tx} ({n} objects)"
                commit = self._write(loc, who, "", puts, deletes, message)
                assert commit is not None
                out.append(commit)
        return out

    def abort_transaction(self, bucket: Bucket, tx: str) -> None:
        self._take(bucket, tx)

    def _take(self, bucket: Bucket, tx: str) -> list[TakenBranch]:
        taken = self._transactions.take(bucket, tx)
        if not taken:
            raise NotFound(
                f"no open transaction {tx!r} on bucket {bucket.name!r}", s3_code="NoSuchUpload"
            )
        return taken

    # internals ---------------------------------------------------------------------------
    def writable(self, bucket: Bucket, key: str) -> Location:
        """Where a write of `key` lands: ReadOnly for commits, NotFound for no branch."""
        loc = locate(bucket, key)
        if not loc.writable:
            raise ReadOnly(
                f"bucket {bucket.name!r}, key {key!r}: a commit is read-only; write to a branch "
                f"bucket such as 'master.{bucket.repo}'"
            )
        try:
            self._repos.get_branch(loc.repo, loc.ref)
        except BranchNotFound:
            try:
                commit = self._repos.resolve(loc.repo, Ref(loc.ref))
            except KaonError:
                commit = None
            if commit is not None:
                raise ReadOnly(
                    f"{loc.ref} is a commit of {loc.repo}: commits are read-only"
                ) from None
            raise
        branch_name(loc.ref)
        return loc

    def precheck(self, bucket: Bucket, key: str, tx: str = "", cond: Cond = None) -> Location:
        """`writable`, and `cond` checked on the head now: a refusal before any byte is
        stored (the check that decides is made again in the commit)."""
        loc = self.writable(bucket, key)
        self._conds.now(loc, key, tx, cond)
        return loc

    def _write(
        self,
        loc: Location,
        who: Who,
        tx: str,
        puts: list[Put],
        deletes: list[str],
        message: str,
        check: Check | None = None,
    ) -> Commit | None:
        if tx:
            self._transactions.put(loc, tx, puts)
            return None
        author = _author(who)
        try:
            commit = self._commits.commit(
                loc.repo, loc.ref, puts, deletes, message=message, author=author, check=check
            )
        except Conflict as exc:  # the branch stayed too busy to check the condition
            if check is None or type(exc) is not Conflict:
                raise
            raise Conflict(exc.message, s3_code="ConditionalRequestConflict") from None
        self._record(who, commit, puts[0].path if len(puts) == 1 else "/", wrote=True)
        return commit

    def _is_file(self, commit: Commit | None, path: str) -> bool:
        if commit is None:
            return False
        try:
            return isinstance(self._files.node(commit, path), FileNode)
        except PathNotFound:
            return False

    def _record(self, who: Who, commit: Commit, path: str, *, wrote: bool) -> None:
        if who is None or who.job is None:
            return
        seen = (who.job, commit.id, "w" if wrote else "r")
        with self._lock:
            if seen in self._seen:
                return
            if len(self._seen) > _SEEN:
                self._seen.clear()
            self._seen.add(seen)
        job = self._jobs.get_job(JobId(who.job))
        if job is None:  # a pipeline job's key: its observers record it
            for observer in self._job_observers:
                observer(who.job, commit, path, wrote)
            return
        trials = self._jobs.list_trials(job.id)
        if wrote:
            self._provenance.data_written(job, trials, commit, path)
        else:
            self._provenance.data_read(job, trials, commit, path)
