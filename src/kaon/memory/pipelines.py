"""MemoryPipelineStore: the PipelineStore port over the shared in-memory tables."""

from __future__ import annotations

from collections.abc import Sequence

from kaon.core.errors import AlreadyExists
from kaon.core.ids import is_hex
from kaon.core.pipelines.records import (
    DatumRecord,
    DatumState,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineVersion,
)
from kaon.memory.tables import Tables, detached
from kaon.ports.pipelines import check_version

_REUSABLE = frozenset({DatumState.SUCCESS, DatumState.SKIPPED})


class MemoryPipelineStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    # -- pipelines and their versions ------------------------------------------------------

    def add_pipeline(self, pipeline: Pipeline, version: PipelineVersion) -> None:
        check_version(pipeline, version)
        with self._t.lock:
            if pipeline.name in self._t.pipelines:
                raise AlreadyExists(
                    f"pipeline {pipeline.name!r} already exists: use `kaon update pipeline`",
                    pipeline=pipeline.name,
                )
            self._t.pipelines[pipeline.name] = detached(pipeline)
            self._t.pipeline_versions[pipeline.name] = {version.version: detached(version)}

    def update_pipeline(self, pipeline: Pipeline, version: PipelineVersion | None) -> None:
        if version is not None:
            check_version(pipeline, version)
        with self._t.lock:
            if pipeline.name not in self._t.pipelines:
                return
            versions = self._t.pipeline_versions[pipeline.name]
            if version is not None and version.version in versions:
                raise AlreadyExists(
                    f"pipeline {pipeline.name!r} already has a version {pipeline.version}",
                    pipeline=pipeline.name,
                )
            self._t.pipelines[pipeline.name] = detached(pipeline)
            if version is not None:
                versions[version.version] = detached(version)

    def get_pipeline(self, name: str) -> Pipeline | None:
        with self._t.lock:
            return detached(self._t.pipelines.get(name))

    def list_pipelines(self) -> list[Pipeline]:
        with self._t.lock:
            return detached(sorted(self._t.pipelines.values(), key=lambda p: p.name))

    def get_version(self, name: str, version: int) -> PipelineVersion | None:
        with self._t.lock:
            return detached(self._t.pipeline_versions.get(name, {}).get(version))

    def list_versions(self, name: str) -> list[PipelineVersion]:
        with self._t.lock:
            versions = self._t.pipeline_versions.get(name, {})
            return detached([versions[n] for n in sorted(versions)])

    def delete_pipeline(self, name: str) -> None:
        t = self._t
        with t.lock:
            t.pipelines.pop(name, None)
            t.pipeline_versions.pop(name, None)
            for key in [k for k in t.pipeline_jobs if k[0] == name]:
                del t.pipeline_jobs[key]
            for job in [k for k in t.datums if k[0] == name]:
                del t.datums[job]
            for key in [k for k in t.datum_hashes if k[0] == name]:
                del t.datum_hashes[key]

    # -- jobs ------------------------------------------------------------------------------

    def add_job(self, job: PipelineJob) -> None:
        with self._t.lock:
            if (job.pipeline, job.id) in self._t.pipeline_jobs:
                raise AlreadyExists(f"job {job.key} already exists", job=job.key)
            self._t.pipeline_jobs[job.pipeline, job.id] = detached(job)

    def save_job(self, job: PipelineJob) -> None:
        with self._t.lock:
            if (job.pipeline, job.id) in self._t.pipeline_jobs:
                self._t.pipeline_jobs[job.pipeline, job.id] = detached(job)

    def get_job(self, pipeline: str, job_id: str) -> PipelineJob | None:
        with self._t.lock:
            return detached(self._t.pipeline_jobs.get((pipeline, job_id)))

    def find_jobs(self, prefix: str, pipeline: str | None = None, limit: int = 2) -> list[str]:
        if not prefix or not is_hex(prefix):
            return []
        with self._t.lock:
            ids = {
                i
                for p, i in self._t.pipeline_jobs
                if i.startswith(prefix) and (pipeline is None or p == pipeline)
            }
        return sorted(ids)[:limit]

    def list_jobs(
        self,
        pipeline: str | None = None,
        global_id: str | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[PipelineJob]:
        with self._t.lock:
            found = [
                j
                for j in self._t.pipeline_jobs.values()
                if (pipeline is None or j.pipeline == pipeline)
                and (global_id is None or j.id == global_id)
                and (not states or j.state in states)
            ]
            found.sort(key=lambda j: (-j.created, j.pipeline))
            return detached(found if limit is None else found[: max(limit, 0)])

    # -- datum records ---------------------------------------------------------------------

    def save_datums(self, records: Sequence[DatumRecord]) -> None:
        t = self._t
        with t.lock:
            for record in records:
                key = (record.pipeline, record.job, record.id)
                job = t.datums.setdefault((record.pipeline, record.job), {})
                old = job.get(record.id)
                if old is not None:
                    del t.datum_hashes[record.pipeline, old.hash][key]
                job[record.id] = detached(record)
                known = t.pipeline_jobs.get((record.pipeline, record.job))
                created = -1.0 if known is None else known.created
                t.datum_hashes.setdefault((record.pipeline, record.hash), {})[key] = created

    def list_datums(
        self, pipeline: str, job_id: str, states: Sequence[DatumState] = ()
    ) -> list[DatumRecord]:
        with self._t.lock:
            job = self._t.datums.get((pipeline, job_id), {})
            return detached([job[i] for i in sorted(job) if not states or job[i].state in states])

    def reusable_outputs(self) -> set[str]:
        with self._t.lock:
            keys = {(p, h) for p, h in self._t.datum_hashes}
        found: set[str] = set()
        for pipeline in {p for p, _ in keys}:
            hashes = [h for p, h in keys if p == pipeline]
            found |= {r.output for r in self.succeeded(pipeline, hashes).values() if r.output}
        return found

    def succeeded(self, pipeline: str, hashes: Sequence[str]) -> dict[str, DatumRecord]:
        """The newest: of the job created last (as stored when the record was saved; a job
        not stored: oldest), then of the greatest job id."""
        t = self._t
        found: dict[str, DatumRecord] = {}
        with t.lock:
            for digest in dict.fromkeys(hashes):
                ranked = [
                    (created, j, t.datums[p, j][i])
                    for (p, j, i), created in t.datum_hashes.get((pipeline, digest), {}).items()
                ]
                usable = [
                    (c, j, r) for c, j, r in ranked if r.state in _REUSABLE and r.output is not None
                ]
                if usable:
                    found[digest] = detached(max(usable, key=lambda x: (x[0], x[1]))[2])
        return found
