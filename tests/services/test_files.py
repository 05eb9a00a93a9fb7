"""FileService: list (with history), stat, content, walk, diff."""

from __future__ import annotations

import pytest

from kaon.core.address import Ref, parse_ref
from kaon.core.commit import Commit
from kaon.core.errors import CommitNotFound, InvalidInput, PathNotFound
from kaon.services.files import Change, FileInfo
from kaon.wiring import Platform


@pytest.fixture
def history(platform: Platform, seed) -> list[Commit]:  # type: ignore[no-untyped-def]
    """c0: /a=1 /d/x=xx ; c1: /b added ; c2: /a modified ; c3: /d/x removed, /d/y added."""
    platform.repos.create_repo("r")
    return [
        seed.commit("r", {"/a": b"1", "/d/x": b"xx"}),
        seed.commit("r", {"/b": b"bbb"}),
        seed.commit("r", {"/a": b"1111"}),
        seed.commit("r", {"/d/y": b"y"}, ["/d/x"]),
    ]


def test_list_root(platform: Platform, history: list[Commit]) -> None:
    assert platform.files.list_files("r", Ref("master"), "/") == [
        FileInfo("/a", "file", 4),
        FileInfo("/b", "file", 3),
        FileInfo("/d", "dir", 1),
    ]


def test_list_a_directory_and_a_file(platform: Platform, history: list[Commit]) -> None:
    assert platform.files.list_files("r", Ref("master"), "d/") == [FileInfo("/d/y", "file", 1)]
    assert platform.files.list_files("r", Ref("master"), "/a") == [FileInfo("/a", "file", 4)]
    assert platform.files.list_files("r", parse_ref("master^3"), "/d") == [
        FileInfo("/d/x", "file", 2)
    ]


def test_list_missing_path(platform: Platform, history: list[Commit]) -> None:
    with pytest.raises(PathNotFound):
        platform.files.list_files("r", Ref("master"), "/nope")


def test_list_an_empty_branch(platform: Platform) -> None:
    platform.repos.create_repo("r")
    platform.repos.create_branch("r", "empty", None)
    assert platform.files.list_files("r", Ref("empty"), "/") == []
    assert platform.files.list_files("r", Ref("empty"), "/", history=-1) == []


def test_list_with_history(platform: Platform, history: list[Commit]) -> None:
    c0, c1, c2, c3 = history
    infos = platform.files.list_files("r", Ref("master"), "/", history=-1)
    by_path: dict[str, list[tuple[str | None, int]]] = {}
    for info in infos:
        by_path.setdefault(info.path, []).append((info.commit, info.size))
    assert by_path["/a"] == [(c2.id, 4), (c0.id, 1)]  # newest first; c1 and c3 left /a alone
    assert by_path["/b"] == [(c1.id, 3)]
    assert by_path["/d"] == [(c3.id, 1), (c0.id, 2)]
    a_latest = next(i for i in infos if i.path == "/a")
    assert a_latest.committed == c2.finished


def test_list_with_limited_history(platform: Platform, history: list[Commit]) -> None:
    infos = platform.files.list_files("r", Ref("master"), "/a", history=1)
    assert [(i.commit, i.size) for i in infos] == [(history[2].id, 4)]
    older = platform.files.list_files("r", parse_ref("master^2"), "/a", history=-1)
    assert [i.commit for i in older] == [history[0].id]


def test_history_stops_where_a_file_was_deleted_and_recreated(  # type: ignore[no-untyped-def]
    platform: Platform, seed
) -> None:
    platform.repos.create_repo("r")
    seed.commit("r", {"/f": b"v1"})
    platform.commits.commit("r", "master", [], ["/f"])
    again = seed.commit("r", {"/f": b"v1"})
    infos = platform.files.list_files("r", Ref("master"), "/f", history=-1)
    assert [i.commit for i in infos] == [again.id]


def test_stat(platform: Platform, history: list[Commit]) -> None:
    commit, info = platform.files.stat("r", Ref("master"), "/d")
    assert commit == history[3]
    assert info == FileInfo("/d", "dir", 1)
    assert platform.files.stat("r", Ref("master"), "/")[1] == FileInfo("/", "dir", 8)
    assert platform.files.stat("r", Ref("master"), "/b")[1] == FileInfo("/b", "file", 3)
    with pytest.raises(PathNotFound):
        platform.files.stat("r", Ref("master"), "/zz")


def test_file_and_content(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    data = bytes(range(256)) * 40 + b"tail"  # 11 chunks of 1000 bytes for the seeder
    commit = seed.commit("r", {"/big.bin": data})
    found, node = platform.files.file("r", Ref("master"), "/big.bin")
    assert found == commit
    assert len(node.chunks) == 11 and node.size == len(data)
    assert b"".join(platform.files.content(node)) == data


def test_file_errors(platform: Platform, history: list[Commit]) -> None:
    with pytest.raises(InvalidInput, match="is a directory"):
        platform.files.file("r", Ref("master"), "/d")
    with pytest.raises(PathNotFound):
        platform.files.file("r", Ref("master"), "/nope")
    platform.repos.create_branch("r", "empty", None)
    with pytest.raises(CommitNotFound):
        platform.files.file("r", Ref("empty"), "/a")


def test_walk(platform: Platform, history: list[Commit]) -> None:
    head = history[3]
    assert [(p, n.size) for p, n in platform.files.walk(head, "/")] == [
        ("a", 4),
        ("b", 3),
        ("d/y", 1),
    ]
    assert [p for p, _ in platform.files.walk(head, "/d")] == ["y"]
    assert [p for p, _ in platform.files.walk(head, "/d/y")] == ["y"]
    with pytest.raises(PathNotFound):
        list(platform.files.walk(head, "/nope"))


def test_diff_against_the_parent(platform: Platform, history: list[Commit]) -> None:
    diff = platform.files.diff
    assert diff("r", Ref("master"), None) == [
        Change("/d/x", "removed", 2, None),
        Change("/d/y", "added", None, 1),
    ]
    assert diff("r", parse_ref("master^"), None) == [Change("/a", "modified", 1, 4)]
    assert diff("r", Ref(history[1].id), None) == [Change("/b", "added", None, 3)]


def test_diff_of_the_first_commit_adds_everything(
    platform: Platform, history: list[Commit]
) -> None:
    assert platform.files.diff("r", Ref(history[0].id), None) == [
        Change("/a", "added", None, 1),
        Change("/d/x", "added", None, 2),
    ]


def test_diff_between_two_refs_and_below_a_path(platform: Platform, history: list[Commit]) -> None:
    diff = platform.files.diff
    assert diff("r", Ref("master"), parse_ref("master^3")) == [
        Change("/a", "modified", 1, 4),
        Change("/b", "added", None, 3),
        Change("/d/x", "removed", 2, None),
        Change("/d/y", "added", None, 1),
    ]
    assert diff("r", Ref("master"), parse_ref("master^3"), "/d") == [
        Change("/d/x", "removed", 2, None),
        Change("/d/y", "added", None, 1),
    ]
    assert diff("r", Ref("master"), Ref("master")) == []


def test_diff_file_replaced_by_directory(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    seed.commit("r", {"/p": b"file"})
    seed.commit("r", {"/p/q": b"inside"}, ["/p"])
    assert platform.files.diff("r", Ref("master"), None) == [
        Change("/p", "removed", 4, None),
        Change("/p/q", "added", None, 6),
    ]
    seed.commit("r", {"/p": b"file again"}, ["/p"])
    assert platform.files.diff("r", Ref("master"), None) == [
        Change("/p", "added", None, 10),
        Change("/p/q", "removed", 6, None),
    ]
