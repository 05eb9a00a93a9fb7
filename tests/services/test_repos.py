"""RepoService: repos, branches, ref resolution and history."""

from __future__ import annotations

import dataclasses

import pytest

from kaon.core.address import Ref, parse_ref
from kaon.core.commit import Commit, seal
from kaon.core.errors import (
    AlreadyExists,
    BranchNotFound,
    CommitNotFound,
    Conflict,
    InvalidInput,
    RepoNotFound,
)
from kaon.core.ids import BranchName
from kaon.wiring import Platform


def test_create_get_list_delete(platform: Platform) -> None:
    repos = platform.repos
    first = repos.create_repo("images", "training images")
    second = repos.create_repo("labels")
    assert first.name == "images" and first.description == "training images"
    assert repos.get_repo("images") == first
    assert [r.name for r in repos.list_repos()] == ["labels", "images"]  # newest first
    assert second.created > first.created
    repos.delete_repo("images")
    assert [r.name for r in repos.list_repos()] == ["labels"]
    with pytest.raises(RepoNotFound):
        repos.get_repo("images")


def test_create_twice(platform: Platform) -> None:
    platform.repos.create_repo("images")
    with pytest.raises(AlreadyExists, match="repo 'images' already exists"):
        platform.repos.create_repo("images")


def test_unknown_repo_message(platform: Platform) -> None:
    with pytest.raises(RepoNotFound) as info:
        platform.repos.get_repo("nope")
    assert "repo 'nope' not found" in info.value.message
    assert "kaon repo create nope" in info.value.message
    with pytest.raises(RepoNotFound):
        platform.repos.delete_repo("nope")
    with pytest.raises(RepoNotFound):
        platform.repos.list_branches("nope")
    with pytest.raises(RepoNotFound):
        platform.repos.resolve("nope", Ref("master"))


@pytest.mark.parametrize("name", ["bad name", "-x", "", "a" * 64, "x\n"])
def test_invalid_repo_names(platform: Platform, name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid repo name"):
        platform.repos.create_repo(name)
    assert platform.repos.list_repos() == []


def test_deleted_repo_can_be_recreated_empty(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    seed.commit("r", {"/a": b"a"})
    platform.repos.delete_repo("r")
    platform.repos.create_repo("r")
    assert platform.repos.list_branches("r") == []
    with pytest.raises(BranchNotFound):
        platform.repos.resolve("r", Ref("master"))
    with pytest.raises(BranchNotFound):
        platform.repos.history("r", Ref("master"), None)


def test_repo_size_is_the_master_head_size(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    assert platform.repos.repo_size(platform.repos.get_repo("r").name) == 0
    seed.commit("r", {"/a": b"12345", "/b/c": b"678"})
    assert platform.repos.repo_size(platform.repos.get_repo("r").name) == 8


# -- branches -----------------------------------------------------------------------------


def test_branches(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    repos = platform.repos
    repos.create_repo("r")
    empty = repos.create_branch("r", "empty", None)
    assert empty.head is None
    c1 = seed.commit("r", {"/a": b"1"})
    c2 = seed.commit("r", {"/a": b"2"})
    dev = repos.create_branch("r", "dev", Ref("master"))
    assert dev.head == c2.id
    old = repos.create_branch("r", "old", Ref("master", 1))
    assert old.head == c1.id
    assert [(b.name, b.head) for b in repos.list_branches("r")] == [
        ("dev", c2.id),
        ("empty", None),
        ("master", c2.id),
        ("old", c1.id),
    ]
    # --head on an existing branch moves it
    moved = repos.create_branch("r", "dev", Ref(c1.id))
    assert moved.head == c1.id
    assert repos.get_branch("r", "dev").head == c1.id
    # and a branch can be emptied of its commits (they stay reachable from master)
    repos.delete_branch("r", "dev")
    assert [b.name for b in repos.list_branches("r")] == ["empty", "master", "old"]
    with pytest.raises(BranchNotFound, match="branch 'dev' not found in repo 'r'"):
        repos.get_branch("r", "dev")


def test_branch_errors(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    repos = platform.repos
    repos.create_repo("r")
    repos.create_branch("r", "dev", None)
    with pytest.raises(AlreadyExists, match="branch 'dev' already exists"):
        repos.create_branch("r", "dev", None)
    with pytest.raises(BranchNotFound):
        repos.delete_branch("r", "nope")
    with pytest.raises(InvalidInput):
        repos.create_branch("r", "bad name", None)
    with pytest.raises(InvalidInput, match="commit id"):
        repos.create_branch("r", "0123456789abcdef0123456789abcdef", None)
    with pytest.raises(BranchNotFound):
        repos.create_branch("r", "x", Ref("nope"))  # the head names nothing
    with pytest.raises(RepoNotFound):
        repos.create_branch("nope", "x", None)


def test_commits_on_a_new_branch_start_from_its_head(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    c1 = seed.commit("r", {"/a": b"1"})
    platform.repos.create_branch("r", "dev", Ref("master"))
    c2 = seed.commit("r", {"/b": b"2"}, branch="dev")
    assert c2.parent == c1.id
    assert seed.read("r", "dev", "/a") == b"1"
    with pytest.raises(Exception, match="no such file"):
        seed.read("r", "master", "/b")


# -- refs ---------------------------------------------------------------------------------


@pytest.fixture
def chain(platform: Platform, seed) -> list[Commit]:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    return [seed.commit("r", {"/f": str(i).encode()}, message=f"c{i}") for i in range(4)]


def test_resolve_branch_and_ancestry(platform: Platform, chain: list[Commit]) -> None:
    resolve = platform.repos.resolve
    assert resolve("r", parse_ref("master")) == chain[3]
    assert resolve("r", parse_ref("master^")) == chain[2]
    assert resolve("r", parse_ref("master^^")) == chain[1]
    assert resolve("r", parse_ref("master~2")) == chain[1]
    assert resolve("r", parse_ref("master^3")) == chain[0]
    assert resolve("r", parse_ref(chain[2].id + "^")) == chain[1]


def test_resolve_past_the_first_commit(platform: Platform, chain: list[Commit]) -> None:
    with pytest.raises(CommitNotFound, match="only 3 ancestor"):
        platform.repos.resolve("r", parse_ref("master^4"))
    with pytest.raises(CommitNotFound):
        platform.repos.resolve("r", parse_ref(chain[0].id + "^"))


def test_resolve_commit_ids_and_prefixes(platform: Platform, chain: list[Commit]) -> None:
    resolve = platform.repos.resolve
    target = chain[1]
    assert resolve("r", Ref(target.id)) == target
    assert resolve("r", Ref(target.id[:8])) == target


def test_resolve_unknown_refs(platform: Platform, chain: list[Commit]) -> None:
    with pytest.raises(BranchNotFound, match="branches: master"):
        platform.repos.resolve("r", Ref("nope"))
    with pytest.raises(BranchNotFound, match="at least 4 hex digits"):
        platform.repos.resolve("r", Ref("abc"))  # too short to be a prefix
    unknown = "0000" if not any(c.id.startswith("0000") for c in chain) else "ffff"
    with pytest.raises(CommitNotFound, match=f"no commit {unknown}"):
        platform.repos.resolve("r", Ref(unknown))


def test_resolve_does_not_cross_repos(platform: Platform, chain: list[Commit]) -> None:
    platform.repos.create_repo("other")
    with pytest.raises(CommitNotFound):
        platform.repos.resolve("other", Ref(chain[0].id))


def test_resolve_an_empty_branch(platform: Platform) -> None:
    platform.repos.create_repo("r")
    platform.repos.create_branch("r", "empty", None)
    assert platform.repos.resolve("r", Ref("empty")) is None
    with pytest.raises(CommitNotFound, match="no commits yet"):
        platform.repos.resolve("r", Ref("empty", 1))
    with pytest.raises(CommitNotFound, match="no commits yet"):
        platform.repos.resolve_required("r", Ref("empty"))
    assert platform.repos.history("r", Ref("empty"), None) == []


def test_ambiguous_prefix_is_a_conflict(platform_factory, seeder_for) -> None:  # type: ignore[no-untyped-def]
    """Two commits whose ids share 4 hex digits: the prefix names neither."""
    p: Platform = platform_factory(clock=lambda: 1000.0)  # ids depend only on the content
    seed = seeder_for(p)
    p.repos.create_repo("r")
    first = seed.commit("r", {"/a": b"a"}, branch="x0")
    # the same first commit on branch x<i> differs only by its branch name: find two ids
    # sharing a 4-digit prefix (a birthday search, a few hundred candidates on average)
    seen = {first.id[:4]: 0}
    for i in range(1, 20000):
        cid = seal(dataclasses.replace(first, branch=BranchName(f"x{i}"))).id
        if cid[:4] in seen:
            pair = (seen[cid[:4]], i)
            break
        seen[cid[:4]] = i
    else:
        pytest.fail("no 4-digit prefix collision")
    made = {0: first}
    for i in pair:
        if i not in made:
            made[i] = seed.commit("r", {"/a": b"a"}, branch=f"x{i}")
    a, b = made[pair[0]], made[pair[1]]
    assert a.id[:4] == b.id[:4] and a.id != b.id
    with pytest.raises(Conflict, match="ambiguous"):
        p.repos.resolve("r", Ref(a.id[:4]))
    assert p.repos.resolve("r", Ref(a.id)) == a
    assert p.repos.resolve("r", Ref(b.id)) == b


# -- history ------------------------------------------------------------------------------


def test_history(platform: Platform, chain: list[Commit]) -> None:
    history = platform.repos.history
    assert history("r", Ref("master"), None) == list(reversed(chain))
    assert history("r", Ref("master"), 2) == [chain[3], chain[2]]
    assert history("r", Ref("master", 2), None) == [chain[1], chain[0]]
    with pytest.raises(InvalidInput, match="positive"):
        history("r", Ref("master"), 0)


def test_branches_of_a_repo_looked_up_once(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    repo = platform.repos.create_repo("listed")
    assert platform.repos.branches_of(repo) == []
    seed.commit("listed", {"/a": b"a"})
    seed.commit("listed", {"/b": b"b"}, branch="dev")
    names = [b.name for b in platform.repos.branches_of(repo)]
    assert sorted(names) == ["dev", "master"]
    assert platform.repos.branches_of(repo) == platform.repos.list_branches("listed")
