"""Contracts of the MetadataStore parts on repos, branches and commits (kaon.ports.metadata)."""

from __future__ import annotations

import itertools

import pytest

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, BranchNotFound, RepoNotFound
from kaon.core.ids import BranchName, CommitId, RepoName
from kaon.core.repo import Branch, Repo
from kaon.ports.database import MetadataDatabase
from kaon.ports.metadata import MetadataStore
from kaon.testing.samples import MAIN, R, mk, run_threads


def chain(store: MetadataStore, n: int, repo: RepoName = R) -> list[Commit]:
    """`n` commits on `repo`'s main branch, each on the previous."""
    out: list[Commit] = []
    head: CommitId | None = None
    for i in range(n):
        c = mk(head, f"c{i}", repo)
        assert store.add_commit(c, head)
        out.append(c)
        head = c.id
    return out


class MetadataContractBase:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> MetadataStore:
        """The database's MetadataStore, with the repo 'data' created."""
        s = database.metadata
        s.create_repo(Repo(R, 1.0, "test repo"))
        return s


class RepoStoreContract(MetadataContractBase):
    def test_repos(self, store: MetadataStore) -> None:
        store.create_repo(Repo(RepoName("alpha"), 2.5))
        assert store.get_repo(R) == Repo(R, 1.0, "test repo")
        assert store.get_repo(RepoName("nope")) is None
        assert [r.name for r in store.list_repos()] == ["alpha", "data"]
        with pytest.raises(AlreadyExists, match="repo 'alpha' already exists"):
            store.create_repo(Repo(RepoName("alpha"), 3.0))

    def test_delete_repo_cascades(self, store: MetadataStore) -> None:
        other = RepoName("other")
        store.create_repo(Repo(other, 1.0))
        mine, theirs = chain(store, 3), chain(store, 2, other)
        store.set_branch(R, BranchName("dev"), mine[0].id, create=True)
        store.delete_repo(R)
        assert store.get_repo(R) is None
        assert store.list_branches(R) == []
        assert all(store.get_commit(c.id) is None for c in mine)
        assert [c.id for c in store.iter_commits()] == sorted(c.id for c in theirs)
        assert store.get_branch(other, MAIN) == Branch(other, MAIN, theirs[-1].id)
        store.create_repo(Repo(R, 5.0))  # the name is free again
        assert store.get_branch(R, MAIN) is None

    def test_delete_an_unknown_repo_is_ignored(self, store: MetadataStore) -> None:
        store.delete_repo(RepoName("nope"))
        assert [r.name for r in store.list_repos()] == [R]


class RefStoreContract(MetadataContractBase):
    def test_branches(self, store: MetadataStore) -> None:
        c = chain(store, 2)
        dev = BranchName("dev")
        store.set_branch(R, dev, c[0].id, create=True)
        with pytest.raises(AlreadyExists, match="branch 'dev' already exists"):
            store.set_branch(R, dev, None, create=True)
        assert store.get_branch(R, dev) == Branch(R, dev, c[0].id)
        store.set_branch(R, dev, c[1].id, create=False)
        assert store.get_branch(R, dev) == Branch(R, dev, c[1].id)
        store.set_branch(R, dev, None, create=False)
        assert store.get_branch(R, dev) == Branch(R, dev, None)
        with pytest.raises(BranchNotFound):
            store.set_branch(R, BranchName("ghost"), None, create=False)
        with pytest.raises(RepoNotFound):
            store.set_branch(RepoName("nope"), dev, None, create=True)
        assert [b.name for b in store.list_branches(R)] == ["dev", "main"]
        store.delete_branch(R, dev)
        store.delete_branch(R, dev)  # idempotent
        assert store.get_branch(R, dev) is None
        assert store.get_commit(c[0].id) == c[0]  # commits outlive branches

    def test_branches_are_per_repo(self, store: MetadataStore) -> None:
        other = RepoName("other")
        store.create_repo(Repo(other, 2.0))
        store.set_branch(other, MAIN, None, create=True)
        assert store.get_branch(R, MAIN) is None
        assert store.list_branches(R) == []
        assert store.list_branches(other) == [Branch(other, MAIN, None)]
        assert store.list_branches(RepoName("nope")) == []


class CommitIndexContract(MetadataContractBase):
    def test_add_commit_compare_and_set(self, store: MetadataStore) -> None:
        first = mk(None, "first")
        assert store.add_commit(first, None)
        assert store.get_branch(R, MAIN) == Branch(R, MAIN, first.id)
        assert store.get_commit(first.id) == first
        rival = mk(None, "rival")
        assert not store.add_commit(rival, None)  # branch already has a head
        assert store.get_commit(rival.id) is None
        second = mk(first.id, "second")
        assert not store.add_commit(second, CommitId("0" * 32))  # stale expectation
        assert store.get_commit(second.id) is None
        assert store.add_commit(second, first.id)
        assert store.get_branch(R, MAIN) == Branch(R, MAIN, second.id)
        # a branch that exists without a head accepts expected_head=None
        empty = BranchName("empty")
        store.set_branch(R, empty, None, create=True)
        c = mk(None, "on empty", branch=empty)
        assert store.add_commit(c, None)
        assert store.get_branch(R, empty) == Branch(R, empty, c.id)
        with pytest.raises(RepoNotFound, match="repo 'nope' not found"):
            store.add_commit(mk(None, "x", RepoName("nope")), None)

    def test_add_commit_expecting_a_head_on_a_missing_branch(self, store: MetadataStore) -> None:
        c = mk(None, "x", branch="absent")
        assert not store.add_commit(c, CommitId("0" * 32))
        assert store.get_branch(R, BranchName("absent")) is None
        assert store.get_commit(c.id) is None

    def test_concurrent_writers_never_lose_an_update(self, store: MetadataStore) -> None:
        threads, per_thread = 8, 25

        def work(t: int) -> None:
            for i in range(per_thread):
                while True:
                    branch = store.get_branch(R, MAIN)
                    head = branch.head if branch else None
                    if store.add_commit(mk(head, f"t{t}-{i}"), head):
                        break

        assert run_threads(threads, work) == []
        branch = store.get_branch(R, MAIN)
        assert branch is not None and branch.head is not None
        history = store.history(branch.head)
        assert len(history) == threads * per_thread
        assert history[-1].parent is None
        assert all(a.parent == b.id for a, b in itertools.pairwise(history))
        assert len({c.message for c in history}) == threads * per_thread
        assert len(list(store.iter_commits())) == threads * per_thread

    def test_history_order_and_limit(self, store: MetadataStore) -> None:
        c = chain(store, 30)
        assert store.history(c[-1].id) == c[::-1]
        assert store.history(c[-1].id, limit=5) == c[:-6:-1]
        assert store.history(c[10].id, limit=100) == c[10::-1]
        assert store.history(c[-1].id, limit=0) == []
        assert store.history(c[0].id, limit=1) == [c[0]]
        assert store.history(CommitId("f" * 32)) == []

    def test_find_commits_by_prefix(self, store: MetadataStore) -> None:
        c = chain(store, 40)
        other = RepoName("other")
        store.create_repo(Repo(other, 1.0))
        theirs = chain(store, 5, other)
        target = c[17].id
        assert store.find_commits(R, target) == [target]
        assert store.find_commits(R, target[:12]) == [target]
        assert store.find_commits(R, theirs[0].id) == []  # another repo's commit
        ids = sorted(x.id for x in c)
        assert store.find_commits(R, "", limit=100) == ids
        one = ids[0][0]
        expected = [i for i in ids if i.startswith(one)]
        assert store.find_commits(R, one, limit=100) == expected
        assert store.find_commits(R, one, limit=1) == expected[:1]
        assert store.find_commits(R, one, limit=0) == []
        assert store.find_commits(R, "") == ids[:2]  # at most `limit`, 2 by default
        lettered = next(i for i in ids if not i[:8].isdigit())
        assert store.find_commits(R, lettered[:8].upper()) == []  # ids are lowercase
        assert store.find_commits(R, "zz%_") == []

    def test_iter_commits_of_every_repo(self, store: MetadataStore) -> None:
        other = RepoName("other")
        store.create_repo(Repo(other, 1.0))
        c = chain(store, 23) + chain(store, 3, other)
        assert sorted(x.id for x in store.iter_commits()) == sorted(x.id for x in c)
        assert len(list(store.iter_commits())) == 26
        assert store.get_commit(CommitId("f" * 32)) is None
