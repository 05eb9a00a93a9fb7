"""Commits: immutable snapshots of a repo, named by the hash of their canonical encoding."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import blake3

from kaon.core.ids import BranchName, CommitId, Digest, RepoName

COMMIT_FORMAT = 1


@dataclass(frozen=True)
class Commit:
    id: CommitId
    repo: RepoName
    branch: BranchName
    parent: CommitId | None
    tree: Digest | None
    size: int
    count: int
    message: str
    author: str
    started: float
    finished: float

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)

    def encode(self) -> bytes:
        doc = asdict(self)
        doc.pop("id")
        doc["v"] = COMMIT_FORMAT
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @staticmethod
    def decode(data: bytes) -> Commit:
        doc = json.loads(data)
        doc.pop("v", None)
        partial = Commit(id=CommitId(""), **doc)
        return seal(partial)


def seal(commit: Commit) -> Commit:
    """The same commit with its id set to the hash of its canonical encoding."""
    cid = CommitId(blake3.blake3(commit.encode()).hexdigest()[:32])
    return Commit(**{**asdict(commit), "id": cid})
