"""PipelineService: the one facade the API calls for pipelines — create/update (versions),
triggers and queues (scheduler), cron ticks, provenance, jobs, datums, logs; services, spouts,
restarts and waits are H4c's runners, reached from here."""

from __future__ import annotations

import builtins
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import (
    BuildFailed,
    Conflict,
    InvalidInput,
    JobNotFound,
    KaonError,
    NotFound,
    PipelineNotFound,
)
from kaon.core.pipelines.records import (
    DatumRecord,
    DatumState,
    Pipeline,
    PipelineJob,
    PipelineState,
    PipelineVersion,
    new_global_id,
)
from kaon.core.pipelines.spec import CronInput, PipelineSpec
from kaon.ports.envbuilder import EnvLock
from kaon.ports.executor import Executor
from kaon.ports.pipelines import PipelineStore
from kaon.services.pipelines.cron import CronTicker, cron_inputs
from kaon.services.pipelines.leader import PipelineLeader
from kaon.services.pipelines.logs import LogPage, PipelineLogs
from kaon.services.pipelines.scheduler import Scheduler
from kaon.services.pipelines.triggers import Triggers
from kaon.services.pipelines.versions import SpecRequest, Versions
from kaon.services.pipelines.waits import Waits
from kaon.services.repos import RepoService

__all__ = ["Created", "PipelineService", "SpecRequest"]
log = logging.getLogger("kaon")


@dataclass(frozen=True)
class Created:
    pipelines: list[Pipeline]
    warnings: list[str]


class PipelineService:
    def __init__(
        self,
        store: PipelineStore,
        repos: RepoService,
        versions: Versions,
        triggers: Triggers,
        scheduler: Scheduler,
        cron: CronTicker,
        executor: Executor,
        logs: PipelineLogs,
        waits: Waits,
        leader: PipelineLeader | None = None,
    ) -> None:
        self._leader = leader
        self._store = store
        self._repos = repos
        self._versions = versions
        self.triggers = triggers
        self.scheduler = scheduler
        self.cron = cron
        self._executor = executor
        self._logs = logs
        self._waits = waits
        self.services = scheduler.services  # the proxy route reaches them here
        self.spouts = scheduler.spouts
        self._builds: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()

    def _spec(self, name: str, version: int | None = None) -> PipelineSpec:
        return self._versions.spec_of(name, version)

    def _crons(self, name: str) -> list[CronInput]:
        return cron_inputs(self._spec(name).input)

    # lifecycle ---------------------------------------------------------------------------
    def start_background(self, reason: str | None = None) -> list[str]:
        """At platform start, or taking the lead from a server that stopped (`reason` says
        so in the jobs it runs again): environments to prepare again, jobs to run again,
        cron, and the leader's looks at the store (kaon.services.pipelines.leader)."""
        for pipeline in self._store.list_pipelines():
            if pipeline.state is PipelineState.STARTING:
                self._prepare(pipeline.name, self.version(pipeline.name))
        recovered = self.scheduler.recover(reason) if reason else self.scheduler.recover()
        self.cron.start()
        if self._leader is not None:
            self._leader.start()
        return recovered

    def standby(self) -> None:
        """Another server leads: jobs are recorded here, run there."""
        self.scheduler.standby()

    def shutdown(self) -> None:
        self._stopping.set()  # environment builds are cancelled
        if self._leader is not None:
            self._leader.stop()
        self.cron.stop()
        self.scheduler.shutdown()

    # create / update ---------------------------------------------------------------------
    def create(
        self,
        requests: Sequence[SpecRequest],
        author: str,
        *,
        update: bool = False,
        reprocess: bool = True,
        readable: Callable[[str], None] | None = None,
    ) -> Created:
        """All or nothing: every spec is checked (and its environment locked) before any is
        recorded. Then environments are prepared in the background and a job runs on the
        inputs' current heads (one global id for all of them)."""
        planned = self._versions.plan(
            requests, author, update=update, reprocess=reprocess, readable=readable
        )
        pipelines = self._versions.record(planned)
        for p in planned:
            if p.version.lock_id:
                self._prepare(p.spec.name, p.version)
        self.cron.changed()
        for p in planned:
            if p.spec.spout is not None and self.get(p.spec.name).state is not PipelineState.PAUSED:
                self.triggers.start_spout(p.spec.name)  # its previous run is stopped first
        nodes = self.triggers.nodes()
        roots = [
            p.name
            for p in pipelines
            if p.name in nodes and any(self.triggers.heads(nodes[p.name]).values())
        ]
        if roots:
            self.triggers.cascade(new_global_id(), roots, nodes)
        warnings = [w for p in planned for w in p.version.warnings]
        return Created([self.get(p.name) for p in pipelines], warnings)

    def _prepare(self, name: str, version: PipelineVersion) -> None:
        """Build the version's environment in the background: STARTING → RUNNING, or
        FAILURE with the build's error."""
        lock = EnvLock(version.lock_id, version.lock, version.python)

        def build() -> None:
            try:
                self._executor.prepare(lock, lambda line: None, self._stopping)
                state, reason = PipelineState.RUNNING, ""
            except BuildFailed as e:
                state, reason = PipelineState.FAILURE, f"environment build failed: {e}"
            except Exception as e:  # a bug or a lost backend: say so, do not hang STARTING
                log.exception("pipeline %s: preparing its environment failed", name)
                state, reason = PipelineState.FAILURE, f"environment build failed: {e}"
            if self._stopping.is_set():
                return  # left STARTING: prepared again at the next start
            current = self._store.get_pipeline(name)
            if (
                current is not None
                and current.version == version.version
                and (current.state is PipelineState.STARTING or state is PipelineState.FAILURE)
            ):
                self._store.update_pipeline(current.moved(state, reason), None)
            self.scheduler.wake()

        thread = threading.Thread(target=build, name=f"pipeline-env-{name}", daemon=True)
        self._builds[name] = thread
        thread.start()

    def wait_ready(self, name: str, timeout: float | None = None) -> Pipeline:
        """The pipeline once its environment is prepared (tests, `kaon create --wait`)."""
        thread = self._builds.get(name)
        if thread is not None:
            thread.join(timeout)
        return self.get(name)

    # pipelines ---------------------------------------------------------------------------
    def list(self) -> list[Pipeline]:
        return self._store.list_pipelines()

    def get(self, name: str) -> Pipeline:
        pipeline = self._store.get_pipeline(name)
        if pipeline is None:
            raise PipelineNotFound(f"pipeline '{name}' not found (see `kaon list pipeline`)")
        return pipeline

    def version(self, name: str, version: int | None = None) -> PipelineVersion:
        pipeline = self.get(name)
        found = self._store.get_version(name, version or pipeline.version)
        if found is None:
            raise PipelineNotFound(
                f"pipeline '{name}' has no version {version} (versions 1-{pipeline.version})"
            )
        return found

    def delete(self, name: str, *, keep_repo: bool = False) -> None:
        """Refused while another pipeline reads its output; stops its jobs, removes its
        records and logs, and its output (and cron) repos unless `keep_repo`."""
        pipeline = self.get(name)
        readers = [p.name for p in self.list() if p.name != name and name in p.inputs]
        if readers:
            raise Conflict(
                f"pipeline {', '.join(readers)} reads the output of '{name}': delete pipeline "
                f"{readers[0]} first"
            )
        crons = self._crons(name)
        self.scheduler.forget(name)
        self._store.delete_pipeline(name)
        self._logs.delete(name)
        self.cron.changed()
        if not keep_repo:
            for repo in [pipeline.name, *(c.repo for c in crons)]:
                with contextlib.suppress(NotFound):
                    self._repos.delete_repo(repo)

    def stop(self, name: str) -> Pipeline:
        """PAUSED: commits to its inputs are remembered, no job starts (`start` runs one)."""
        pipeline = self.get(name)
        if pipeline.state is not PipelineState.PAUSED:
            pipeline = pipeline.moved(PipelineState.PAUSED, "stopped by request")
            self._store.update_pipeline(pipeline, None)
        self.scheduler.stop_long_running(name, "pipeline stopped")
        self.cron.changed()
        return pipeline

    def start(self, name: str) -> Pipeline:
        """RUNNING again; if its inputs moved while it was stopped, one job on their heads."""
        pipeline = self.get(name)
        if pipeline.state is PipelineState.FAILURE:
            raise Conflict(
                f"pipeline '{name}' failed ({pipeline.reason}): fix it with `kaon update pipeline`"
            )
        if pipeline.state is not PipelineState.PAUSED:
            return pipeline
        pipeline = pipeline.moved(PipelineState.RUNNING)
        self._store.update_pipeline(pipeline, None)
        self.cron.changed()
        node = self.triggers.nodes().get(name)
        if node is not None and node.spec.spout is not None:
            self.triggers.start_spout(name)
        elif node is not None:
            heads = self.triggers.heads(node)
            last = self._store.list_jobs(pipeline=name, limit=1)
            seen = {i.name: i.commit for i in last[0].inputs} if last else {}
            moved = heads != seen or node.spec.service is not None  # a service serves again
            if any(heads.values()) and moved:
                self.triggers.cascade(new_global_id(), [name])
        return pipeline

    def run(self, name: str, *, reprocess: bool = False, author: str = "") -> PipelineJob:
        """A job now on the current inputs (a new global id; downstream pipelines follow)."""
        pipeline = self.get(name)
        if pipeline.state is PipelineState.FAILURE:
            raise Conflict(f"pipeline '{name}' cannot run: {pipeline.reason}")
        if self._spec(name, pipeline.version).spout is not None:
            raise InvalidInput(f"pipeline '{name}' is a spout: it runs on its own")
        jobs = self.triggers.cascade(new_global_id(), [name], reprocess=reprocess, force=True)
        return next(j for j in jobs if j.pipeline == name)

    def tick(self, name: str) -> builtins.list[str]:
        """`kaon run cron <pipeline>`: tick its cron inputs now (the tick commits' ids)."""
        self.get(name)
        return self.cron.tick(name)

    # jobs --------------------------------------------------------------------------------
    def jobs(
        self,
        pipeline: str | None = None,
        global_id: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[PipelineJob]:
        if pipeline is not None:
            self.get(pipeline)
        return self._store.list_jobs(pipeline=pipeline, global_id=global_id, limit=limit)

    def job(self, pipeline: str, job_id: str) -> PipelineJob:
        """By id or unique prefix (JobNotFound)."""
        self.get(pipeline)
        found = self._store.get_job(pipeline, job_id)
        if found is not None:
            return found
        ids = self._store.find_jobs(job_id.lower(), pipeline)
        if len(ids) > 1:
            raise InvalidInput(f"job id prefix '{job_id}' is ambiguous in {pipeline}: give more")
        job = self._store.get_job(pipeline, ids[0]) if ids else None
        if job is None:
            raise JobNotFound(f"no job {pipeline}@{job_id} (see `kaon list job -p {pipeline}`)")
        return job

    def kill_job(self, pipeline: str, job_id: str) -> PipelineJob:
        return self.scheduler.kill(self.job(pipeline, job_id))

    def wait_job(self, pipeline: str, job_id: str, timeout: float | None = None) -> PipelineJob:
        job = self.job(pipeline, job_id)
        return self.scheduler.wait(pipeline, job.id, timeout)

    def datums(
        self, pipeline: str, job_id: str, *, failed: bool = False
    ) -> builtins.list[DatumRecord]:
        job = self.job(pipeline, job_id)
        states = [DatumState.FAILED] if failed else []
        return self._store.list_datums(pipeline, job.id, states)

    def restart_datum(self, pipeline: str, job_id: str, datum: str) -> PipelineJob:
        """A new job on the same inputs that runs `datum` again (and what failed)."""
        job = self._waits.restart_datum(pipeline, job_id, datum)
        self.scheduler.enqueue(job)
        return job

    def logs(
        self,
        pipeline: str,
        job_id: str | None = None,
        datum: str | None = None,
        *,
        failed: bool = False,
        offset: int = 0,
    ) -> LogPage:
        self.get(pipeline)
        job = self.job(pipeline, job_id).id if job_id is not None else None
        if job is None and not self._logs.on_disk(pipeline):  # another server wrote the logs
            newest = self._store.list_jobs(pipeline=pipeline, limit=1)
            job = newest[0].id if newest else None
        return self._logs.read(pipeline, job, datum, failed=failed, offset=offset)

    def wait_commit(self, repo: str, ref: str, timeout: float | None = None) -> Commit:
        """`repo@ref` once no job that will write it is still to end (Conflict when the job
        that was to make it did not succeed; TimeoutError past `timeout`)."""
        return self._waits.wait_commit(repo, ref, timeout)

    def service_url(self, name: str) -> str | None:
        self.get(name)
        return self.services.service_url(name) if self.services is not None else None

    def commit_set(self, global_id: str) -> builtins.list[Commit]:
        """The commits of one global id: the commit that set it off (when a user's or a
        cron tick's), then each job's output commit."""
        jobs = sorted(self._store.list_jobs(global_id=global_id), key=lambda j: j.created)
        if not jobs:
            raise NotFound(f"no job has the global id {global_id} (see `kaon list job`)")
        out: list[Commit] = []
        seen: set[str] = set()
        wanted = [(i.repo, i.commit) for j in jobs for i in j.inputs if i.commit == global_id]
        wanted += [(j.output_repo, j.output_commit) for j in jobs if j.output_commit]
        for repo, cid in wanted:
            if cid is None or cid in seen:
                continue
            seen.add(cid)
            with contextlib.suppress(KaonError):
                commit = self._repos.resolve(repo, Ref(cid))
                if commit is not None:
                    out.append(commit)
        return out
