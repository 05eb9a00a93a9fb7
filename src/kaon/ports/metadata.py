"""MetadataStore: the small, transactional part of kaon's state (SQLite, PostgreSQL, memory).

Immutable content (packs, trees, commit objects) lives in the ObjectStore; the metadata store
indexes it and holds the only mutable state: repos and branch heads, moved by compare-and-set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from kaon.core.commit import Commit
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName
from kaon.core.repo import Branch, Repo


@dataclass(frozen=True)
class ChunkLocation:
    digest: Digest
    pack: PackId
    offset: int
    stored_len: int
    raw_len: int
    codec: int


@dataclass(frozen=True)
class PackInfo:
    id: PackId
    size: int
    created: float


class RepoStore(Protocol):
    def create_repo(self, repo: Repo) -> None:
        """Raises AlreadyExists when the name is taken."""
        ...

    def get_repo(self, name: RepoName) -> Repo | None:
        """None when there is no such repo."""
        ...

    def list_repos(self) -> list[Repo]:
        """Every repo, sorted by name."""
        ...

    def delete_repo(self, name: RepoName) -> None:
        """Remove the repo, its branches and its commit rows (objects are left to gc); an
        unknown name is ignored."""
        ...


class RefStore(Protocol):
    def get_branch(self, repo: RepoName, name: BranchName) -> Branch | None:
        """None when there is no such branch."""
        ...

    def list_branches(self, repo: RepoName) -> list[Branch]:
        """The repo's branches, sorted by name (none for an unknown repo)."""
        ...

    def set_branch(
        self, repo: RepoName, name: BranchName, head: CommitId | None, *, create: bool
    ) -> None:
        """Create (create=True, AlreadyExists if present, RepoNotFound without the repo) or
        move a branch unconditionally (BranchNotFound if absent)."""
        ...

    def delete_branch(self, repo: RepoName, name: BranchName) -> None:
        """Remove the branch (its commits stay); an unknown branch is ignored."""
        ...


class CommitIndex(Protocol):
    def add_commit(self, commit: Commit, expected_head: CommitId | None) -> bool:
        """Record `commit` and move its branch to it in ONE transaction, only if the branch
        head is still `expected_head` (None: branch absent or without head). Returns False
        (and changes nothing) when the head moved meanwhile; creates the branch if absent
        (RepoNotFound without the repo)."""
        ...

    def get_commit(self, commit_id: CommitId) -> Commit | None:
        """None when there is no such commit."""
        ...

    def find_commits(self, repo: RepoName, prefix: str, limit: int = 2) -> list[CommitId]:
        """Commit ids of `repo` starting with `prefix` (at most `limit`), sorted; none for a
        prefix that is not lowercase hex."""
        ...

    def history(self, start: CommitId, limit: int | None = None) -> list[Commit]:
        """`start` and its ancestors, newest first, at most `limit` (none for an unknown
        start)."""
        ...

    def iter_commits(self) -> Iterator[Commit]:
        """Every commit of every repo (for gc)."""
        ...


class ChunkIndex(Protocol):
    def missing_chunks(self, digests: Sequence[Digest]) -> set[Digest]:
        """Those of `digests` not indexed."""
        ...

    def add_pack(self, pack: PackInfo, chunks: Iterable[ChunkLocation]) -> None:
        """Index a stored pack and its chunks in one transaction (known digests keep
        their existing location)."""
        ...

    def locate(self, digests: Sequence[Digest]) -> dict[Digest, ChunkLocation]:
        """Where each indexed one of `digests` is (unknown digests are left out)."""
        ...

    def list_packs(self) -> list[PackInfo]:
        """Every pack, oldest first (then by id)."""
        ...

    def pack_chunks(self, pack: PackId) -> list[ChunkLocation]:
        """The chunks located in `pack`, by offset."""
        ...

    def move_chunks(self, chunks: Iterable[ChunkLocation]) -> None:
        """Point existing digests at new locations (repacking; unknown digests are ignored)."""
        ...

    def drop_chunks(self, digests: Iterable[Digest]) -> None:
        """Unindex `digests` (unknown ones are ignored)."""
        ...

    def drop_pack(self, pack: PackId) -> None:
        """Remove the pack row and any chunk rows still pointing into it."""
        ...

    def iter_chunk_digests(self) -> Iterator[Digest]:
        """Every indexed digest, in order (for gc)."""
        ...


class LeaseStore(Protocol):
    """Leases of in-flight uploads: gc spares the digests they pin until they expire."""

    def hold(self, lease: str, digests: Sequence[Digest], expires: float) -> None:
        """Create `lease` or renew it (its expiry becomes the later of the two: never
        shortened) and pin `digests` under it."""
        ...

    def release(self, lease: str, digests: Sequence[Digest] | None = None) -> None:
        """Unpin `digests` of `lease`; with None the lease and all its pins (its upload is
        committed or abandoned). Unknown leases and digests are ignored."""
        ...

    def leased_digests(self, now: float) -> set[Digest]:
        """Every digest pinned by a lease that has not expired at `now`."""
        ...

    def expire_leases(self, now: float) -> int:
        """Remove the leases expired at `now` (expiry <= now) with their pins; how many."""
        ...


class MetadataStore(RepoStore, RefStore, CommitIndex, ChunkIndex, LeaseStore, Protocol):
    """Everything the data services need from the metadata database."""
