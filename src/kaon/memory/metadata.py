"""MemoryMetadataStore: the MetadataStore port (repos, branches, commits, chunks and packs,
upload leases) over the shared in-memory tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, BranchNotFound, RepoNotFound
from kaon.core.ids import BranchName, CommitId, Digest, PackId, RepoName, is_hex
from kaon.core.repo import Branch, Repo
from kaon.memory.tables import Tables
from kaon.ports.metadata import ChunkLocation, PackInfo


class MemoryMetadataStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    # -- repos -----------------------------------------------------------------------------

    def create_repo(self, repo: Repo) -> None:
        with self._t.lock:
            if repo.name in self._t.repos:
                raise AlreadyExists(f"repo {repo.name!r} already exists", repo=repo.name)
            self._t.repos[repo.name] = repo

    def get_repo(self, name: RepoName) -> Repo | None:
        with self._t.lock:
            return self._t.repos.get(name)

    def list_repos(self) -> list[Repo]:
        with self._t.lock:
            return sorted(self._t.repos.values(), key=lambda r: r.name)

    def delete_repo(self, name: RepoName) -> None:
        t = self._t
        with t.lock:
            for commit in [c for c in t.commits.values() if c.repo == name]:
                del t.commits[commit.id]
            for key in [k for k in t.branches if k[0] == name]:
                del t.branches[key]
            t.repos.pop(name, None)

    # -- branches --------------------------------------------------------------------------

    def get_branch(self, repo: RepoName, name: BranchName) -> Branch | None:
        with self._t.lock:
            if (repo, name) not in self._t.branches:
                return None
            return Branch(repo, name, self._t.branches[repo, name])

    def list_branches(self, repo: RepoName) -> list[Branch]:
        with self._t.lock:
            found = [(n, head) for (r, n), head in self._t.branches.items() if r == repo]
        return [Branch(repo, n, head) for n, head in sorted(found)]

    def set_branch(
        self, repo: RepoName, name: BranchName, head: CommitId | None, *, create: bool
    ) -> None:
        t = self._t
        with t.lock:
            exists = (repo, name) in t.branches
            if create and exists:
                raise AlreadyExists(
                    f"branch {name!r} already exists in repo {repo!r}", repo=repo, branch=name
                )
            if not create and not exists:
                raise BranchNotFound(
                    f"branch {name!r} not found in repo {repo!r}", repo=repo, branch=name
                )
            if repo not in t.repos:
                raise RepoNotFound(f"repo {repo!r} not found", repo=repo)
            t.branches[repo, name] = head

    def delete_branch(self, repo: RepoName, name: BranchName) -> None:
        with self._t.lock:
            self._t.branches.pop((repo, name), None)

    # -- commits ---------------------------------------------------------------------------

    def add_commit(self, commit: Commit, expected_head: CommitId | None) -> bool:
        t = self._t
        key = (commit.repo, commit.branch)
        with t.lock:
            if key in t.branches:
                if t.branches[key] != expected_head:
                    return False
            elif expected_head is not None:
                return False
            elif commit.repo not in t.repos:
                raise RepoNotFound(f"repo {commit.repo!r} not found", repo=commit.repo)
            t.branches[key] = commit.id
            t.commits.setdefault(commit.id, commit)
        return True

    def get_commit(self, commit_id: CommitId) -> Commit | None:
        with self._t.lock:
            return self._t.commits.get(commit_id)

    def find_commits(self, repo: RepoName, prefix: str, limit: int = 2) -> list[CommitId]:
        if (prefix and not is_hex(prefix)) or limit <= 0:
            return []
        with self._t.lock:
            ids = [c.id for c in self._t.commits.values() if c.repo == repo]
        return sorted(i for i in ids if i.startswith(prefix))[:limit]

    def history(self, start: CommitId, limit: int | None = None) -> list[Commit]:
        out: list[Commit] = []
        with self._t.lock:
            at: CommitId | None = start
            while at is not None and (limit is None or len(out) < limit):
                commit = self._t.commits.get(at)
                if commit is None:
                    break
                out.append(commit)
                at = commit.parent
        return out

    def iter_commits(self) -> Iterator[Commit]:
        with self._t.lock:
            commits = sorted(self._t.commits.values(), key=lambda c: c.id)
        yield from commits

    # -- chunks and packs ------------------------------------------------------------------

    def missing_chunks(self, digests: Sequence[Digest]) -> set[Digest]:
        with self._t.lock:
            return {d for d in digests if d not in self._t.chunks}

    def add_pack(self, pack: PackInfo, chunks: Iterable[ChunkLocation]) -> None:
        rows = list(chunks)
        with self._t.lock:
            self._t.packs.setdefault(pack.id, pack)
            for chunk in rows:
                self._t.chunks.setdefault(chunk.digest, chunk)

    def locate(self, digests: Sequence[Digest]) -> dict[Digest, ChunkLocation]:
        with self._t.lock:
            return {d: self._t.chunks[d] for d in digests if d in self._t.chunks}

    def list_packs(self) -> list[PackInfo]:
        with self._t.lock:
            return sorted(self._t.packs.values(), key=lambda p: (p.created, p.id))

    def pack_chunks(self, pack: PackId) -> list[ChunkLocation]:
        with self._t.lock:
            found = [c for c in self._t.chunks.values() if c.pack == pack]
        return sorted(found, key=lambda c: (c.offset, c.digest))

    def move_chunks(self, chunks: Iterable[ChunkLocation]) -> None:
        rows = list(chunks)
        with self._t.lock:
            for chunk in rows:
                if chunk.digest in self._t.chunks:
                    self._t.chunks[chunk.digest] = chunk

    def drop_chunks(self, digests: Iterable[Digest]) -> None:
        gone = list(digests)
        with self._t.lock:
            for digest in gone:
                self._t.chunks.pop(digest, None)

    def drop_pack(self, pack: PackId) -> None:
        with self._t.lock:
            for chunk in [c for c in self._t.chunks.values() if c.pack == pack]:
                del self._t.chunks[chunk.digest]
            self._t.packs.pop(pack, None)

    def iter_chunk_digests(self) -> Iterator[Digest]:
        with self._t.lock:
            digests = sorted(self._t.chunks)
        yield from digests

    # -- upload leases ---------------------------------------------------------------------

    def hold(self, lease: str, digests: Sequence[Digest], expires: float) -> None:
        with self._t.lock:
            self._t.leases[lease] = max(expires, self._t.leases.get(lease, expires))
            self._t.pins.setdefault(lease, set()).update(digests)

    def release(self, lease: str, digests: Sequence[Digest] | None = None) -> None:
        with self._t.lock:
            if digests is None:
                self._t.leases.pop(lease, None)
                self._t.pins.pop(lease, None)
            elif lease in self._t.pins:
                self._t.pins[lease].difference_update(digests)

    def leased_digests(self, now: float) -> set[Digest]:
        with self._t.lock:
            live = [lease for lease, expires in self._t.leases.items() if expires > now]
            return set().union(*(self._t.pins.get(lease, set()) for lease in live))

    def expire_leases(self, now: float) -> int:
        with self._t.lock:
            expired = [lease for lease, expires in self._t.leases.items() if expires <= now]
            for lease in expired:
                del self._t.leases[lease]
                self._t.pins.pop(lease, None)
        return len(expired)
