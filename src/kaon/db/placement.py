"""SqlPlacementStore: the PlacementStore port on SQLAlchemy Core (addresses as a JSON list)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, delete, exc, insert, select, update

from kaon.core.placement import Placement
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded


class SqlPlacementStore(SqlStore):
    @guarded
    def place(self, placement: Placement) -> None:
        t = schema.replica_placements
        values = {
            "server": placement.server,
            "url": placement.url,
            "addresses": json.dumps(list(placement.addresses)),
            "updated": placement.updated,
        }
        for _ in range(2):  # an insert racing another server's: the update then wins
            with self._writer.begin() as conn:
                done = conn.execute(
                    update(t).where(t.c.endpoint == placement.endpoint).values(**values)
                )
                if done.rowcount:
                    return
            try:
                with self._writer.begin() as conn:
                    conn.execute(insert(t), {"endpoint": placement.endpoint, **values})
                return
            except exc.IntegrityError:
                continue

    @guarded
    def placement(self, endpoint: str) -> Placement | None:
        t = schema.replica_placements
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.endpoint == endpoint)).first()
        return None if row is None else _placement(row)

    @guarded
    def placements(self) -> list[Placement]:
        t = schema.replica_placements
        with self._engine.connect() as conn:
            return [_placement(r) for r in conn.execute(select(t).order_by(t.c.endpoint))]

    @guarded
    def unplace(self, endpoint: str, server: str) -> None:
        t = schema.replica_placements
        with self._writer.begin() as conn:
            conn.execute(delete(t).where(t.c.endpoint == endpoint, t.c.server == server))


def _placement(row: Row[Any]) -> Placement:
    m = row._mapping
    return Placement(
        m["endpoint"],
        m["server"],
        m["url"],
        tuple(json.loads(m["addresses"])),
        float(m["updated"]),
    )
