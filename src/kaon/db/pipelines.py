"""SqlPipelineStore: the PipelineStore port on SQLAlchemy Core (SQLite or PostgreSQL).

Every record is kept as its JSON document (`to_doc`) next to the columns it is looked up by
(a job's pipeline, global id, creation time and state). Datum records and the skip lookup:
kaon.db.datums.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, exc, insert, select, update

from kaon.core.errors import AlreadyExists
from kaon.core.ids import is_hex
from kaon.core.pipelines.records import JobState, Pipeline, PipelineJob, PipelineVersion
from kaon.db import schema
from kaon.db.datums import SqlDatumRecords
from kaon.db.sqlstore import guarded
from kaon.ports.pipelines import check_version


def _doc(record: Pipeline | PipelineVersion | PipelineJob) -> str:
    return json.dumps(record.to_doc(), separators=(",", ":"))


def _loaded(row: Row[Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(row._mapping["doc"])
    return doc


def _version_row(version: PipelineVersion) -> dict[str, Any]:
    return {"pipeline": version.pipeline, "version": version.version, "doc": _doc(version)}


class SqlPipelineStore(SqlDatumRecords):
    """Pipelines, their versions and jobs; datum records: kaon.db.datums."""

    # -- pipelines and their versions ------------------------------------------------------

    @guarded
    def add_pipeline(self, pipeline: Pipeline, version: PipelineVersion) -> None:
        check_version(pipeline, version)
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(schema.pipelines), {"name": pipeline.name, "doc": _doc(pipeline)}
                )
                conn.execute(insert(schema.pipeline_versions), _version_row(version))
        except exc.IntegrityError:
            raise AlreadyExists(
                f"pipeline {pipeline.name!r} already exists: use `kaon update pipeline`",
                pipeline=pipeline.name,
            ) from None

    @guarded
    def update_pipeline(self, pipeline: Pipeline, version: PipelineVersion | None) -> None:
        if version is not None:
            check_version(pipeline, version)
        t = schema.pipelines
        try:
            with self._writer.begin() as conn:
                found = conn.execute(
                    update(t).where(t.c.name == pipeline.name).values(doc=_doc(pipeline))
                ).rowcount
                if found and version is not None:
                    conn.execute(insert(schema.pipeline_versions), _version_row(version))
        except exc.IntegrityError:
            raise AlreadyExists(
                f"pipeline {pipeline.name!r} already has a version {pipeline.version}",
                pipeline=pipeline.name,
            ) from None

    @guarded
    def get_pipeline(self, name: str) -> Pipeline | None:
        t = schema.pipelines
        with self._engine.connect() as conn:
            row = conn.execute(select(t.c.doc).where(t.c.name == name)).first()
        return None if row is None else Pipeline.from_doc(_loaded(row))

    @guarded
    def list_pipelines(self) -> list[Pipeline]:
        t = schema.pipelines
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.c.doc).order_by(t.c.name))
            return [Pipeline.from_doc(_loaded(r)) for r in rows]

    @guarded
    def get_version(self, name: str, version: int) -> PipelineVersion | None:
        t = schema.pipeline_versions
        stmt = select(t.c.doc).where(t.c.pipeline == name, t.c.version == version)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else PipelineVersion.from_doc(_loaded(row))

    @guarded
    def list_versions(self, name: str) -> list[PipelineVersion]:
        t = schema.pipeline_versions
        stmt = select(t.c.doc).where(t.c.pipeline == name).order_by(t.c.version)
        with self._engine.connect() as conn:
            return [PipelineVersion.from_doc(_loaded(r)) for r in conn.execute(stmt)]

    @guarded
    def delete_pipeline(self, name: str) -> None:
        with self._writer.begin() as conn:
            self._drop_datums(conn, name)
            j = schema.pipeline_jobs
            conn.execute(delete(j).where(j.c.pipeline == name))
            v = schema.pipeline_versions
            conn.execute(delete(v).where(v.c.pipeline == name))
            conn.execute(delete(schema.pipelines).where(schema.pipelines.c.name == name))

    # -- jobs ------------------------------------------------------------------------------

    @guarded
    def add_job(self, job: PipelineJob) -> None:
        row = {
            "pipeline": job.pipeline,
            "id": job.id,
            "created": job.created,
            "state": job.state.value,
            "doc": _doc(job),
        }
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.pipeline_jobs), row)
        except exc.IntegrityError:
            raise AlreadyExists(f"job {job.key} already exists", job=job.key) from None

    @guarded
    def save_job(self, job: PipelineJob) -> None:
        t = schema.pipeline_jobs
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.pipeline == job.pipeline, t.c.id == job.id)
                .values(state=job.state.value, doc=_doc(job))
            )

    @guarded
    def get_job(self, pipeline: str, job_id: str) -> PipelineJob | None:
        t = schema.pipeline_jobs
        stmt = select(t.c.doc).where(t.c.pipeline == pipeline, t.c.id == job_id)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else PipelineJob.from_doc(_loaded(row))

    @guarded
    def find_jobs(self, prefix: str, pipeline: str | None = None, limit: int = 2) -> list[str]:
        if not prefix or not is_hex(prefix):
            return []
        t = schema.pipeline_jobs
        stmt = (
            select(t.c.id)
            .where(t.c.id.startswith(prefix, autoescape=True))
            .distinct()
            .order_by(t.c.id)
            .limit(limit)
        )
        if pipeline is not None:
            stmt = stmt.where(t.c.pipeline == pipeline)
        with self._engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]

    @guarded
    def list_jobs(
        self,
        pipeline: str | None = None,
        global_id: str | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[PipelineJob]:
        t = schema.pipeline_jobs
        stmt = select(t.c.doc).order_by(t.c.created.desc(), t.c.pipeline)
        if pipeline is not None:
            stmt = stmt.where(t.c.pipeline == pipeline)
        if global_id is not None:
            stmt = stmt.where(t.c.id == global_id)
        if states:
            stmt = stmt.where(t.c.state.in_([s.value for s in states]))
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        with self._engine.connect() as conn:
            return [PipelineJob.from_doc(_loaded(r)) for r in conn.execute(stmt)]
