"""Repos and branches: the mutable names in front of immutable commits."""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core.ids import BranchName, CommitId, RepoName


@dataclass(frozen=True)
class Repo:
    name: RepoName
    created: float
    description: str = ""


@dataclass(frozen=True)
class Branch:
    repo: RepoName
    name: BranchName
    head: CommitId | None
