"""StagingStore: the files of a coming commit, staged while its upload goes on
(kaon.services.staging), kept in the database so that any server commits a staging another
server began (issue 17).

Every method is atomic: rows staged into a staging that was dropped meanwhile are refused
(None), never left behind. Backends: kaon.db (SQLite, PostgreSQL), kaon.memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from kaon.core.tree import FileContent


class StagingRecord(NamedTuple):
    id: str
    repo: str
    branch: str
    touched: float  # when it was last used (idle ones expire)


class StagingStore(Protocol):
    def open(self, staging: StagingRecord) -> None:
        """Record a new, empty staging."""
        ...

    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        """Mark the staging used at `now` and return it; None when there is no such staging,
        or when it was last used before `idle_before` (then it is dropped: it expired)."""
        ...

    def add(self, staging_id: str, rows: Mapping[str, FileContent]) -> int | None:
        """Stage `rows` (normalised path -> content; a path staged again is replaced at the
        commit); the number of rows staged so far (a path staged twice counts twice), or None
        when there is no such staging (nothing stored)."""
        ...

    def puts(self, staging_id: str) -> dict[str, FileContent]:
        """Every file staged in the staging ({} for none, or no such staging)."""
        ...

    def drop(self, staging_id: str) -> None:
        """Forget the staging and its files (nothing when it is gone already)."""
        ...

    def expire(self, idle_before: float, keep: int) -> int:
        """Drop the stagings last used before `idle_before`, then all but the `keep` most
        recently used; how many were dropped."""
        ...
