"""SqlDatumRecords: the datum records of pipeline jobs and the skip lookup, the part of the
PipelineStore port (kaon.db.pipelines) that must stay fast with hundreds of thousands of rows.

`pipeline_datums` keeps every record (its JSON document, with its key, hash, state, output
and its job's creation time as columns). `pipeline_reusable` keeps, by (pipeline, hash), the
key of the newest record whose output a new job may reuse: `succeeded` reads a thousand hashes
by primary key in two queries, however many jobs recorded each hash (every job records its
SKIPPED datums again). `save_datums` keeps it in step in the same transaction: newer records
win by an upsert; a reusable record saved again as not reusable (or with another hash) has its
hash ranked again from `pipeline_datums` (rare: a record goes PENDING → RUNNING → an end).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select, text

from kaon.core.pipelines.records import DatumRecord, DatumState
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, batches, guarded

_REUSABLE = frozenset({DatumState.SUCCESS, DatumState.SKIPPED})

Key = tuple[str, str, str]  # pipeline, job, datum id


def reusable(record: DatumRecord) -> bool:
    return record.state in _REUSABLE and record.output is not None


_COLUMNS = ("pipeline", "job", "datum", "hash", "state", "output", "created", "doc")
_UPSERT_DATUMS = (
    f"INSERT INTO pipeline_datums ({', '.join(_COLUMNS)}) VALUES ({{marks}}) "
    "ON CONFLICT (pipeline, job, datum) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[3:])
)
_KEEP_NEWEST = (  # a record of a job created later (or as late, of a greater id) wins
    "INSERT INTO pipeline_reusable (pipeline, hash, job, datum, created) VALUES ({marks}) "
    "ON CONFLICT (pipeline, hash) DO UPDATE SET "
    "job = excluded.job, datum = excluded.datum, created = excluded.created "
    "WHERE excluded.created > pipeline_reusable.created OR "
    "(excluded.created = pipeline_reusable.created AND excluded.job >= pipeline_reusable.job)"
)


_SUCCEEDED = (
    "SELECT d.hash, d.doc FROM pipeline_reusable r JOIN pipeline_datums d "
    "ON d.pipeline = r.pipeline AND d.job = r.job AND d.datum = r.datum "
    "WHERE r.pipeline = {mark} AND r.hash {hashes}"
)


_REUSABLE_OUTPUTS = (
    "SELECT DISTINCT d.output FROM pipeline_reusable r JOIN pipeline_datums d "
    "ON d.pipeline = r.pipeline AND d.job = r.job AND d.datum = r.datum "
    "WHERE d.output IS NOT NULL"
)


def _datum_row(record: DatumRecord, created: float) -> tuple[Any, ...]:
    """The record's row, in _COLUMNS order."""
    return (
        record.pipeline,
        record.job,
        record.id,
        record.hash,
        record.state.value,
        record.output,
        created,
        json.dumps(record.to_doc(), separators=(",", ":")),
    )


def _by_job(keys: Iterable[Key]) -> dict[tuple[str, str], list[str]]:
    jobs: dict[tuple[str, str], list[str]] = {}
    for pipeline, job, datum in keys:
        jobs.setdefault((pipeline, job), []).append(datum)
    return jobs


class SqlDatumRecords(SqlStore):
    @guarded
    def save_datums(self, records: Sequence[DatumRecord]) -> None:
        # the last record of a key wins, as if saved one by one
        latest = {(r.pipeline, r.job, r.id): r for r in records}
        if not latest:
            return
        with self._writer.begin() as conn:
            created = self._created(conn, {(p, j) for p, j, _ in latest})
            old = self._stored(conn, latest)
            rows = [_datum_row(latest[k], created.get(k[:2], -1.0)) for k in sorted(latest)]
            self._upsert(conn, rows)
            self._keep_newest(conn, [row for row in rows if reusable(latest[row[:3]])])
            demoted = {  # the hashes whose newest reusable record may have been one of these
                (key[0], digest)
                for key, (digest, was) in old.items()
                if was and (not reusable(latest[key]) or latest[key].hash != digest)
            }
            if demoted:
                self._rank_again(conn, demoted)

    def _created(
        self, conn: Connection, jobs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], float]:
        """When each of `jobs` (pipeline, id) was created, for those stored."""
        t = schema.pipeline_jobs
        found: dict[tuple[str, str], float] = {}
        for name in {p for p, _ in jobs}:
            for chunk in batches([i for p, i in jobs if p == name]):
                stmt = select(t.c.id, t.c.created).where(t.c.pipeline == name, t.c.id.in_(chunk))
                found.update({(name, str(i)): float(c) for i, c in conn.execute(stmt)})
        return found

    def _stored(self, conn: Connection, keys: Iterable[Key]) -> dict[Key, tuple[str, bool]]:
        """The hash of each of the records stored under `keys`, and whether it is reusable."""
        d = schema.pipeline_datums
        found: dict[Key, tuple[str, bool]] = {}
        for (pipeline, job), ids in _by_job(keys).items():
            for chunk in batches(ids):
                stmt = select(d.c.datum, d.c.hash, d.c.state, d.c.output).where(
                    d.c.pipeline == pipeline, d.c.job == job, d.c.datum.in_(chunk)
                )
                for datum, digest, state, output in conn.execute(stmt):
                    usable = DatumState(state) in _REUSABLE and output is not None
                    found[pipeline, job, str(datum)] = (str(digest), usable)
        return found

    def _upsert(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        # plain tuples through the driver (executemany): SQLAlchemy's per-row parameter
        # handling cost as much as the database's work
        conn.exec_driver_sql(_UPSERT_DATUMS.format(marks=self._marks(len(_COLUMNS))), rows)

    def _keep_newest(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Point each hash of `rows` (reusable records) at the newest of them, unless what
        it points at is newer."""
        newest: dict[tuple[str, str], tuple[Any, ...]] = {}
        for pipeline, job, datum, digest, _, _, created, _ in rows:
            kept = newest.get((pipeline, digest))
            if kept is None or (created, job) > (kept[4], kept[2]):
                newest[pipeline, digest] = (pipeline, digest, job, datum, created)
        if newest:
            sql = _KEEP_NEWEST.format(marks=self._marks(5))
            # in key order: concurrent jobs lock the rows they share in the same order
            conn.exec_driver_sql(sql, [newest[k] for k in sorted(newest)])

    def _rank_again(self, conn: Connection, hashes: set[tuple[str, str]]) -> None:
        """Find again the newest reusable record of each of `hashes` (pipeline, hash)."""
        d, t = schema.pipeline_datums, schema.pipeline_reusable
        for pipeline in {p for p, _ in hashes}:
            for chunk in batches(sorted(h for p, h in hashes if p == pipeline)):
                conn.execute(delete(t).where(t.c.pipeline == pipeline, t.c.hash.in_(chunk)))
                newest = func.row_number().over(
                    partition_by=d.c.hash, order_by=(d.c.created.desc(), d.c.job.desc())
                )
                ranked = (
                    select(d.c.pipeline, d.c.hash, d.c.job, d.c.datum, d.c.created)
                    .add_columns(newest.label("rank"))
                    .where(d.c.pipeline == pipeline, d.c.hash.in_(chunk))
                    .where(text(schema.REUSABLE_DATUMS))
                    .subquery()
                )
                cols = ("pipeline", "hash", "job", "datum", "created")
                best = select(*(ranked.c[c] for c in cols)).where(ranked.c.rank == 1)
                rows = [tuple(r) for r in conn.execute(best.order_by(ranked.c.hash))]
                if rows:  # newest wins also against a job saving the same hash meanwhile
                    conn.exec_driver_sql(_KEEP_NEWEST.format(marks=self._marks(5)), rows)

    @guarded
    def list_datums(
        self, pipeline: str, job_id: str, states: Sequence[DatumState] = ()
    ) -> list[DatumRecord]:
        t = schema.pipeline_datums
        stmt = select(t.c.doc).where(t.c.pipeline == pipeline, t.c.job == job_id)
        if states:
            stmt = stmt.where(t.c.state.in_([s.value for s in states]))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(t.c.datum))
            return [DatumRecord.from_doc(json.loads(r.doc)) for r in rows]

    @guarded
    def succeeded(self, pipeline: str, hashes: Sequence[str]) -> dict[str, DatumRecord]:
        # through the driver: on PostgreSQL one array parameter for the whole batch (500
        # placeholders cost more to send and parse than the lookup itself)
        found: dict[str, DatumRecord] = {}
        with self._engine.connect() as conn:
            for chunk in batches(hashes):
                args: tuple[Any, ...]
                if self._dialect == "postgresql":
                    where, args = f"= ANY({self._mark})", (pipeline, chunk)
                else:
                    where, args = f"IN ({self._marks(len(chunk))})", (pipeline, *chunk)
                sql = _SUCCEEDED.format(mark=self._mark, hashes=where)
                for digest, doc in conn.exec_driver_sql(sql, args):
                    found[digest] = DatumRecord.from_doc(json.loads(doc))
        return found

    @guarded
    def reusable_outputs(self) -> set[str]:
        with self._engine.connect() as conn:
            return {str(row[0]) for row in conn.exec_driver_sql(_REUSABLE_OUTPUTS)}

    def _drop_datums(self, conn: Connection, pipeline: str) -> None:
        for t in (schema.pipeline_reusable, schema.pipeline_datums):
            conn.execute(delete(t).where(t.c.pipeline == pipeline))
