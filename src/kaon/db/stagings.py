"""SqlStagingStore: the StagingStore port on SQLAlchemy Core. Each `add` is ONE row, its batch
of files as JSON ([[path, size, [[digest, size], ...], [[name, value], ...]], ...]; [path]
for a delete), numbered
by the staging row's `batches` counter, which one UPDATE both bumps and locks (rows staged
into a dropped staging find no row to update: refused). The commit reads the batches back in
order, later ones replacing earlier rows of the same path: a few rows and one JSON decode each,
not a row per file (20,000 rows, read and decoded one by one, cost ~10x more)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from kaon.core.tree import ChunkRef, FileContent
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded
from kaon.ports.stagings import Staged, StagingKind, StagingRecord

_S = schema.stagings
_B = schema.staging_batches


class SqlStagingStore(SqlStore):
    @guarded
    def open(self, staging: StagingRecord) -> None:
        row = {**staging._asdict(), "kind": staging.kind.value, "batches": 0, "files": 0}
        with self._writer.begin() as conn:
            conn.execute(self._insert_ignore(_S), row)

    @guarded
    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        with self._writer.begin() as conn:
            used = conn.execute(
                update(_S)
                .where(_S.c.id == staging_id, _S.c.touched >= idle_before)
                .values(touched=now)
                .returning(_S.c.repo, _S.c.branch, _S.c.kind)
            ).first()
            if used is None:  # none, or expired: dropped with its files
                self._drop(conn, [staging_id])
                return None
        return StagingRecord(staging_id, used.repo, used.branch, now, StagingKind(used.kind))

    @guarded
    def add(self, staging_id: str, rows: Staged) -> int | None:
        encoded = json.dumps(
            [[path, c.size, c.chunks, c.meta] if c else [path] for path, c in rows.items()],
            separators=(",", ":"),
        )
        with self._writer.begin() as conn:
            counted = conn.execute(
                update(_S)
                .where(_S.c.id == staging_id)
                .values(batches=_S.c.batches + 1, files=_S.c.files + len(rows))
                .returning(_S.c.batches, _S.c.files)
            ).first()
            if counted is None:
                return None
            conn.execute(insert(_B), {"staging": staging_id, "seq": counted[0], "rows": encoded})
        return int(counted[1])

    @guarded
    def puts(self, staging_id: str) -> dict[str, FileContent | None]:
        with self._engine.connect() as conn:
            return self._read(conn, staging_id)

    @guarded
    def take(self, staging_id: str) -> dict[str, FileContent | None] | None:
        with self._writer.begin() as conn:
            found = conn.execute(delete(_S).where(_S.c.id == staging_id))
            if not found.rowcount:
                return None
            out = self._read(conn, staging_id)
            conn.execute(delete(_B).where(_B.c.staging == staging_id))
        return out

    @staticmethod
    def _read(conn: Any, staging_id: str) -> dict[str, FileContent | None]:
        stmt = select(_B.c.rows).where(_B.c.staging == staging_id).order_by(_B.c.seq)
        out: dict[str, FileContent | None] = {}
        for text in conn.execute(stmt).scalars():
            out.update(_decode(json.loads(text)))
        return out

    @guarded
    def stagings(self, repo: str, kind: StagingKind) -> list[StagingRecord]:
        stmt = select(_S).where(_S.c.repo == repo, _S.c.kind == kind.value).order_by(_S.c.id)
        with self._engine.connect() as conn:
            return [
                StagingRecord(r.id, r.repo, r.branch, r.touched, StagingKind(r.kind))
                for r in conn.execute(stmt)
            ]

    @guarded
    def drop(self, staging_id: str) -> None:
        with self._writer.begin() as conn:
            self._drop(conn, [staging_id])

    @guarded
    def expire(self, idle_before: float, keep: int, kind: StagingKind = StagingKind.PUT) -> int:
        with self._writer.begin() as conn:
            used = conn.execute(
                select(_S.c.id, _S.c.touched)
                .where(_S.c.kind == kind.value)
                .order_by(_S.c.touched.desc())
            )
            doomed = [sid for i, (sid, t) in enumerate(used) if t < idle_before or i >= keep]
            if doomed:
                self._drop(conn, doomed)
        return len(doomed)

    @staticmethod
    def _drop(conn: Any, ids: list[str]) -> None:
        conn.execute(delete(_S).where(_S.c.id.in_(ids)))
        conn.execute(delete(_B).where(_B.c.staging.in_(ids)))


def _decode(rows: list[Any]) -> dict[str, FileContent | None]:
    make = ChunkRef._make
    return {
        row[0]: FileContent(row[1], tuple(map(make, row[2])), tuple(map(tuple, row[3])))
        if len(row) > 1
        else None
        for row in rows
    }
