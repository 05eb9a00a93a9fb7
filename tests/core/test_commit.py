"""Commits: canonical encoding, sealing (id = hash of the encoding), decoding."""

from __future__ import annotations

import dataclasses
import json

import blake3

from kaon.core.commit import COMMIT_FORMAT, Commit, seal
from kaon.core.ids import BranchName, CommitId, Digest, RepoName, commit_id


def draft(**changes: object) -> Commit:
    base = Commit(
        id=CommitId(""),
        repo=RepoName("images"),
        branch=BranchName("master"),
        parent=None,
        tree=Digest("ab" * 32),
        size=10,
        count=2,
        message="first",
        author="ada",
        started=100.0,
        finished=102.5,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_seal_sets_the_id_to_the_hash_of_the_encoding() -> None:
    commit = seal(draft())
    assert commit_id(commit.id) == commit.id  # 32 lowercase hex
    assert commit.id == blake3.blake3(commit.encode()).hexdigest()[:32]
    assert dataclasses.replace(commit, id=CommitId("")) == draft()


def test_id_is_deterministic_for_the_same_content() -> None:
    assert seal(draft()).id == seal(draft()).id
    assert seal(seal(draft())).id == seal(draft()).id  # the old id is not part of the encoding
    assert seal(draft(id=CommitId("f" * 32))).id == seal(draft()).id


def test_any_field_changes_the_id() -> None:
    base = seal(draft()).id
    for change in (
        {"message": "other"},
        {"parent": CommitId("0" * 32)},
        {"tree": None},
        {"branch": BranchName("dev")},
        {"repo": RepoName("other")},
        {"size": 11},
        {"count": 3},
        {"author": "bob"},
        {"started": 100.5},
        {"finished": 103.0},
    ):
        assert seal(draft(**change)).id != base, change


def test_encoding_is_canonical_json_without_the_id() -> None:
    commit = seal(draft(message="héllo"))
    data = commit.encode()
    doc = json.loads(data)
    assert "id" not in doc
    assert doc["v"] == COMMIT_FORMAT
    assert list(doc) == sorted(doc)
    assert b" " not in data.replace(b"h\\u00e9llo", b"")


def test_decode_round_trip() -> None:
    commit = seal(draft(parent=CommitId("1" * 32), tree=None))
    again = Commit.decode(commit.encode())
    assert again == commit


def test_duration() -> None:
    assert draft().duration == 2.5
    assert draft(finished=99.0).duration == 0.0
