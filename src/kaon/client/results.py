"""What `Client.put` and `Client.get` return (the other calls return kaon.client.models)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kaon.client.models import CommitInfo, TransferStats


@dataclass(frozen=True)
class PutResult:
    """The commit a put made, and what it cost (files, bytes, how many were new, seconds)."""

    commit: CommitInfo
    stats: TransferStats


@dataclass(frozen=True)
class GetResult:
    """Where a get wrote, and how many files and bytes."""

    path: Path
    files: int
    bytes: int
