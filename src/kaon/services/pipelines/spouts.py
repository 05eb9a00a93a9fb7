"""Spout pipelines (`spout: {overwrite}`, no input): the transform runs continuously and what
it writes becomes commits of the pipeline's output repo.

Pachyderm 1.x's way: /pfs/out is a named pipe; each tar stream written to it (one open …
close of the pipe by the writer, plain or gzip'd) becomes ONE commit on the output branch;
with `overwrite: true` that commit holds exactly the stream's files (it replaces the branch's
content), otherwise they are added. `cat data.tar > /pfs/out` (e2e's `stream`) works as is.
The pipe is a FIFO the runner makes in its own folder and the executor shows at /pfs/out
(`Task.pfs_out_pipe`); its host path is also in `KAON_SPOUT_PIPE` (rewritten like /pfs).
Pachyderm 2.x's way also works: with `access`, the process gets an S3 key of its own
(S3_ENDPOINT, AWS_*: kaon.services.pipelines.s3access) that writes its output repo only, and
puts files itself (`aws s3 cp f s3://master.<spout>/f`: one commit per object); the key is
revoked when the spout stops.

Each commit is an ordinary commit of the output repo (author `spout <name>`), so the
pipelines downstream run on it as on a user's commit (its id is their global id).

The scheduler's calls: `start(version) -> PipelineJob` (create, `start pipeline`, platform
start: a job, service=True, RUNNING while the spout runs, PROGRESS 0 + 0 / 0),
`stop(pipeline, reason) -> PipelineJob | None` (stop/delete: the job ends KILLED), `close()`
(platform stop: records left RUNNING, started again at the next start). A crash restarts the
process with backoff (RESTART counts them).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, cast

from kaon.core import paths
from kaon.core.commit import Commit
from kaon.core.errors import InvalidInput
from kaon.core.pipelines.records import JobState, PipelineJob, PipelineVersion, new_global_id
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import Executor, Task
from kaon.ports.pipelines import PipelineStore
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.leases import new_lease
from kaon.services.localfs import store_stream
from kaon.services.pipelines.longrun import Backoff, keep_running, long_task, spec_of
from kaon.services.pipelines.s3access import PipelineAccess
from kaon.services.pipelines.tarstreams import TarStreams

log = logging.getLogger("kaon.pipelines")

JobLog = Callable[[PipelineJob], LogSink]
ExtraEnv = Callable[[PipelineJob, PipelineVersion], Mapping[str, str]]


@dataclass
class _Spout:
    job: PipelineJob
    pipe: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)


class SpoutRunner:
    def __init__(
        self,
        store: PipelineStore,
        executor: Executor,
        chunks: ChunkStore,
        commits: CommitService,
        root: Path,
        job_log: JobLog,
        *,
        clock: Callable[[], float] = time.time,
        extra_env: ExtraEnv = lambda job, version: {},
        access: PipelineAccess | None = None,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._store = store
        self._executor = executor
        self._chunks = chunks
        self._commits = commits
        self._root = root  # the pipes: <root>/<pipeline>/<job>.pipe
        self._job_log = job_log
        self._clock = clock
        self._extra_env = extra_env
        self._access = access  # the S3 gateway: a key writing its own repo (2.x's way)
        self._backoff = backoff
        self._spouts: dict[str, _Spout] = {}
        self._lock = threading.Lock()

    def start(self, version: PipelineVersion, job: PipelineJob | None = None) -> PipelineJob:
        """Run the spout of `version` (its previous run stopped first); `job`: the record
        to go on with (a platform restart), else a new one."""
        spec = spec_of(version)
        if spec.spout is None:
            raise InvalidInput(f"pipeline {version.pipeline} is not a spout (no `spout` field)")
        name = version.pipeline
        self.stop(name, "spout restarted")
        now = self._clock()
        if job is None:
            job = PipelineJob(
                id=new_global_id(),
                pipeline=name,
                version=version.version,
                state=JobState.CREATED,
                created=now,
                inputs=(),
                output_repo=name,
                output_branch=spec.output_branch,
                service=True,
            )
            self._store.add_job(job)
        if job.state is JobState.CREATED:
            job = job.moved(JobState.STARTING, started=now)
        if job.state is not JobState.RUNNING:
            job = job.moved(JobState.RUNNING, service=True, started=job.started or now)
        self._store.save_job(job)
        folder = self._root / name
        folder.mkdir(parents=True, exist_ok=True)
        pipe = folder / f"{job.id}.pipe"
        with contextlib.suppress(FileNotFoundError):
            pipe.unlink()
        os.mkfifo(pipe, 0o600)
        spout = _Spout(job, pipe)
        out = self._job_log(job)
        env = {"KAON_SPOUT_PIPE": "/pfs/out", **self._extra_env(job, version)}
        if self._access is not None:
            env |= self._access.spout_access(job, version)

        def make(attempt: int) -> Task:
            key = f"pipelines/{name}/spout-{job.id}-{attempt}"
            return long_task(key, version, job.id, (), env, str(pipe))

        def restarted(why: str) -> None:
            with self._lock:
                if spout.cancel.is_set():
                    return
                spout.job = replace(spout.job, restarts=spout.job.restarts + 1)
                self._store.save_job(spout.job)

        overwrite = spec.spout.overwrite
        reader = threading.Thread(
            target=self._read,
            args=(spout, job.output_branch, overwrite, out),
            name=f"kaon-spout-pipe-{name}",
            daemon=True,
        )
        runner = threading.Thread(
            target=keep_running,
            args=(self._executor, make, out, spout.cancel, restarted, self._backoff),
            name=f"kaon-spout-{name}",
            daemon=True,
        )
        spout.threads = [reader, runner]
        with self._lock:  # started under the lock: a stop that finds the spout can join them
            self._spouts[name] = spout
            reader.start()
            runner.start()
        return job

    def stop(
        self, pipeline: str, reason: str = "pipeline stopped", job_id: str | None = None
    ) -> PipelineJob | None:
        """Stop the spout (only if it runs job `job_id`, when given)."""
        with self._lock:
            spout = self._spouts.get(pipeline)
            if spout is None or (job_id is not None and spout.job.id != job_id):
                return None
            del self._spouts[pipeline]
        self._halt(spout)
        if self._access is not None:
            self._access.revoke(spout.job)
        job = self._store.get_job(pipeline, spout.job.id) or spout.job
        if job.state.finished:
            return job
        job = job.moved(JobState.KILLED, reason, finished=self._clock())
        self._store.save_job(job)
        self._job_log(job)(f"spout stopped: {reason}")
        return job

    def close(self) -> None:
        with self._lock:
            spouts = list(self._spouts.values())
            self._spouts.clear()
        for spout in spouts:
            self._halt(spout)

    def running(self) -> dict[str, PipelineJob]:
        """The job of each pipeline this runner runs, by pipeline."""
        with self._lock:
            return {name: s.job for name, s in self._spouts.items()}

    def job_of(self, pipeline: str) -> PipelineJob | None:
        with self._lock:
            spout = self._spouts.get(pipeline)
            return None if spout is None else spout.job

    # the pipe ----------------------------------------------------------------------------
    def _halt(self, spout: _Spout) -> None:
        spout.cancel.set()
        spout.threads[1].join()  # the process is gone: no writer holds the pipe any more
        reader = spout.threads[0]
        while reader.is_alive():  # waiting for the next writer: it opens, reads EOF, sees cancel
            _wake(spout.pipe)
            reader.join(0.05)
        with contextlib.suppress(FileNotFoundError):
            spout.pipe.unlink()

    def _read(self, spout: _Spout, branch: str, overwrite: bool, out: LogSink) -> None:
        """Each tar stream written to the pipe → one commit."""
        name = spout.job.pipeline
        while not spout.cancel.is_set():
            try:
                with open(spout.pipe, "rb") as stream:  # blocks until a writer opens it
                    if spout.cancel.is_set():
                        return
                    self._commit_streams(stream, name, branch, overwrite, out)
            except Exception as exc:  # a store failure: said, and the next stream goes on
                log.exception("spout %s: reading its pipe failed", name)
                out(f"spout: a stream was not committed: {exc}")

    def _commit_streams(
        self, stream: BinaryIO, repo: str, branch: str, overwrite: bool, out: LogSink
    ) -> None:
        try:
            for archive in TarStreams(stream):
                with archive:
                    commit = self._commit(archive, repo, branch, overwrite, out)
                if commit is not None:
                    out(f"spout: committed {commit[1]} file(s) as {repo}@{commit[0].id}")
        except (tarfile.TarError, InvalidInput, EOFError, OSError) as exc:
            out(f"spout: what was written to /pfs/out is not a tar stream ({exc}): skipped")
            shutil.copyfileobj(stream, _Null())  # to its end: the writer is not stuck

    def _commit(
        self, archive: tarfile.TarFile, repo: str, branch: str, overwrite: bool, out: LogSink
    ) -> tuple[Commit, int] | None:
        lease = new_lease()
        try:
            puts: list[Put] = []
            for member in archive:
                body = archive.extractfile(member) if member.isfile() else None
                if body is not None:
                    path = paths.normalize("/" + member.name.lstrip("./"))
                    puts.append(store_stream(self._chunks, path, cast(BinaryIO, body), lease))
            if not puts:
                out("spout: an empty tar stream was written to /pfs/out: nothing to commit")
                return None
            commit = self._commits.commit(
                repo,
                branch,
                puts,
                ["/"] if overwrite else [],
                message=f"spout {repo}: {len(puts)} file(s)",
                author=f"spout {repo}",
            )
            return commit, len(puts)
        finally:
            self._chunks.release(lease)


class _Null:
    def write(self, data: bytes) -> int:
        return len(data)


def _wake(pipe: Path) -> None:
    """Open `pipe` for writing and close it: a reader blocked in open() sees EOF."""
    try:
        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno not in (errno.ENXIO, errno.ENOENT):  # ENXIO: no reader waiting
            raise
        return
    os.close(fd)
