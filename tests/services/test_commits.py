"""CommitService: all-or-nothing commits, serialised per branch, no lost update."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from kaon.core.address import Ref
from kaon.core.chunking import hash_chunk
from kaon.core.commit import Commit
from kaon.core.errors import (
    BaseMoved,
    InvalidInput,
    MissingChunks,
    PathNotFound,
    RepoNotFound,
)
from kaon.core.ids import Digest
from kaon.core.tree import ChunkRef
from kaon.services.commits import Put
from kaon.services.objectkeys import commit_key
from kaon.wiring import Backends, Platform


@pytest.fixture(params=["file", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(platform: Platform) -> str:
    platform.repos.create_repo("r")
    return "r"


def files_of(platform: Platform, repo: str, ref: str = "master") -> dict[str, int]:
    commit = platform.repos.resolve_required(repo, Ref(ref))
    return {"/" + p: n.size for p, n in platform.files.walk(commit, "/")}


def test_first_commit_creates_the_branch(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    commit = seed.commit(repo, {"/a.txt": b"hello", "/d/b.bin": b"x" * 2500}, message="first")
    assert commit.parent is None
    assert (commit.size, commit.count, commit.message) == (2505, 2, "first")
    assert platform.repos.get_branch(repo, "master").head == commit.id
    assert seed.read(repo, "master", "/d/b.bin") == b"x" * 2500
    assert commit.finished >= commit.started


def test_commit_object_is_stored(platform: Platform, backends: Backends, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    commit = seed.commit(repo, {"/a": b"a"})
    assert Commit.decode(backends.objects.get(commit_key(commit.id))) == commit
    assert backends.meta.get_commit(commit.id) == commit


def test_commits_chain(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    c1 = seed.commit(repo, {"/a": b"1", "/b": b"2"})
    c2 = seed.commit(repo, {"/c": b"3"}, ["/a"])
    assert c2.parent == c1.id
    assert files_of(platform, repo) == {"/b": 1, "/c": 1}
    assert files_of(platform, repo, c1.id) == {"/a": 1, "/b": 1}


def test_delete_only_commit(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    seed.commit(repo, {"/a": b"1", "/b": b"2"})
    c = platform.commits.commit(repo, "master", [], ["/a"])
    assert (c.size, c.count) == (1, 1)
    last = platform.commits.commit(repo, "master", [], ["/b"])
    assert (last.size, last.count) == (0, 0)
    assert files_of(platform, repo) == {}


def test_author_message_and_started(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    (ref,) = seed.upload([b"x"])[0]
    c = platform.commits.commit(
        repo, "master", [Put("/x", 1, (ref,))], message="m", author="ada", started=12.0
    )
    assert (c.message, c.author, c.started) == ("m", "ada", 12.0)


def test_commit_with_a_missing_chunk_changes_nothing(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    head = seed.commit(repo, {"/a": b"a"})
    (present,) = seed.upload([b"present"])[0]
    never = ChunkRef(hash_chunk(b"never uploaded"), 14)
    with pytest.raises(MissingChunks) as info:
        platform.commits.commit(
            repo,
            "master",
            [Put("/ok", 7, (present,)), Put("/bad", 14, (never,))],
            ["/a"],
        )
    assert info.value.details["missing"] == [never.digest]
    assert "send them (POST /v1/packs" in info.value.message
    assert platform.repos.get_branch(repo, "master").head == head.id
    assert platform.repos.history(repo, Ref("master"), None) == [head]
    assert files_of(platform, repo) == {"/a": 1}


def test_commit_to_a_new_branch_with_missing_chunks_creates_nothing(  # type: ignore[no-untyped-def]
    platform: Platform, repo: str
) -> None:
    never = ChunkRef(hash_chunk(b"never"), 5)
    with pytest.raises(MissingChunks):
        platform.commits.commit(repo, "dev", [Put("/x", 5, (never,))])
    assert platform.repos.list_branches(repo) == []


def test_invalid_commits(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    (ref,) = seed.upload([b"abc"])[0]
    commit = platform.commits.commit
    with pytest.raises(InvalidInput, match="nothing to commit"):
        commit(repo, "master", [])
    with pytest.raises(InvalidInput, match="does not match its chunks"):
        commit(repo, "master", [Put("/a", 4, (ref,))])
    with pytest.raises(InvalidInput, match="escapes the repo"):
        commit(repo, "master", [Put("/../a", 3, (ref,))])
    with pytest.raises(InvalidInput, match="invalid digest"):
        commit(repo, "master", [Put("/a", 3, (ChunkRef(Digest("xyz"), 3),))])
    with pytest.raises(InvalidInput, match="root"):
        commit(repo, "master", [Put("/", 3, (ref,))])
    with pytest.raises(InvalidInput, match="invalid branch name"):
        commit(repo, "bad branch", [Put("/a", 3, (ref,))])
    with pytest.raises(RepoNotFound):
        commit("nope", "master", [Put("/a", 3, (ref,))])
    with pytest.raises(PathNotFound):
        commit(repo, "master", [], ["/nope"])
    assert platform.repos.list_branches(repo) == []


def test_empty_file(platform: Platform, repo: str) -> None:
    platform.commits.commit(repo, "master", [Put("/empty", 0, ())])
    assert files_of(platform, repo) == {"/empty": 0}


def test_concurrent_commits_lose_no_update(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    threads, per_thread = 8, 4
    contents = {
        f"/t{t}/c{i}": f"{t}-{i}".encode() for t in range(threads) for i in range(per_thread)
    }
    refs = dict(zip(contents, seed.upload(contents.values()), strict=True))
    barrier = threading.Barrier(threads)

    def work(t: int) -> list[Commit]:
        barrier.wait()
        out = []
        for i in range(per_thread):
            path = f"/t{t}/c{i}"
            put = Put(path, len(contents[path]), tuple(refs[path]))
            out.append(platform.commits.commit(repo, "master", [put], message=path))
        return out

    with ThreadPoolExecutor(threads) as pool:
        made = [c for batch in pool.map(work, range(threads)) for c in batch]
    history = platform.repos.history(repo, Ref("master"), None)
    assert len(history) == threads * per_thread
    assert {c.id for c in history} == {c.id for c in made}
    for newer, older in itertools.pairwise(history):
        assert newer.parent == older.id
    assert history[-1].parent is None
    assert files_of(platform, repo) == {p: len(c) for p, c in contents.items()}
    assert history[0].count == len(contents)


def test_two_servers_sharing_one_database_lose_no_update(  # type: ignore[no-untyped-def]
    platform_factory, seeder_for, tmp_path
) -> None:
    """Branch locks are per process: across processes the compare-and-set must hold."""
    home = tmp_path / "shared"
    a: Platform = platform_factory(home=home)
    b: Platform = platform_factory(home=home)
    a.repos.create_repo("r")
    contents = {f"/f{i}": f"content {i}".encode() for i in range(16)}
    refs = dict(zip(contents, seeder_for(a).upload(contents.values()), strict=True))
    barrier = threading.Barrier(4)

    def work(job: tuple[Platform, list[str]]) -> None:
        p, mine = job
        barrier.wait()
        for path in mine:
            p.commits.commit("r", "master", [Put(path, len(contents[path]), tuple(refs[path]))])

    names = list(contents)
    jobs = [(a, names[0::4]), (b, names[1::4]), (a, names[2::4]), (b, names[3::4])]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, jobs))
    history = a.repos.history("r", Ref("master"), None)
    assert len(history) == len(contents)
    assert files_of(b, "r") == {p: len(c) for p, c in contents.items()}


def test_reputting_identical_content_makes_a_commit_without_rewriting(  # type: ignore[no-untyped-def]
    platform: Platform, seed, repo: str
) -> None:
    first = seed.commit(repo, {"/d/a": b"same", "/d/b": b"other"})
    chunks = chunks_of(platform, first, "/d/a")
    again = platform.commits.commit(repo, "master", [Put("/d/a", 4, chunks)])
    assert again.parent == first.id
    assert again.tree == first.tree  # nothing changed: the same tree
    changed = seed.commit(repo, {"/d/a": b"new!"})
    assert changed.tree != first.tree
    assert seed.read(repo, "master", "/d/a") == b"new!"
    # identical content under a path deleted by the same commit is written again
    back = platform.commits.commit(
        repo, "master", [Put("/d/b", 5, chunks_of(platform, first, "/d/b"))], ["/d"]
    )
    assert files_of(platform, repo) == {"/d/b": 5}
    assert back.parent == changed.id


def chunks_of(platform: Platform, commit: Commit, path: str) -> tuple[ChunkRef, ...]:
    node = platform.files.node(commit, path)
    return node.chunks  # type: ignore[union-attr]


def test_a_commit_relative_to_its_base(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    first = seed.commit(repo, {"/a": b"a", "/b": b"b"})
    # nothing changed since `first`: an empty commit is allowed and keeps the tree
    again = platform.commits.commit(repo, "master", [], base=first.id)
    assert (again.parent, again.tree) == (first.id, first.tree)
    # the branch moved: a commit relative to the old base is refused, nothing changes
    with pytest.raises(BaseMoved) as info:
        platform.commits.commit(repo, "master", [], base=first.id)
    assert "send every file" in info.value.message
    assert platform.repos.get_branch(repo, "master").head == again.id
    with pytest.raises(InvalidInput):  # without a base, an empty commit is still refused
        platform.commits.commit(repo, "master", [])


def test_on_commit_observers_see_each_commit_after_it_landed(
    platform: Platform,
    seed,
    repo: str,  # type: ignore[no-untyped-def]
) -> None:
    seen: list[tuple[str, str | None]] = []

    def observer(commit: Commit) -> None:  # the branch already shows it: the lock is released
        seen.append((commit.id, platform.repos.get_branch(repo, "master").head))

    platform.commits.on_commit(observer)
    first = seed.commit(repo, {"/a": b"1"})
    second = seed.commit(repo, {"/b": b"2"})
    assert seen == [(first.id, first.id), (second.id, second.id)]


def test_an_observer_failing_never_breaks_the_commit(
    platform: Platform,
    seed,
    repo: str,  # type: ignore[no-untyped-def]
) -> None:
    def broken(commit: Commit) -> None:
        raise RuntimeError("observer bug")

    later: list[str] = []
    platform.commits.on_commit(broken)
    platform.commits.on_commit(lambda c: later.append(c.id))
    commit = seed.commit(repo, {"/a": b"1"})
    assert platform.repos.get_branch(repo, "master").head == commit.id
    assert later == [commit.id]  # the next observers are still told
