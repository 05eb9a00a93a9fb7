"""The writes of S3 transactions (x-kaon-transaction), staged in the database until the
transaction is committed or aborted (kaon.ports.stagings, kind S3_TRANSACTION): a write sent to
any server joins the transaction, and any server commits it (issue 17).

One staging per (repo, branch, transaction): a lakeFS-style bucket writes several branches of
one repo, each becoming its own commit. A put replaces what the transaction put or deleted at
that path before; a delete replaces a put.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from kaon.core.s3.buckets import Bucket, Location
from kaon.core.tree import FileContent
from kaon.ports.stagings import StagingKind, StagingRecord, StagingStore
from kaon.services.commits import Put

_KIND = StagingKind.S3_TRANSACTION


class TakenBranch(NamedTuple):
    repo: str
    branch: str
    puts: list[Put]
    deletes: list[str]  # what the transaction deleted (whether it exists: the commit's check)


def _staging_id(repo: str, branch: str, tx: str) -> str:
    return f"s3tx/{repo}/{branch}/{tx}"


class S3Transactions:
    def __init__(self, store: StagingStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def put(self, loc: Location, tx: str, puts: Iterable[Put]) -> None:
        self._stage(loc, tx, {p.path: FileContent(p.size, p.chunks, p.meta) for p in puts})

    def delete(self, loc: Location, tx: str, paths: Iterable[str]) -> None:
        self._stage(loc, tx, dict.fromkeys(paths))

    def _stage(self, loc: Location, tx: str, rows: dict[str, FileContent | None]) -> None:
        sid = _staging_id(loc.repo, loc.ref, tx)
        while self._store.add(sid, rows) is None:  # the first write opens it (a commit of
            # the transaction racing this write may take it away again: opened anew then)
            self._store.open(StagingRecord(sid, loc.repo, loc.ref, self._clock(), _KIND))

    def take(self, bucket: Bucket, tx: str) -> list[TakenBranch]:
        """The writes of `tx` in `bucket`, by branch, forgotten at once ([] for none)."""
        out: list[TakenBranch] = []
        for staging in self._store.stagings(bucket.repo, _KIND):
            if staging.id != _staging_id(staging.repo, staging.branch, tx):
                continue
            if not bucket.by_key and staging.branch != bucket.branch:
                continue
            rows = self._store.take(staging.id)
            if rows is None:  # another server took it first
                continue
            puts = [Put(p, c.size, c.chunks, c.meta) for p, c in rows.items() if c is not None]
            deletes = sorted(p for p, c in rows.items() if c is None)
            out.append(TakenBranch(staging.repo, staging.branch, puts, deletes))
        return out
