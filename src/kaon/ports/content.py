"""Content: the store's trees, named by content address, fetched by whoever runs the code.

Executors and replica backends are told *what* runs (trees of code, data and models by
commit id; an environment lock) and fetch it themselves where they run, through this port:
a local backend writes it to its own scratch folder, a cluster backend on the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kaon.core.ids import CommitId, RepoName


@dataclass(frozen=True)
class TreeRef:
    """The files of one commit of a repo at or below `path`: what a run reads (its code, its
    data, a model). A commit id is a content address: the same TreeRef is the same bytes."""

    repo: RepoName
    commit: CommitId
    path: str = "/"


class Content(Protocol):
    def checkout(self, tree: TreeRef, dest: Path) -> int:
        """Write every file of `tree` into `dest` (created when missing; paths relative to
        `tree.path`), streaming chunk by chunk; returns the bytes written. Raises NotFound
        when the repo or commit is gone."""
        ...
