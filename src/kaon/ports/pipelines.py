"""PipelineStore: pipelines and their versions, pipeline jobs and their datums (metadata
database). Backends: kaon.db (SQLite, PostgreSQL), kaon.memory; contract suite in
kaon.testing.contracts.pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.records import (
    DatumRecord,
    DatumState,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineVersion,
)


class PipelineStore(Protocol):
    def add_pipeline(self, pipeline: Pipeline, version: PipelineVersion) -> None:
        """Record a new pipeline with its first version, atomically (AlreadyExists when the
        name is taken)."""
        ...

    def update_pipeline(self, pipeline: Pipeline, version: PipelineVersion | None) -> None:
        """Store the pipeline's new document and, when given, add `version` (its number must
        be the pipeline's new `version`), atomically. An unknown name is ignored."""
        ...

    def get_pipeline(self, name: str) -> Pipeline | None: ...

    def list_pipelines(self) -> list[Pipeline]:
        """Every pipeline, by name."""
        ...

    def get_version(self, name: str, version: int) -> PipelineVersion | None: ...

    def list_versions(self, name: str) -> list[PipelineVersion]:
        """The pipeline's versions, oldest first."""
        ...

    def delete_pipeline(self, name: str) -> None:
        """Remove the pipeline, its versions, jobs and datum records (unknown: ignored)."""
        ...

    def add_job(self, job: PipelineJob) -> None:
        """Record a new job (AlreadyExists when `<pipeline>@<id>` exists)."""
        ...

    def save_job(self, job: PipelineJob) -> None:
        """Store the job's new document (unknown: ignored)."""
        ...

    def get_job(self, pipeline: str, job_id: str) -> PipelineJob | None: ...

    def find_jobs(self, prefix: str, pipeline: str | None = None, limit: int = 2) -> list[str]:
        """Global ids of jobs starting with `prefix` (of `pipeline` when given), sorted, at
        most `limit`; none for a prefix that is not lowercase hex."""
        ...

    def list_jobs(
        self,
        pipeline: str | None = None,
        global_id: str | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[PipelineJob]:
        """Newest first (by created, then pipeline); filtered by pipeline, global id and
        states when given."""
        ...

    def save_datums(self, records: Sequence[DatumRecord]) -> None:
        """Insert or replace the records (key: pipeline, job, datum id) in one transaction:
        a job of 1,000 datums saves them in a few calls, not 1,000."""
        ...

    def list_datums(
        self, pipeline: str, job_id: str, states: Sequence[DatumState] = ()
    ) -> list[DatumRecord]:
        """The job's datum records by datum id, filtered by states when given."""
        ...

    def succeeded(self, pipeline: str, hashes: Sequence[str]) -> dict[str, DatumRecord]:
        """For each of `hashes` that some job of `pipeline` processed with SUCCESS (or reused
        as SKIPPED) and whose output is known: the newest such record, by hash. This is what
        a new job skips. Newest: of the job created last (a record saved before its job was
        added counts as oldest), then of the greatest job id. A batch of 1,000 hashes is a
        few queries however many records the pipeline has."""
        ...

    def reusable_outputs(self) -> set[str]:
        """The output tree digests of every record `succeeded` may return (the newest
        reusable record of each hash, of every pipeline): what gc keeps for the jobs to come,
        also when no commit holds them (a failed job's datums that succeeded)."""
        ...


def check_version(pipeline: Pipeline, version: PipelineVersion) -> None:
    """Raise InvalidInput unless `version` is `pipeline`'s current version (what every store
    checks before adding one)."""
    if version.pipeline != pipeline.name or version.version != pipeline.version:
        raise InvalidInput(
            f"version {version.pipeline}@{version.version} is not the current version of "
            f"pipeline {pipeline.name!r} ({pipeline.version}): store the pipeline with it"
        )
