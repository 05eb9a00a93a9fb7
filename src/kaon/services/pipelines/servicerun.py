"""Service pipelines (`service: {internal_port, external_port}`): ONE process per pipeline,
running the transform on the whole of its latest input commits, reachable through the
platform's proxy at `/pipelines/<name>/…` (kaon.api.routes.pipelineservices).

How the scheduler (kaon.services.pipelines.scheduler) drives it — the calls, in full:

- `serve(job, version) -> PipelineJob`: a new input commit (or `start pipeline`, or a
  platform restart) for service pipeline `job.pipeline`: `job` (service=True, CREATED or
  STARTING, its `inputs` resolved, added to the store or not) starts serving. The pipeline's
  previous process is stopped first and its job ends KILLED ("replaced by job <id>"). Returns
  at once with the job RUNNING (PROGRESS 0 + 0 / 0); the process starts in the background.
  A service job is never queued behind another job of its pipeline: it is not a batch job.
- `stop(pipeline, reason) -> PipelineJob | None`: `stop pipeline`, `delete pipeline`,
  `kill job` of its job: the process is stopped and its job ends KILLED with `reason`.
- `target(pipeline) -> (host, port)`: where the proxy forwards (PipelineNotFound when no
  process serves it); `service_url(pipeline)`: the URL `inspect pipeline` shows (None when
  not serving); `job_of(pipeline)`.
- `close()`: the platform stops: processes are stopped, records left RUNNING; at start-up
  the scheduler's recovery moves them to STARTING and calls `serve` again.

A crash restarts the process with backoff (the job stays RUNNING, RESTART counts them).
The port: `internal_port` when it is free (a command that fixes its own port, such as
TensorBoard's default 6006, works unchanged), else a free one; either way it is in `PORT`
and `KAON_SERVICE_PORT`, and the job's log says which. With `access`, the process also gets
the job's S3 key and API token (kaon.services.pipelines.s3access), revoked when it stops.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from kaon.core.errors import Conflict, InvalidInput, PipelineNotFound
from kaon.core.pipelines.records import JobState, PipelineJob, PipelineVersion
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import Executor, Task
from kaon.ports.pipelines import PipelineStore
from kaon.services.pipelines.longrun import Backoff, keep_running, long_task, spec_of
from kaon.services.pipelines.s3access import PipelineAccess

HOST = "127.0.0.1"

JobLog = Callable[[PipelineJob], LogSink]  # where a job's own lines go (PipelineLogs)


def port_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on `port` now (as servers do, with SO_REUSEADDR: the
    connections a replaced process left in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class _Serving:
    job: PipelineJob
    port: int
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class ServiceRunner:
    def __init__(
        self,
        store: PipelineStore,
        executor: Executor,
        job_log: JobLog,
        *,
        clock: Callable[[], float] = time.time,
        endpoint: Callable[[], str | None] = lambda: None,
        backoff: Backoff = Backoff(),
        access: PipelineAccess | None = None,
    ) -> None:
        self._store = store
        self._executor = executor
        self._job_log = job_log
        self._clock = clock
        self._endpoint = endpoint  # the API's URL once it listens (JobTokens.endpoint)
        self._backoff = backoff
        self._access = access  # the job's S3 key and API token (revoked when it stops)
        self._serving: dict[str, _Serving] = {}
        self._lock = threading.RLock()

    # the scheduler's calls -------------------------------------------------------------
    def serve(self, job: PipelineJob, version: PipelineVersion) -> PipelineJob:
        spec = spec_of(version)
        if spec.service is None:
            raise InvalidInput(f"pipeline {job.pipeline} is not a service (no `service` field)")
        if job.pipeline != version.pipeline:
            raise InvalidInput(f"job {job.key} is not a job of {version.pipeline}")
        self.stop(job.pipeline, f"replaced by job {job.id}")
        out = self._job_log(job)
        wanted = spec.service.internal_port
        if port_free(wanted):
            port = wanted
            out(f"service listens on internal_port {port} ($PORT, $KAON_SERVICE_PORT)")
        else:
            port = free_port()
            out(
                f"internal_port {wanted} is in use here: this service gets port {port} in "
                "$PORT and $KAON_SERVICE_PORT (a command that fixes its own port to "
                f"{wanted} cannot listen)"
            )
        if self._store.get_job(job.pipeline, job.id) is None:
            self._store.add_job(job)
        now = self._clock()
        if job.state is JobState.CREATED:
            job = job.moved(JobState.STARTING, started=now)
        if job.state is not JobState.RUNNING:
            job = job.moved(JobState.RUNNING, service=True, started=job.started or now)
        self._store.save_job(job)
        serving = _Serving(job, port)
        env = {"PORT": str(port), "KAON_SERVICE_PORT": str(port)}
        if self._access is not None:
            env = {**self._access.datum_access(job, version), **env}

        def make(attempt: int) -> Task:
            return long_task(
                f"pipelines/{job.pipeline}/service-{job.id}-{attempt}",
                version,
                job.id,
                job.inputs,
                env,
            )

        def restarted(why: str) -> None:
            with self._lock:
                if serving.cancel.is_set():
                    return
                serving.job = replace(serving.job, restarts=serving.job.restarts + 1)
                self._store.save_job(serving.job)

        serving.thread = threading.Thread(
            target=keep_running,
            args=(self._executor, make, out, serving.cancel, restarted, self._backoff),
            name=f"kaon-service-{job.pipeline}",
            daemon=True,
        )
        with self._lock:
            self._serving[job.pipeline] = serving
        serving.thread.start()
        return job

    def stop(
        self, pipeline: str, reason: str = "pipeline stopped", job_id: str | None = None
    ) -> PipelineJob | None:
        """Stop the pipeline's service (only if it serves job `job_id`, when given)."""
        with self._lock:
            serving = self._serving.get(pipeline)
            if serving is None or (job_id is not None and serving.job.id != job_id):
                return None
            del self._serving[pipeline]
            serving.cancel.set()
        if serving.thread is not None:
            serving.thread.join()
        if self._access is not None:
            self._access.revoke(serving.job)
        job = self._store.get_job(pipeline, serving.job.id) or serving.job
        if job.state.finished:
            return job
        job = job.moved(JobState.KILLED, reason, finished=self._clock())
        self._store.save_job(job)
        self._job_log(job)(f"service stopped: {reason}")
        return job

    def close(self) -> None:
        """Stop every process; their records stay RUNNING (recovered at the next start)."""
        with self._lock:
            serving = list(self._serving.values())
            self._serving.clear()
        for s in serving:
            s.cancel.set()
        for s in serving:
            if s.thread is not None:
                s.thread.join()

    # where it is -----------------------------------------------------------------------
    def running(self) -> dict[str, PipelineJob]:
        """The job of each pipeline this runner runs, by pipeline."""
        with self._lock:
            return {name: s.job for name, s in self._serving.items()}

    def job_of(self, pipeline: str) -> PipelineJob | None:
        with self._lock:
            serving = self._serving.get(pipeline)
            return None if serving is None else serving.job

    def target(self, pipeline: str) -> tuple[str, int]:
        with self._lock:
            serving = self._serving.get(pipeline)
        if serving is None:
            if self._store.get_pipeline(pipeline) is None:
                raise PipelineNotFound(f"no pipeline {pipeline!r}: see `kaon list pipeline`")
            raise Conflict(
                f"pipeline {pipeline} serves nothing now (not a service, stopped, or no "
                f"input commit yet): see `kaon inspect pipeline {pipeline}`"
            )
        return HOST, serving.port

    def service_url(self, pipeline: str) -> str | None:
        """`<API>/pipelines/<name>/` while it serves (None otherwise)."""
        if self.job_of(pipeline) is None:
            return None
        return f"{self._endpoint() or ''}/pipelines/{pipeline}/"
