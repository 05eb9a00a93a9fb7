"""The ChunkIndex part of the MetadataStore port (chunks and the packs holding them) on
SQLAlchemy Core; the hot paths go through the driver (see the comments)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, update

from kaon.core.ids import Digest, PackId
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, batches, guarded
from kaon.ports.metadata import ChunkLocation, PackInfo

PAGE = 5000
"""Rows per page when iterating whole tables."""

CHUNK_COLUMNS = tuple(col.key for col in schema.chunks.columns)


def _location(row: Row[Any]) -> ChunkLocation:
    return ChunkLocation(
        digest=Digest(row.digest),
        pack=PackId(row.pack),
        offset=int(row.offset),
        stored_len=int(row.stored_len),
        raw_len=int(row.raw_len),
        codec=int(row.codec),
    )


def _chunk_row(chunk: ChunkLocation) -> dict[str, Any]:
    return {
        "digest": chunk.digest,
        "pack": chunk.pack,
        "offset": chunk.offset,
        "stored_len": chunk.stored_len,
        "raw_len": chunk.raw_len,
        "codec": chunk.codec,
    }


class SqlChunkIndex(SqlStore):
    """The chunk and pack tables (part of SqlMetadataStore)."""

    @property
    def _insert_chunks_sql(self) -> str:
        return (
            f'INSERT INTO chunks (digest, pack, "offset", stored_len, raw_len, codec) '
            f"VALUES ({self._marks(6)}) ON CONFLICT DO NOTHING"
        )

    @guarded
    def missing_chunks(self, digests: Sequence[Digest]) -> set[Digest]:
        missing = set(digests)
        with self._engine.connect() as conn:
            for batch in batches(digests):
                # through the driver, and counted first: a commit of 20,000 files asks about
                # 20,000 chunks that are all there (and a new upload about chunks that are
                # all missing); fetching 20,000 rows cost ~30 ms, counting them ~5 ms
                where = f"FROM chunks WHERE digest IN ({self._marks(len(batch))})"
                args = tuple(batch)
                found = conn.exec_driver_sql(f"SELECT count(*) {where}", args).scalar_one()
                if found == len(batch):
                    missing.difference_update(batch)
                elif found:
                    rows = conn.exec_driver_sql(f"SELECT digest {where}", args)
                    missing.difference_update(d for (d,) in rows)
        return missing

    @guarded
    def add_pack(self, pack: PackInfo, chunks: Iterable[ChunkLocation]) -> None:
        # plain tuples through the driver: SQLAlchemy's per-row parameter handling cost
        # ~10 us a row, half the server's time to take a pack of 20,000 small files
        rows = [(x.digest, x.pack, x.offset, x.stored_len, x.raw_len, x.codec) for x in chunks]
        with self._writer.begin() as conn:
            info = {"id": pack.id, "size": pack.size, "created": pack.created}
            conn.execute(self._insert_ignore(schema.packs), info)
            if rows:
                conn.exec_driver_sql(self._insert_chunks_sql, rows)

    @guarded
    def locate(self, digests: Sequence[Digest]) -> dict[Digest, ChunkLocation]:
        found: dict[Digest, ChunkLocation] = {}
        with self._engine.connect() as conn:
            for batch in batches(digests):
                # through the driver: a folder's archive locates 20,000 chunks, and building
                # the statement and Row objects cost ~3x the query
                query = (
                    'SELECT digest, pack, "offset", stored_len, raw_len, codec FROM chunks '
                    f"WHERE digest IN ({self._marks(len(batch))})"
                )
                for d, pack, offset, stored_len, raw_len, codec in conn.exec_driver_sql(
                    query, tuple(batch)
                ):
                    found[d] = ChunkLocation(
                        Digest(d), PackId(pack), offset, stored_len, raw_len, codec
                    )
        return found

    @guarded
    def list_packs(self) -> list[PackInfo]:
        p = schema.packs
        with self._engine.connect() as conn:
            rows = conn.execute(select(p).order_by(p.c.created, p.c.id)).all()
        return [PackInfo(PackId(x.id), int(x.size), float(x.created)) for x in rows]

    @guarded
    def pack_chunks(self, pack: PackId) -> list[ChunkLocation]:
        ch = schema.chunks
        query = select(ch).where(ch.c.pack == pack).order_by(ch.c.offset, ch.c.digest)
        with self._engine.connect() as conn:
            return [_location(row) for row in conn.execute(query)]

    @guarded
    def move_chunks(self, chunks: Iterable[ChunkLocation]) -> None:
        rows = [{f"b_{k}": v for k, v in _chunk_row(x).items()} for x in chunks]
        if not rows:
            return
        ch = schema.chunks
        stmt = (
            update(ch)
            .where(ch.c.digest == bindparam("b_digest"))
            .values({k: bindparam(f"b_{k}") for k in CHUNK_COLUMNS if k != "digest"})
        )
        with self._writer.begin() as conn:
            conn.execute(stmt, rows)

    @guarded
    def drop_chunks(self, digests: Iterable[Digest]) -> None:
        ch = schema.chunks
        with self._writer.begin() as conn:
            for batch in batches(list(digests)):
                conn.execute(delete(ch).where(ch.c.digest.in_(batch)))

    @guarded
    def drop_pack(self, pack: PackId) -> None:
        with self._writer.begin() as conn:
            conn.execute(delete(schema.chunks).where(schema.chunks.c.pack == pack))
            conn.execute(delete(schema.packs).where(schema.packs.c.id == pack))

    def iter_chunk_digests(self) -> Iterator[Digest]:
        after: str | None = None
        while page := self._digest_page(after):
            yield from page
            after = page[-1]

    @guarded
    def _digest_page(self, after: str | None) -> list[Digest]:
        ch = schema.chunks
        query = select(ch.c.digest).order_by(ch.c.digest).limit(PAGE)
        if after is not None:
            query = query.where(ch.c.digest > after)
        with self._engine.connect() as conn:
            return [Digest(x) for x in conn.scalars(query)]
