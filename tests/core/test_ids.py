"""Typed identifiers validated at construction."""

from __future__ import annotations

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.ids import branch_name, commit_id, digest, is_hex, new_pack_id, repo_name


@pytest.mark.parametrize("name", ["a", "A1", "my-repo", "my_repo", "0day", "x" * 63])
def test_valid_repo_names(name: str) -> None:
    assert repo_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "_a", "a b", "a/b", "a.b", "x" * 64, "a\n"])
def test_invalid_repo_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid repo name"):
        repo_name(name)


def test_branch_names() -> None:
    assert branch_name("master") == "master"
    assert branch_name("abcd") == "abcd"  # short hex is fine
    assert branch_name("a" * 33) == "a" * 33
    with pytest.raises(InvalidInput, match="commit id"):
        branch_name("0123456789abcdef0123456789abcdef")
    for bad in ("", "-x", "a b", "a^", "a~1", "dev\n"):
        with pytest.raises(InvalidInput):
            branch_name(bad)


def test_digest_and_commit_id() -> None:
    assert digest("a" * 64) == "a" * 64
    assert commit_id("0" * 32) == "0" * 32
    for bad in ("a" * 63, "A" * 64, "g" * 64, ""):
        with pytest.raises(InvalidInput):
            digest(bad)
    for bad in ("a" * 31, "a" * 64, "Z" * 32):
        with pytest.raises(InvalidInput):
            commit_id(bad)


def test_is_hex_and_pack_ids() -> None:
    assert is_hex("0123abcdef")
    assert not is_hex("ABC")
    assert not is_hex("")
    assert not is_hex("abc\n")
    a, b = new_pack_id(), new_pack_id()
    assert a != b and len(a) == 32 and is_hex(a)
