"""Repo paths: absolute, '/'-separated, normalised, never escaping the root."""

from __future__ import annotations

import pytest

from kaon.core import paths
from kaon.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        (".", "/"),
        ("a", "/a"),
        ("/a/b", "/a/b"),
        ("data//x/", "/data/x"),
        ("./a/./b/", "/a/b"),
        ("a\\b\\c", "/a/b/c"),
        ("/with space/é.txt", "/with space/é.txt"),
        ("...", "/..."),
        ("..a/b..", "/..a/b.."),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert paths.normalize(raw) == expected


def test_normalize_is_idempotent() -> None:
    once = paths.normalize("x//y/./z/")
    assert paths.normalize(once) == once


@pytest.mark.parametrize("raw", ["..", "/..", "a/../b", "a/b/..", "..\\x", "/a/../../etc"])
def test_dotdot_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="escapes the repo"):
        paths.normalize(raw)


@pytest.mark.parametrize("raw", ["a\x00b", "a\nb", "\t", "x\x1f"])
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        paths.normalize(raw)


def test_split() -> None:
    assert paths.split("/") == []
    assert paths.split("/a") == ["a"]
    assert paths.split("/a/b/c") == ["a", "b", "c"]


def test_join() -> None:
    assert paths.join("/", "a") == "/a"
    assert paths.join("/a", "b") == "/a/b"
    assert paths.join("/a/", "b") == "/a/b"


def test_parent_and_name() -> None:
    assert paths.parent_and_name("/a") == ("/", "a")
    assert paths.parent_and_name("/a/b/c.txt") == ("/a/b", "c.txt")
    with pytest.raises(InvalidInput, match="root"):
        paths.parent_and_name("/")


@pytest.mark.parametrize(
    ("path", "prefix", "expected"),
    [
        ("/a/b", "/", True),
        ("/", "/", True),
        ("/a", "/a", True),
        ("/a/b", "/a", True),
        ("/a/b", "/a/", True),
        ("/ab", "/a", False),
        ("/a", "/a/b", False),
        ("/b", "/a", False),
    ],
)
def test_is_under(path: str, prefix: str, expected: bool) -> None:
    assert paths.is_under(path, prefix) is expected
