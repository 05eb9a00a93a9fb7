"""StagingArea: puts staged while an upload goes on, committed in one go by a commit."""

from __future__ import annotations

import pytest

from kaon.core.address import Ref
from kaon.core.chunking import hash_chunk
from kaon.core.errors import InvalidInput, MissingChunks, RepoNotFound, StagingNotFound
from kaon.core.tree import ChunkRef
from kaon.memory.stagings import MemoryStagingStore
from kaon.services import staging as staging_module
from kaon.services.commits import Put
from kaon.services.staging import StagingArea
from kaon.wiring import Platform


@pytest.fixture
def repo(platform: Platform) -> str:
    platform.repos.create_repo("r")
    return "r"


def _put(seed, path: str, data: bytes) -> Put:  # type: ignore[no-untyped-def]
    (refs,) = seed.upload([data])
    return Put(path, len(data), tuple(refs))


def _files(platform: Platform, repo: str) -> dict[str, int]:
    commit = platform.repos.resolve_required(repo, Ref("master"))
    return {"/" + p: n.size for p, n in platform.files.walk(commit, "/")}


def test_staged_puts_are_committed_with_the_commit(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    sid = platform.staging.open(repo, "master")
    assert platform.staging.add(sid, repo, [_put(seed, "/a", b"aa"), _put(seed, "d/b", b"b")]) == 2
    assert platform.staging.add(sid, repo, [_put(seed, "/c", b"ccc")]) == 3
    assert platform.repos.list_branches(repo) == []  # nothing visible yet
    staged = platform.staging.puts(sid, repo, "master")
    commit = platform.commits.commit(repo, "master", [_put(seed, "/e", b"e")], staged=staged)
    assert _files(platform, repo) == {"/a": 2, "/d/b": 1, "/c": 3, "/e": 1}
    assert commit.count == 4


def test_the_commit_s_own_puts_win_over_staged_ones(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    sid = platform.staging.open(repo, "master")
    platform.staging.add(sid, repo, [_put(seed, "/a", b"old")])
    platform.staging.add(sid, repo, [_put(seed, "a", b"newer")])  # the same path, normalised
    staged = platform.staging.puts(sid, repo, "master")
    platform.commits.commit(repo, "master", [_put(seed, "/a", b"newest!")], staged=staged)
    assert _files(platform, repo) == {"/a": 7}


def test_staged_chunks_are_checked_by_the_commit(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    sid = platform.staging.open(repo, "master")
    ghost = ChunkRef(hash_chunk(b"never uploaded"), 14)
    platform.staging.add(sid, repo, [Put("/ghost", 14, (ghost,))])  # staged: not checked yet
    with pytest.raises(MissingChunks):
        platform.commits.commit(
            repo, "master", [], staged=platform.staging.puts(sid, repo, "master")
        )
    assert platform.repos.list_branches(repo) == []


def test_bad_rows_are_refused_whole(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    sid = platform.staging.open(repo, "master")
    good = _put(seed, "/ok", b"ok")
    with pytest.raises(InvalidInput, match="does not match its chunks"):
        platform.staging.add(sid, repo, [good, Put("/bad", 99, good.chunks)])
    with pytest.raises(InvalidInput):
        platform.staging.add(sid, repo, [Put("/../escape", 2, good.chunks)])
    assert platform.staging.puts(sid, repo, "master") == {}


def test_a_staging_belongs_to_its_repo_and_branch(platform: Platform, seed, repo: str) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("other")
    sid = platform.staging.open(repo, "master")
    with pytest.raises(StagingNotFound, match="send the files with the commit"):
        platform.staging.add(sid, "other", [_put(seed, "/a", b"a")])
    with pytest.raises(InvalidInput, match="not 'dev'"):
        platform.staging.puts(sid, repo, "dev")
    with pytest.raises(StagingNotFound):
        platform.staging.puts("0" * 32, repo, "master")
    with pytest.raises(RepoNotFound):
        platform.staging.open("nope", "master")


def test_a_closed_staging_is_gone(platform: Platform, repo: str) -> None:
    sid = platform.staging.open(repo, "master")
    platform.staging.close(sid)
    with pytest.raises(StagingNotFound):
        platform.staging.puts(sid, repo, "master")
    platform.staging.close(sid)  # closing twice is harmless


def test_idle_stagings_expire_and_the_oldest_make_room(
    platform: Platform, seed, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    now = [1000.0]
    area = StagingArea(platform.repos, lambda: now[0], MemoryStagingStore())
    idle = area.open(repo, "master")
    used = area.open(repo, "master")
    now[0] += staging_module.IDLE - 1
    area.add(used, repo, [_put(seed, "/a", b"a")])  # used: kept alive
    now[0] += 2
    assert list(area.puts(used, repo, "master")) == ["/a"]
    with pytest.raises(StagingNotFound):
        area.puts(idle, repo, "master")
    monkeypatch.setattr(staging_module, "OPEN", 3)
    more = [area.open(repo, "master") for _ in range(3)]  # a fourth would be one too many
    with pytest.raises(StagingNotFound):
        area.puts(used, repo, "master")  # the least recently used went
    assert all(area.puts(s, repo, "master") == {} for s in more)
