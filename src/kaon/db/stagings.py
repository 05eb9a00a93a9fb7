"""SqlStagingStore: the StagingStore port on SQLAlchemy Core. Each `add` is ONE row, its batch
of files as JSON ([[path, size, [[digest, size], ...], [[name, value], ...]], ...]), numbered
by the staging row's `batches` counter, which one UPDATE both bumps and locks (rows staged
into a dropped staging find no row to update: refused). The commit reads the batches back in
order, later ones replacing earlier rows of the same path: a few rows and one JSON decode each,
not a row per file (20,000 rows, read and decoded one by one, cost ~10x more)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update

from kaon.core.tree import ChunkRef, FileContent
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded
from kaon.ports.stagings import StagingRecord

_S = schema.stagings
_B = schema.staging_batches


class SqlStagingStore(SqlStore):
    @guarded
    def open(self, staging: StagingRecord) -> None:
        with self._writer.begin() as conn:
            conn.execute(insert(_S), {**staging._asdict(), "batches": 0, "files": 0})

    @guarded
    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        with self._writer.begin() as conn:
            used = conn.execute(
                update(_S)
                .where(_S.c.id == staging_id, _S.c.touched >= idle_before)
                .values(touched=now)
                .returning(_S.c.repo, _S.c.branch)
            ).first()
            if used is None:  # none, or expired: dropped with its files
                self._drop(conn, [staging_id])
                return None
        return StagingRecord(staging_id, used.repo, used.branch, now)

    @guarded
    def add(self, staging_id: str, rows: Mapping[str, FileContent]) -> int | None:
        encoded = json.dumps(
            [[path, c.size, c.chunks, c.meta] for path, c in rows.items()], separators=(",", ":")
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
    def puts(self, staging_id: str) -> dict[str, FileContent]:
        stmt = select(_B.c.rows).where(_B.c.staging == staging_id).order_by(_B.c.seq)
        with self._engine.connect() as conn:
            batches = conn.execute(stmt).scalars().all()
        out: dict[str, FileContent] = {}
        for text in batches:
            out.update(_decode(json.loads(text)))
        return out

    @guarded
    def drop(self, staging_id: str) -> None:
        with self._writer.begin() as conn:
            self._drop(conn, [staging_id])

    @guarded
    def expire(self, idle_before: float, keep: int) -> int:
        with self._writer.begin() as conn:
            used = conn.execute(select(_S.c.id, _S.c.touched).order_by(_S.c.touched.desc()))
            doomed = [sid for i, (sid, t) in enumerate(used) if t < idle_before or i >= keep]
            if doomed:
                self._drop(conn, doomed)
        return len(doomed)

    @staticmethod
    def _drop(conn: Any, ids: list[str]) -> None:
        conn.execute(delete(_S).where(_S.c.id.in_(ids)))
        conn.execute(delete(_B).where(_B.c.staging.in_(ids)))


def _decode(rows: list[Any]) -> dict[str, FileContent]:
    make = ChunkRef._make
    return {
        path: FileContent(size, tuple(map(make, chunks)), tuple(map(tuple, meta)) if meta else ())
        for path, size, chunks, meta in rows
    }
