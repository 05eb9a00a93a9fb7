"""Upload leases in the metadata database (part of SqlMetadataStore).

An in-flight upload pins the digests it relies on (those it sent, and those the server said
it already holds) under a lease that expires unless renewed. gc spares pinned digests of
leases not yet expired, so an upload never loses its chunks between sending them and its
commit, even when another API server over the same database runs gc; a client that vanished
stops renewing, and its chunks are reclaimed once the lease expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from kaon.core.ids import Digest
from kaon.db import schema
from kaon.db.sqlstore import BATCH, SqlStore, batches

_L = schema.upload_leases
_P = schema.upload_pins


class SqlLeases(SqlStore):
    """The LeaseStore part of the MetadataStore port."""

    def hold(self, lease: str, digests: Sequence[Digest], expires: float) -> None:
        with self._db.guard():
            self._hold(lease, digests, expires)

    def release(self, lease: str, digests: Sequence[Digest] | None = None) -> None:
        with self._db.guard():
            self._release(lease, digests)

    def leased_digests(self, now: float) -> set[Digest]:
        with self._db.guard():
            return self._leased_digests(now)

    def expire_leases(self, now: float) -> int:
        with self._db.guard():
            return self._expire_leases(now)

    def _hold(self, lease: str, digests: Sequence[Digest], expires: float) -> None:
        """Create or renew `lease` (never shortening it) and pin `digests` under it."""
        stmt: Any
        if self._dialect == "postgresql":
            stmt = postgresql.insert(_L).values(id=lease, expires=expires)
            later = func.greatest(_L.c.expires, stmt.excluded.expires)
        else:
            stmt = sqlite.insert(_L).values(id=lease, expires=expires)
            later = func.max(_L.c.expires, stmt.excluded.expires)
        stmt = stmt.on_conflict_do_update(index_elements=[_L.c.id], set_={"expires": later})
        rows = [(lease, d) for d in dict.fromkeys(digests)]
        with self._writer.begin() as conn:
            conn.execute(stmt)
            if rows:
                conn.exec_driver_sql(
                    "INSERT INTO upload_pins (lease, digest) "
                    f"VALUES ({self._mark}, {self._mark}) ON CONFLICT DO NOTHING",
                    rows,
                )

    def _release(self, lease: str, digests: Sequence[Digest] | None) -> None:
        if digests is None:
            # BATCH pins a transaction: the lease of a 200,000-file upload must not hold the
            # write lock for seconds (a pipeline job set off by its commit is waiting to
            # write). Pins first, the lease last: a release cut short only expires later.
            while self._unpin_some(lease) >= BATCH:
                pass
            with self._writer.begin() as conn:
                conn.execute(delete(_L).where(_L.c.id == lease))
            return
        with self._writer.begin() as conn:
            for batch in batches(digests):
                conn.execute(delete(_P).where(_P.c.lease == lease, _P.c.digest.in_(batch)))

    def _unpin_some(self, lease: str) -> int:
        """Remove at most BATCH pins of `lease`; how many were removed."""
        some = select(_P.c.digest).where(_P.c.lease == lease).limit(BATCH)
        with self._writer.begin() as conn:
            stmt = delete(_P).where(_P.c.lease == lease, _P.c.digest.in_(some))
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)

    def _leased_digests(self, now: float) -> set[Digest]:
        query = (
            select(_P.c.digest).distinct().join(_L, _L.c.id == _P.c.lease).where(_L.c.expires > now)
        )
        with self._engine.connect() as conn:
            return {Digest(d) for d in conn.scalars(query)}

    def _expire_leases(self, now: float) -> int:
        expired = select(_L.c.id).where(_L.c.expires <= now)
        with self._writer.begin() as conn:
            conn.execute(delete(_P).where(_P.c.lease.in_(expired)))
            gone = conn.execute(
                delete(_L).where(_L.c.expires <= now).execution_options(preserve_rowcount=True)
            )
            return int(gone.rowcount)
