"""Repos, branches and ref resolution (`master`, `master^2`, `3fa46b`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import (
    AlreadyExists,
    BranchNotFound,
    CommitNotFound,
    Conflict,
    InvalidInput,
    RepoNotFound,
)
from kaon.core.ids import MIN_PREFIX, BranchName, CommitId, RepoName, branch_name, is_hex, repo_name
from kaon.core.repo import Branch, Repo
from kaon.ports.metadata import MetadataStore


class RepoService:
    def __init__(self, meta: MetadataStore, clock: Callable[[], float]) -> None:
        self._meta = meta
        self._clock = clock

    # repos -------------------------------------------------------------------------------
    def create_repo(self, name: str, description: str = "") -> Repo:
        repo = Repo(repo_name(name), self._clock(), description)
        if self._meta.get_repo(repo.name) is not None:
            raise AlreadyExists(f"repo '{name}' already exists")
        self._meta.create_repo(repo)
        return repo

    def get_repo(self, name: str) -> Repo:
        repo = self._meta.get_repo(repo_name(name))
        if repo is None:
            raise RepoNotFound(
                f"repo '{name}' not found: create it with `kaon repo create {name}` "
                "(see `kaon repo list`)"
            )
        return repo

    def list_repos(self) -> list[Repo]:
        return sorted(self._meta.list_repos(), key=lambda r: r.created, reverse=True)

    def delete_repo(self, name: str) -> None:
        repo = self.get_repo(name)
        self._meta.delete_repo(repo.name)

    def repo_size(self, name: RepoName) -> int:
        branch = self._meta.get_branch(name, BranchName("master"))
        if branch is None or branch.head is None:
            return 0
        commit = self._meta.get_commit(branch.head)
        return commit.size if commit else 0

    # branches ----------------------------------------------------------------------------
    def list_branches(self, repo: str) -> list[Branch]:
        return self._meta.list_branches(self.get_repo(repo).name)

    def branches_of(self, repo: Repo) -> list[Branch]:
        """The branches of a repo already looked up (no second lookup, as in a listing)."""
        return self._meta.list_branches(repo.name)

    def last_commit(self, branches: Sequence[Branch]) -> Commit | None:
        """The head commit of master, else of the first of `branches` (a listing shows it)."""
        chosen = next((b for b in branches if b.name == "master"), None)
        chosen = chosen or (branches[0] if branches else None)
        return self._meta.get_commit(chosen.head) if chosen and chosen.head else None

    def get_branch(self, repo: str, name: str) -> Branch:
        r = self.get_repo(repo).name
        branch = self._meta.get_branch(r, branch_name(name))
        if branch is None:
            known = ", ".join(b.name for b in self._meta.list_branches(r)) or "none yet"
            raise BranchNotFound(f"branch '{name}' not found in repo '{repo}' (branches: {known})")
        return branch

    def create_branch(self, repo: str, name: str, head: Ref | None) -> Branch:
        r = self.get_repo(repo).name
        b = branch_name(name)
        target = self.resolve(repo, head) if head is not None else None
        if self._meta.get_branch(r, b) is not None:
            if head is None:
                raise AlreadyExists(f"branch '{name}' already exists in repo '{repo}'")
            self._meta.set_branch(r, b, target.id if target else None, create=False)
        else:
            self._meta.set_branch(r, b, target.id if target else None, create=True)
        return Branch(r, b, target.id if target else None)

    def delete_branch(self, repo: str, name: str) -> None:
        branch = self.get_branch(repo, name)
        self._meta.delete_branch(branch.repo, branch.name)

    # refs --------------------------------------------------------------------------------
    def resolve(self, repo: str, ref: Ref) -> Commit | None:
        """The commit `ref` names in `repo`; None for a branch that has no commit yet."""
        r = self.get_repo(repo).name
        commit: Commit | None
        branch = self._meta.get_branch(r, BranchName(ref.base)) if _maybe_branch(ref.base) else None
        if branch is not None:
            if branch.head is None:
                if ref.back:
                    raise CommitNotFound(f"{repo}@{ref}: branch '{ref.base}' has no commits yet")
                return None
            commit = self._get(branch.head)
        elif is_hex(ref.base) and len(ref.base) >= MIN_PREFIX:
            commit = self._get(self._by_prefix(r, ref.base))
        else:
            known = ", ".join(b.name for b in self._meta.list_branches(r)) or "none yet"
            raise BranchNotFound(
                f"'{ref.base}' is neither a branch nor a commit of repo '{repo}' "
                f"(branches: {known}; commit prefixes need at least {MIN_PREFIX} hex digits)"
            )
        for step in range(ref.back):
            if commit.parent is None:
                raise CommitNotFound(
                    f"{repo}@{ref}: only {step} ancestor(s) before the first commit"
                )
            commit = self._get(commit.parent)
        return commit

    def resolve_required(self, repo: str, ref: Ref) -> Commit:
        commit = self.resolve(repo, ref)
        if commit is None:
            raise CommitNotFound(f"{repo}@{ref}: the branch has no commits yet")
        return commit

    def _by_prefix(self, repo: RepoName, prefix: str) -> CommitId:
        found = self._meta.find_commits(repo, prefix.lower(), limit=2)
        if not found:
            raise CommitNotFound(
                f"no commit {prefix} in repo '{repo}' (see `kaon list commit {repo}`)"
            )
        if len(found) > 1:
            raise Conflict(
                f"commit prefix {prefix} is ambiguous in repo '{repo}': give more digits"
            )
        return found[0]

    def _get(self, cid: CommitId) -> Commit:
        commit = self._meta.get_commit(cid)
        if commit is None:
            raise CommitNotFound(f"commit {cid} not found")
        return commit

    def history(self, repo: str, ref: Ref, limit: int | None) -> list[Commit]:
        start = self.resolve(repo, ref)
        if start is None:
            return []
        if limit is not None and limit <= 0:
            raise InvalidInput("the number of commits must be positive")
        return self._meta.history(start.id, limit)


def _maybe_branch(text: str) -> bool:
    try:
        branch_name(text)
    except InvalidInput:
        return False
    return True
