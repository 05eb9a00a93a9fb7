"""SqlClusterStore: the ClusterStore port on SQLAlchemy Core. A claim is taken by one
conditional statement (insert if absent; else update where it is ours or expired), so two
servers racing for one key end with one winner on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, delete, exc, insert, or_, select, update

from kaon.core.cluster import Claim, ClaimKind, ServerRecord
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded


class SqlClusterStore(SqlStore):
    @guarded
    def heartbeat(self, server: ServerRecord) -> None:
        t = schema.cluster_servers
        with self._writer.begin() as conn:
            done = conn.execute(
                update(t).where(t.c.id == server.id).values(url=server.url, seen=server.seen)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(t),
                    {
                        "id": server.id,
                        "url": server.url,
                        "started": server.started,
                        "seen": server.seen,
                    },
                )

    @guarded
    def servers(self, seen_since: float) -> list[ServerRecord]:
        t = schema.cluster_servers
        stmt = select(t).where(t.c.seen >= seen_since).order_by(t.c.started, t.c.id)
        with self._engine.connect() as conn:
            return [
                ServerRecord(r.id, r.url, float(r.started), float(r.seen))
                for r in conn.execute(stmt)
            ]

    @guarded
    def forget_server(self, server_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                delete(schema.cluster_claims).where(schema.cluster_claims.c.owner == server_id)
            )
            conn.execute(
                delete(schema.cluster_servers).where(schema.cluster_servers.c.id == server_id)
            )

    @guarded
    def claim(self, kind: ClaimKind, key: str, owner: str, now: float, ttl: float) -> Claim | None:
        t = schema.cluster_claims
        row = {"kind": kind.value, "key": key, "owner": owner, "expires": now + ttl}
        with self._writer.begin() as conn:
            taken = conn.execute(
                update(t)
                .where(
                    and_(t.c.kind == kind.value, t.c.key == key),
                    or_(t.c.owner == owner, t.c.expires <= now),
                )
                .values(owner=owner, expires=now + ttl)
            )
            if taken.rowcount == 1:
                return Claim(kind, key, owner, now + ttl)
            if conn.execute(
                select(t.c.owner).where(t.c.kind == kind.value, t.c.key == key)
            ).first():
                return None
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(t), row)
        except exc.IntegrityError:
            return None  # another server inserted it first
        return Claim(kind, key, owner, now + ttl)

    @guarded
    def renew(self, owner: str, now: float, ttl: float) -> int:
        t = schema.cluster_claims
        with self._writer.begin() as conn:
            done = conn.execute(update(t).where(t.c.owner == owner).values(expires=now + ttl))
            return int(done.rowcount)

    @guarded
    def release(self, kind: ClaimKind, key: str, owner: str) -> None:
        t = schema.cluster_claims
        with self._writer.begin() as conn:
            conn.execute(
                delete(t).where(t.c.kind == kind.value, t.c.key == key, t.c.owner == owner)
            )

    @guarded
    def holder(self, kind: ClaimKind, key: str, now: float) -> Claim | None:
        t = schema.cluster_claims
        stmt = select(t).where(t.c.kind == kind.value, t.c.key == key, t.c.expires > now)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _claim(row)

    @guarded
    def claims(self, kind: ClaimKind, now: float) -> list[Claim]:
        t = schema.cluster_claims
        stmt = select(t).where(t.c.kind == kind.value, t.c.expires > now).order_by(t.c.key)
        with self._engine.connect() as conn:
            return [_claim(r) for r in conn.execute(stmt)]

    @guarded
    def expired(self, kind: ClaimKind, now: float) -> list[Claim]:
        t = schema.cluster_claims
        stmt = select(t).where(t.c.kind == kind.value, t.c.expires <= now).order_by(t.c.key)
        with self._engine.connect() as conn:
            return [_claim(r) for r in conn.execute(stmt)]


def _claim(row: Row[Any]) -> Claim:
    m = row._mapping
    return Claim(ClaimKind(m["kind"]), m["key"], m["owner"], float(m["expires"]))
