"""`wait commit` and `restart datum`, for the facade (kaon.services.pipelines.service).

How it is wired (H4b): the facade's store is `WatchedStore(store, watch)` (every job added or
saved wakes the waiters) and `commits.on_commit(lambda c: watch.changed())`; jobs set off by
a commit are recorded (CREATED) by the on_commit observer, before the commit call returns, so
a `wait commit` right after a `put file` sees them. Then:

- `Waits.wait_commit(repo, ref, timeout)`: the commit `repo@ref` names once it is final:
  no job that will write `repo`'s branch is CREATED/STARTING/RUNNING/FINISHING. `ref` is a
  branch (its head then), a commit id, or a global id of a job of pipeline `repo` (its
  output commit). Conflict naming the job when the job that was to make it failed, was
  killed or is unrunnable; TimeoutError past `timeout` seconds (None: no limit).
- `Waits.restart_datum(pipeline, job_id, datum) -> PipelineJob`: a new job (new global id,
  CREATED, recorded) of `pipeline` on the same input commits and version as the job, whose
  `rerun` names the datum: the job runner runs it even if its hash succeeded, and skips every
  other datum that succeeded as usual, so only the failed ones and this one run. The facade
  then queues it like any job. Ids and datums may be given by a unique prefix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from kaon.core.address import parse_ref
from kaon.core.commit import Commit
from kaon.core.errors import (
    CommitNotFound,
    Conflict,
    DatumNotFound,
    InvalidInput,
    JobNotFound,
    PipelineNotFound,
)
from kaon.core.ids import is_hex
from kaon.core.pipelines.records import (
    ACTIVE_JOB_STATES,
    DatumRecord,
    DatumState,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineVersion,
    new_global_id,
)
from kaon.ports.pipelines import PipelineStore
from kaon.services.repos import RepoService

RECHECK = 5.0  # seconds: a waiter also looks again this often (another server's changes)
GLOBAL_ID = 32  # hex digits of a global id


class JobWatch:
    """A change counter waiters sleep on: `changed()` wakes them all."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    @property
    def count(self) -> int:
        with self._cond:
            return self._count

    def changed(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def wait_past(self, seen: int, timeout: float) -> bool:
        """Sleep until the count is past `seen` (True) or `timeout` seconds went (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count != seen, timeout)


class WatchedStore:
    """A PipelineStore that tells `watch` whenever a job is added or saved."""

    def __init__(self, store: PipelineStore, watch: JobWatch) -> None:
        self._store = store
        self.watch = watch

    def add_pipeline(self, pipeline: Pipeline, version: PipelineVersion) -> None:
        self._store.add_pipeline(pipeline, version)

    def update_pipeline(self, pipeline: Pipeline, version: PipelineVersion | None) -> None:
        self._store.update_pipeline(pipeline, version)
        self.watch.changed()

    def get_pipeline(self, name: str) -> Pipeline | None:
        return self._store.get_pipeline(name)

    def list_pipelines(self) -> list[Pipeline]:
        return self._store.list_pipelines()

    def get_version(self, name: str, version: int) -> PipelineVersion | None:
        return self._store.get_version(name, version)

    def list_versions(self, name: str) -> list[PipelineVersion]:
        return self._store.list_versions(name)

    def delete_pipeline(self, name: str) -> None:
        self._store.delete_pipeline(name)
        self.watch.changed()

    def add_job(self, job: PipelineJob) -> None:
        self._store.add_job(job)
        self.watch.changed()

    def save_job(self, job: PipelineJob) -> None:
        self._store.save_job(job)
        self.watch.changed()

    def get_job(self, pipeline: str, job_id: str) -> PipelineJob | None:
        return self._store.get_job(pipeline, job_id)

    def find_jobs(self, prefix: str, pipeline: str | None = None, limit: int = 2) -> list[str]:
        return self._store.find_jobs(prefix, pipeline, limit)

    def list_jobs(
        self,
        pipeline: str | None = None,
        global_id: str | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[PipelineJob]:
        return self._store.list_jobs(pipeline, global_id, states, limit)

    def save_datums(self, records: Sequence[DatumRecord]) -> None:
        self._store.save_datums(records)

    def list_datums(
        self, pipeline: str, job_id: str, states: Sequence[DatumState] = ()
    ) -> list[DatumRecord]:
        return self._store.list_datums(pipeline, job_id, states)

    def succeeded(self, pipeline: str, hashes: Sequence[str]) -> dict[str, DatumRecord]:
        return self._store.succeeded(pipeline, hashes)

    def reusable_outputs(self) -> set[str]:
        return self._store.reusable_outputs()


class Waits:
    def __init__(
        self,
        store: PipelineStore,
        repos: RepoService,
        watch: JobWatch,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._repos = repos
        self._watch = watch
        self._clock = clock
        self._monotonic = monotonic

    # wait commit -------------------------------------------------------------------------
    def wait_commit(self, repo: str, ref: str, timeout: float | None = None) -> Commit:
        deadline = None if timeout is None else self._monotonic() + timeout
        while True:
            seen = self._watch.count
            found = self._final(repo, ref)
            if found is not None:
                return found
            left = RECHECK if deadline is None else deadline - self._monotonic()
            if left <= 0:
                raise TimeoutError(f"{repo}@{ref} is not final after {timeout:g} s")
            self._watch.wait_past(seen, min(left, RECHECK))

    def _final(self, repo: str, ref: str) -> Commit | None:
        """The commit once final; None while a job will still write it."""
        self._repos.get_repo(repo)  # RepoNotFound
        if self._store.get_pipeline(repo) is None:  # not an output repo: commits are final
            return self._repos.resolve_required(repo, parse_ref(ref))
        if len(ref) == GLOBAL_ID and is_hex(ref):
            job = self._store.get_job(repo, ref)
            if job is not None:
                return self._of_job(job)
        branch = parse_ref(ref).base
        jobs = [j for j in self._store.list_jobs(pipeline=repo, limit=50) if not j.service]
        if any(j.state in ACTIVE_JOB_STATES and j.output_branch == branch for j in jobs):
            return None
        head = self._repos.resolve(repo, parse_ref(ref))
        last = next((j for j in jobs if j.output_branch == branch), None)
        failed = last is not None and last.state is not JobState.SUCCESS
        if failed and last is not None and (head is None or str(head.id) != last.output_commit):
            raise _failed(last)
        if head is None:
            raise CommitNotFound(
                f"{repo}@{ref} has no commit yet and no job of pipeline {repo} will make one: "
                f"see `kaon list job -p {repo}`"
            )
        return head

    def _of_job(self, job: PipelineJob) -> Commit | None:
        if job.state in ACTIVE_JOB_STATES:
            return None
        if job.state is not JobState.SUCCESS:
            raise _failed(job)
        ref = job.output_commit or job.output_branch
        return self._repos.resolve_required(job.output_repo, parse_ref(ref))

    # restart datum -----------------------------------------------------------------------
    def restart_datum(self, pipeline: str, job_id: str, datum: str) -> PipelineJob:
        if self._store.get_pipeline(pipeline) is None:
            raise PipelineNotFound(f"no pipeline {pipeline!r}: see `kaon list pipeline`")
        job = self._job(pipeline, job_id)
        record = self._datum(job, datum)
        new = PipelineJob(
            id=new_global_id(),
            pipeline=pipeline,
            version=job.version,
            state=JobState.CREATED,
            created=self._clock(),
            inputs=job.inputs,
            output_repo=job.output_repo,
            output_branch=job.output_branch,
            parent=job.id,
            rerun=(record.id,),
        )
        self._store.add_job(new)
        return new

    def _job(self, pipeline: str, job_id: str) -> PipelineJob:
        found = self._store.get_job(pipeline, job_id)
        if found is not None:
            return found
        ids = self._store.find_jobs(job_id, pipeline) if job_id else []
        if len(ids) == 1:
            job = self._store.get_job(pipeline, ids[0])
            if job is not None:
                return job
        if len(ids) > 1:
            raise InvalidInput(f"job id prefix {job_id!r} of {pipeline} is ambiguous: give more")
        raise JobNotFound(f"no job {pipeline}@{job_id}: see `kaon list job -p {pipeline}`")

    def _datum(self, job: PipelineJob, datum: str) -> DatumRecord:
        records = self._store.list_datums(job.pipeline, job.id)
        exact = [r for r in records if r.id == datum]
        found = exact or [r for r in records if datum and r.id.startswith(datum)]
        if len(found) == 1:
            return found[0]
        if found:
            raise InvalidInput(
                f"datum prefix {datum!r} of job {job.key} names {len(found)} datums: give more"
            )
        raise DatumNotFound(
            f"job {job.key} has no datum {datum!r}: see `kaon list datum {job.key}`"
        )


def _failed(job: PipelineJob) -> Conflict:
    why = f": {job.reason}" if job.reason else ""
    return Conflict(
        f"job {job.key} ended {job.state.label}{why}; its output commit was never made "
        f"(see `kaon logs --job {job.key}`)"
    )
