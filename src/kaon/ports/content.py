"""Content: the store's trees, named by content address, fetched by whoever runs the code.

Executors and replica backends are told *what* runs (trees of code, data and models by
commit id; an environment lock) and fetch it themselves where they run, through this port:
a local backend writes it to its own scratch folder, a cluster backend on the worker.
`Manifests` resolves a tree to where its bytes lie in the object store (a cluster worker
reads them there itself: nothing comes from the server's disk).
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


@dataclass(frozen=True)
class StoredRange:
    """One stored chunk of a file: `stored_len` bytes at `offset` of the object `key`,
    encoded with `codec` (kaon.core.pack.decode_chunk gives back its `raw_len` bytes)."""

    key: str
    offset: int
    stored_len: int
    raw_len: int
    codec: int


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative to the tree's path, "/"-separated
    size: int
    chunks: tuple[StoredRange, ...]


@dataclass(frozen=True)
class Manifest:
    """A tree resolved to where its bytes lie in the object store: a worker that can read
    the store (kaon.ports.objectstore) writes the files without asking the server."""

    tree: TreeRef
    files: tuple[ManifestFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


class Manifests(Protocol):
    def manifest(self, tree: TreeRef) -> Manifest:
        """Every file of `tree` with its chunks' places in the object store. Raises NotFound
        when the repo or commit is gone."""
        ...
