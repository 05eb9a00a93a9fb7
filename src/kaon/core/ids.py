"""Typed identifiers, validated at construction."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import NewType, cast

from kaon.core.errors import InvalidInput

Digest = NewType("Digest", str)
"""BLAKE3-256 of some bytes, 64 lowercase hex characters."""

CommitId = NewType("CommitId", str)
"""32 lowercase hex characters (the first 128 bits of the commit object's BLAKE3)."""

RepoName = NewType("RepoName", str)
BranchName = NewType("BranchName", str)
PackId = NewType("PackId", str)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}\Z")  # \Z: `$` would accept "name\n"
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}\Z")
_HEX = re.compile(r"^[0-9a-f]+\Z")

DIGEST_LEN = 64
COMMIT_ID_LEN = 32
MIN_PREFIX = 4


def repo_name(value: str) -> RepoName:
    if not _NAME.match(value):
        raise InvalidInput(
            f"invalid repo name {value!r}: use 1-63 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return RepoName(value)


def branch_name(value: str) -> BranchName:
    if not _BRANCH.match(value) or (is_hex(value) and len(value) == COMMIT_ID_LEN):
        raise InvalidInput(
            f"invalid branch name {value!r}: use 1-63 letters, digits, '_' or '-', "
            "starting with a letter or digit (and not a 32-character commit id)"
        )
    return BranchName(value)


def is_hex(value: str) -> bool:
    return bool(_HEX.match(value))


_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
_DIGESTS = re.compile(r"[0-9a-f]*")


def digest(value: str) -> Digest:
    if not _DIGEST.match(value):
        raise InvalidInput(f"invalid digest {value!r}: expected 64 lowercase hex characters")
    return Digest(value)


def all_digests(values: Sequence[object]) -> bool:
    """Whether every value is a valid digest: one check for all of them (20,000 digests of a
    folder's commit in ~2 ms instead of ~10 one by one)."""
    return (
        set(map(type, values)) <= {str}
        and set(map(len, cast("Sequence[str]", values))) <= {64}
        and _DIGESTS.fullmatch("".join(cast("Sequence[str]", values))) is not None
    )


def commit_id(value: str) -> CommitId:
    if len(value) != COMMIT_ID_LEN or not is_hex(value):
        raise InvalidInput(f"invalid commit id {value!r}: expected 32 lowercase hex characters")
    return CommitId(value)


def new_pack_id() -> PackId:
    return PackId(uuid.uuid4().hex)
