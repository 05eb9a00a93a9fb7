"""S3 objects over versioned repos: buckets, listings, reads, and writes as commits.

Every write (put, delete, delete-many, copy, completed multipart upload) is ONE commit on the
bucket's branch through CommitService, parent = the head it lands on; pinned commits are
read-only. Writes that carry a transaction id are staged instead (their chunks are stored at
once, nothing is visible) and become one commit when the transaction is committed. Reads and
writes signed with a job's key are recorded in that job's provenance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from kaon.core import paths
from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.credentials import S3Credential
from kaon.core.errors import (
    BranchNotFound,
    Conflict,
    Forbidden,
    InvalidInput,
    KaonError,
    NotFound,
    PathNotFound,
    ReadOnly,
)
from kaon.core.ids import BranchName, RepoName, branch_name
from kaon.core.jobs import JobId
from kaon.core.s3.buckets import Bucket, Location, locate, parse_bucket, split_ref
from kaon.core.s3.listing import Listing, list_keys
from kaon.core.s3.preconditions import WriteCondition
from kaon.core.tree import ChunkRef, DirNode, FileNode, Meta, Tree, content_digest
from kaon.ports.jobs import JobStore
from kaon.ports.workspaces import WorkspaceStore
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.files import FileService
from kaon.services.localfs import store_files, store_stream
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3.conditions import Check, ConditionChecks

Who = S3Credential | None
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


@dataclass(frozen=True)
class Page:
    objects: list[tuple[str, FileNode, float]]  # key, node, last modified
    prefixes: list[str]
    truncated: bool
    last: str


@dataclass
class _Staged:
    puts: dict[str, Put] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)


class ObjectService:
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
    ) -> None:
        self._repos = repos
        self._commits = commits
        self._files = files
        self._chunks = chunks
        self._workspaces = workspaces
        self._jobs = jobs
        self._provenance = provenance
        self._clock = clock
        self._conds = ConditionChecks(repos, files, etag_of)
        self._staged: dict[tuple[str, str, str], _Staged] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    # buckets -----------------------------------------------------------------------------
    def buckets(self, readable: Callable[[str | None], bool]) -> list[tuple[str, float]]:
        """Every `<branch>.<repo>` and every bare `<repo>` (lakeFS style) of a workspace
        `readable(workspace)` (None: a shared repo) allows, with creation times. Workspaces'
        internal repos (`<ws>-source`, …) are left out of the listing, as `kaon list repo`
        does without --all; they stay addressable by name."""
        internal = self._internal()
        out: list[tuple[str, float]] = []
        for repo in self._repos.list_repos():
            if repo.name in internal or not readable(internal.get(repo.name)):
                continue
            out.append((repo.name, repo.created))
            out += [(f"{b}.{repo.name}", repo.created) for b in self._meta_branches(repo.name)]
        return sorted(out)

    @staticmethod
    def _check_reserved(bucket: Bucket, who: Who) -> None:
        from kaon.services.workspaces import reserved_for

        owner = reserved_for(bucket.repo)
        narrowed = who.workspace if who is not None else None
        if narrowed is not None and owner not in (None, narrowed):
            raise Forbidden(
                f"Access Denied: bucket {bucket.name!r} is named as an internal repo of "
                f"workspace {owner!r} (existing or to come): a job's key (of workspace "
                f"{narrowed!r}) cannot create it; name the repo otherwise (not "
                "<workspace>-data, -models, ...)"
            )

    def _internal(self) -> dict[str, str]:
        """Workspaces' internal repos, each with its workspace."""
        from kaon.services.workspaces import KINDS, repo_of

        return {
            repo_of(w.name, k): w.name for w in self._workspaces.list_workspaces() for k in KINDS
        }

    def check_bucket(self, bucket: Bucket) -> None:
        """NotFound (repo, branch or commit) unless the bucket exists."""
        if bucket.by_key:
            self._repos.get_repo(bucket.repo)
        elif bucket.commit is not None:
            self._repos.resolve_required(bucket.repo, Ref(bucket.commit))
        else:
            assert bucket.branch is not None
            self._repos.get_branch(bucket.repo, bucket.branch)

    def bucket_exists(self, name: str) -> bool:
        """Whether bucket `name` (its repo, branch or commit) still exists."""
        try:
            self.check_bucket(parse_bucket(name))
        except NotFound:
            return False
        return True

    def create_bucket(self, bucket: Bucket, who: Who = None) -> bool:
        """Create the repo and branch a bucket names (lakeFS style: the repo and `master`);
        False when they all existed already. A key scoped to a workspace (a job's) creates no
        repo named as another workspace's internal one, existing or to come."""
        if bucket.commit is not None:
            raise ReadOnly(
                f"bucket {bucket.name!r} names a commit: buckets of commits are read-only"
            )
        created = False
        try:
            self._repos.get_repo(bucket.repo)
        except NotFound:
            self._check_reserved(bucket, who)
            self._repos.create_repo(bucket.repo, "created through the S3 gateway")
            created = True
        branch = bucket.branch or BranchName("master")
        try:
            self._repos.get_branch(bucket.repo, branch)
        except BranchNotFound:
            self._repos.create_branch(bucket.repo, branch, None)
            created = True
        return created

    def _meta_branches(self, repo: str) -> list[BranchName]:
        return [b.name for b in self._repos.list_branches(repo)]

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

    def list_objects(
        self, bucket: Bucket, prefix: str, delimiter: str, after: str, limit: int
    ) -> Page:
        if bucket.by_key and "/" not in prefix:  # the top level: branches as directories
            heads = [
                (b, self._repos.resolve(bucket.repo, Ref(b)))
                for b in self._meta_branches(bucket.repo)
            ]
            live = [(b, c) for b, c in heads if c is not None and c.tree]
            root = Tree(tuple(DirNode(b, c.size, c.count, c.tree) for b, c in live if c.tree))
            times = {b + "/": c.finished for b, c in live}
            listing = list_keys(root, self._files.load_tree, prefix, delimiter, after, limit)
            return self._page(listing, "", lambda key: times.get(key.split("/")[0] + "/", 0.0))
        if bucket.by_key:
            ref = split_ref(prefix)[0]
            pre = ref + "/"
        else:
            ref, pre = bucket.commit or str(bucket.branch), ""
        commit = self._repos.resolve(bucket.repo, Ref(ref))
        rel_prefix = prefix[len(pre) :]
        if after and after[: len(pre)] != pre:
            if after > pre:  # past everything of this version
                return Page([], [], False, "")
            after = pre
        root = self._files.root(commit)
        listing = list_keys(
            root, self._files.load_tree, rel_prefix, delimiter, after[len(pre) :], limit
        )
        finished = commit.finished if commit else 0.0
        return self._page(listing, pre, lambda key: finished)

    @staticmethod
    def _page(listing: Listing, pre: str, when: Callable[[str], float]) -> Page:
        objects = [(pre + k, node, when(pre + k)) for k, node in listing.objects]
        prefixes = [pre + p for p in listing.prefixes]
        last = pre + listing.last if listing.last else ""
        return Page(objects, prefixes, listing.truncated, last)

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
        staged = self._staged_for(locs[0], tx) if tx else None
        if staged is not None:
            with self._lock:
                for loc in locs:
                    staged.puts.pop(loc.path, None)
                staged.deletes.update(existing)
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
        for (repo, branch, _), changes in staged:
            loc = Location(RepoName(repo), branch, paths.ROOT, True)
            head = self._repos.resolve(repo, Ref(branch))
            deletes = [p for p in sorted(changes.deletes) if self._is_file(head, p)]
            if changes.puts or deletes:
                n = len(changes.puts) + len(deletes)
                message = f"s3: transaction {tx} ({n} objects)"
                commit = self._write(loc, who, "", list(changes.puts.values()), deletes, message)
                assert commit is not None
                out.append(commit)
        return out

    def abort_transaction(self, bucket: Bucket, tx: str) -> None:
        self._take(bucket, tx)

    def _take(self, bucket: Bucket, tx: str) -> list[tuple[tuple[str, str, str], _Staged]]:
        with self._lock:
            keys = [
                k
                for k in self._staged
                if k[0] == bucket.repo and k[2] == tx and (bucket.by_key or k[1] == bucket.branch)
            ]
            taken = [(k, self._staged.pop(k)) for k in keys]
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

    def _staged_for(self, loc: Location, tx: str) -> _Staged:
        with self._lock:
            return self._staged.setdefault((loc.repo, loc.ref, tx), _Staged())

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
            staged = self._staged_for(loc, tx)
            with self._lock:
                for put in puts:
                    staged.deletes.discard(put.path)
                    staged.puts[put.path] = put
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
        if job is None:
            return
        trials = self._jobs.list_trials(job.id)
        if wrote:
            self._provenance.data_written(job, trials, commit, path)
        else:
            self._provenance.data_read(job, trials, commit, path)
