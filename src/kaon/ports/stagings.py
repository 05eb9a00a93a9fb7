"""StagingStore: files of a coming commit, kept in the database so that any server commits
what another server staged (issue 17): the stagings of a put (kaon.services.staging) and the
writes of an S3 transaction (kaon.services.s3.objects).

Every method is atomic: rows staged into a staging that was dropped meanwhile are refused
(None), never left behind. Backends: kaon.db (SQLite, PostgreSQL), kaon.memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple, Protocol

from kaon.core.tree import FileContent


class StagingKind(StrEnum):
    PUT = "put"  # a put's rows sent while its upload goes on (idle ones expire)
    S3_TRANSACTION = "s3tx"  # an S3 transaction's writes, until it is committed or aborted


class StagingRecord(NamedTuple):
    id: str
    repo: str
    branch: str
    touched: float  # when it was last used (idle ones expire)
    kind: StagingKind = StagingKind.PUT


Staged = Mapping[str, FileContent | None]  # path -> what is put there, None: a delete


class StagingStore(Protocol):
    def open(self, staging: StagingRecord) -> None:
        """Record a new, empty staging (nothing when one of that id exists)."""
        ...

    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        """Mark the staging used at `now` and return it; None when there is no such staging,
        or when it was last used before `idle_before` (then it is dropped: it expired)."""
        ...

    def add(self, staging_id: str, rows: Staged) -> int | None:
        """Stage `rows` (normalised path -> content, None for a delete; a path staged again is
        replaced at the commit); the number of rows staged so far (a path staged twice counts
        twice), or None when there is no such staging (nothing stored)."""
        ...

    def puts(self, staging_id: str) -> dict[str, FileContent | None]:
        """Every path staged in the staging, the last row of each ({} for none, or no such
        staging)."""
        ...

    def take(self, staging_id: str) -> dict[str, FileContent | None] | None:
        """`puts` and `drop` at once (None when there is no such staging): of two servers
        committing one staging, one gets it."""
        ...

    def drop(self, staging_id: str) -> None:
        """Forget the staging and its rows (nothing when it is gone already)."""
        ...

    def stagings(self, repo: str, kind: StagingKind) -> list[StagingRecord]:
        """The stagings of `kind` for `repo`."""
        ...

    def expire(self, idle_before: float, keep: int, kind: StagingKind = StagingKind.PUT) -> int:
        """Drop the stagings of `kind` last used before `idle_before`, then all but the `keep`
        most recently used; how many were dropped."""
        ...
