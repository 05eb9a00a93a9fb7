"""Addresses `repo@ref:/path` and refs with ancestry (`master^`, `^^`, `^3`, `~2`)."""

from __future__ import annotations

import pytest

from kaon.core import paths
from kaon.core.address import Address, Ref, parse_address, parse_ref
from kaon.core.errors import InvalidInput
from kaon.core.ids import RepoName


@pytest.mark.parametrize(
    ("text", "base", "back"),
    [
        ("master", "master", 0),
        ("master^", "master", 1),
        ("master^^", "master", 2),
        ("master^^^", "master", 3),
        ("master^3", "master", 3),
        ("master^1", "master", 1),
        ("master~2", "master", 2),
        ("master~", "master", 1),
        ("master^~2", "master", 3),
        ("master^2^", "master", 3),
        ("3fa46b", "3fa46b", 0),
        ("3fa46b^", "3fa46b", 1),
        ("feature-1", "feature-1", 0),
        ("v2", "v2", 0),
    ],
)
def test_parse_ref(text: str, base: str, back: int) -> None:
    assert parse_ref(text) == Ref(base, back)


@pytest.mark.parametrize("text", ["master", "master^", "master^^", "master~5", "abc123^2"])
def test_ref_str_round_trips(text: str) -> None:
    ref = parse_ref(text)
    assert parse_ref(str(ref)) == ref


def test_ref_str_shows_generations() -> None:
    assert str(Ref("master")) == "master"
    assert str(Ref("master", 2)) == "master^2"


@pytest.mark.parametrize("text", ["", "^", "^^", "~2", "^3"])
def test_parse_ref_rejects_missing_base(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_ref(text)


def test_parse_address_repo_only() -> None:
    addr = parse_address("images")
    assert addr == Address(RepoName("images"), None, "/")
    assert addr.ref_text == "master"
    assert str(addr) == "images"


def test_parse_address_default_branch() -> None:
    assert parse_address("images", default_branch="dev").ref == Ref("dev")
    assert parse_address("images:/a", default_branch="dev") == Address(
        RepoName("images"), Ref("dev"), "/a"
    )
    # an explicit ref wins over the default
    assert parse_address("images@master", default_branch="dev").ref == Ref("master")


def test_parse_address_full() -> None:
    addr = parse_address("images@master:/data/mnist.npz")
    assert addr.repo == "images"
    assert addr.ref == Ref("master")
    assert addr.path == "/data/mnist.npz"
    assert str(addr) == "images@master:/data/mnist.npz"


def test_parse_address_ancestry_and_normalised_path() -> None:
    addr = parse_address("images@master^2:data//x/")
    assert addr.ref == Ref("master", 2)
    assert addr.path == "/data/x"
    assert addr.ref_text == "master^2"
    assert parse_address(str(addr)) == addr


def test_parse_address_path_without_ref() -> None:
    addr = parse_address("images:/a/b")
    assert addr.ref is None
    assert addr.path == "/a/b"


def test_parse_address_colon_inside_path() -> None:
    assert parse_address("r@master:/a:b").path == "/a:b"


def test_parse_address_root_path() -> None:
    addr = parse_address("r@master:/")
    assert addr.path == paths.ROOT
    assert str(addr) == "r@master"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bad name@master",
        "-repo",
        "_repo",
        "repo/x@master",
        "a" * 64,
        "@master",
        "répo",
        "repo.x",
    ],
)
def test_bad_repo_names(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_address(text)


def test_longest_repo_name_is_fine() -> None:
    assert parse_address("a" * 63).repo == "a" * 63


def test_empty_ref_after_at() -> None:
    with pytest.raises(InvalidInput, match="empty ref"):
        parse_address("repo@")


@pytest.mark.parametrize(
    "text",
    [
        "repo@master:/../etc/passwd",
        "repo@master:..",
        "repo@master:a/../../b",
        "repo@master:/a/..",
        "repo:..\\x",
    ],
)
def test_paths_escaping_the_repo_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="escapes the repo"):
        parse_address(text)


def test_control_characters_in_path_are_refused() -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        parse_address("repo@master:/a\nb")
