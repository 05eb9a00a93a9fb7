"""Pipeline logs: per job, JSON lines in `<folder>/<pipeline>/<job>.jsonl` (Pachyderm's fields).

    {"ts", "pipeline", "job", "datum", "data": [{"path", "hash"}], "message", "user"}

Every line the user's code prints is one (`datum` its id, `data` its files, `user` true); the
platform's own lines about the job have datum "" and user false. A `JobLogWriter` is safe
from several threads (the job's workers). Beside the log, `<job>.failed` lists the datums
that failed (for `logs --failed`) and `<job>.done` marks a job that ended (a follower stops).
Read by byte offset: `read(...)` gives a page of lines and the offset to ask again from.

The leader writes the logs on its own disk; with `kept` (the platform's object store, shared by
every server) a writer also keeps its log there, under `pipeline-logs/<pipeline>/<job>.*`:
every KEEP_EVERY seconds while the job runs and whole when it ends. A server that finds no log
of a job on its disk (the leader that wrote it died, another server leads now) reads the kept
one, and a job run again after that appends to it: an ended job loses no line; a job that was
running loses at most the last KEEP_EVERY seconds before its leader died.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaon.core.pipelines.datums import DatumFile
from kaon.core.pipelines.records import PipelineJob
from kaon.ports.envbuilder import LogSink
from kaon.ports.objectstore import ObjectStore

PAGE = 1000  # lines per page at most
KEEP_EVERY = 5.0  # seconds between two keeps of a running job's log in the object store
KEPT = "pipeline-logs/"  # where the logs are kept in the object store
_READ = 1 << 20  # bytes of a log read at once when it is kept


@dataclass
class LogPage:
    lines: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0  # ask again from here to follow
    done: bool = True  # no more lines will come (the job ended)


class JobLogWriter:
    """The log of one job, appended to by its threads."""

    def __init__(
        self,
        path: Path,
        pipeline: str,
        job: str,
        clock: Callable[[], float],
        kept: ObjectStore | None = None,
        keep_every: float = KEEP_EVERY,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._pipeline, self._job, self._clock = pipeline, job, clock
        self._lock = threading.Lock()
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._kept, self._keep_every = kept, keep_every
        self._last_keep = time.monotonic()
        self._keeping: threading.Thread | None = None

    def line(self, message: str, datum: str = "", data: Any = (), *, user: bool = False) -> None:
        doc = {
            "ts": self._clock(),
            "pipeline": self._pipeline,
            "job": self._job,
            "datum": datum,
            "data": list(data),
            "message": message,
            "user": user,
        }
        text = json.dumps(doc, separators=(",", ":")) + "\n"
        with self._lock:
            if not self._fh.closed:
                self._fh.write(text)
                self._fh.flush()
                self._keep_soon()

    def job(self, message: str) -> None:
        """A line of the platform about the job."""
        self.line(message)

    def datum(self, datum: str, files: Iterable[DatumFile], *, user: bool = True) -> LogSink:
        """Where one datum's lines go (its user code's: `user`; else the platform's)."""
        data = [{"path": f.path, "hash": f.digest} for f in files]
        return lambda message: self.line(message, datum, data, user=user)

    def failed(self, datum: str) -> None:
        with self._lock, open(self._path.with_suffix(".failed"), "a", encoding="utf-8") as fh:
            fh.write(datum + "\n")

    def close(self, done: bool = True) -> None:
        """Stop writing; `done`: the job ended (followers stop at the end of the log)."""
        with self._lock:
            self._fh.close()
        self.wait_kept()
        if done:
            self._path.with_suffix(".done").touch()
        if self._kept is not None:
            try:
                _keep(self._kept, self._path, done)
            except Exception:  # the store is down: the log stays on this server's disk
                logging.getLogger("kaon").warning(
                    "keeping the log %s failed", self._path, exc_info=True
                )

    def keep(self) -> None:
        """Keep the log as it is now in the object store (a copy other servers can read)."""
        if self._kept is not None:
            _keep(self._kept, self._path, False)

    def wait_kept(self) -> None:
        """Wait for a keep under way (in the background) to end."""
        keeping = self._keeping
        if keeping is not None:
            keeping.join()

    def _keep_soon(self) -> None:
        """Keep the log in the background when KEEP_EVERY seconds passed since the last keep
        (called with the lock held)."""
        if self._kept is None or (self._keeping is not None and self._keeping.is_alive()):
            return
        now = time.monotonic()
        if now - self._last_keep < self._keep_every:
            return
        self._last_keep = now
        self._keeping = threading.Thread(target=self._keep_quietly, daemon=True)
        self._keeping.start()

    def _keep_quietly(self) -> None:
        try:
            self.keep()
        except Exception:  # the store is down: the next keep (or the job's end) tries again
            logging.getLogger("kaon").warning(
                "keeping the log %s failed", self._path, exc_info=True
            )


class PipelineLogs:
    """Every pipeline's job logs below `folder` (`<pipelines root>/logs`)."""

    def __init__(
        self,
        folder: Path,
        clock: Callable[[], float] = time.time,
        kept: ObjectStore | None = None,
        keep_every: float = KEEP_EVERY,
    ) -> None:
        self.folder = folder
        self._clock = clock
        self._kept, self._keep_every = kept, keep_every

    def path(self, pipeline: str, job: str) -> Path:
        return self.folder / pipeline / f"{job}.jsonl"

    def writer(self, job: PipelineJob) -> JobLogWriter:
        """The log of `job` to append to (a job run again after a restart appends)."""
        path = self.path(job.pipeline, job.id)
        self._restore(path)
        path.with_suffix(".done").unlink(missing_ok=True)
        return JobLogWriter(path, job.pipeline, job.id, self._clock, self._kept, self._keep_every)

    def job_log(self, job: PipelineJob) -> LogSink:
        """A sink of lines about `job` (services and spouts: their process' output)."""
        path = self.path(job.pipeline, job.id)
        lock = threading.Lock()

        def write(message: str) -> None:
            with lock:
                w = JobLogWriter(path, job.pipeline, job.id, self._clock)
                try:
                    w.line(message)
                finally:
                    w.close(done=False)

        return write

    def read(
        self,
        pipeline: str,
        job: str | None,
        datum: str | None = None,
        *,
        failed: bool = False,
        offset: int = 0,
        limit: int = PAGE,
    ) -> LogPage:
        """Lines of `job` (None: the pipeline's newest job) from byte `offset`: of one datum,
        or of the failed datums only; at most `limit` lines."""
        path = self.path(pipeline, job) if job is not None else self._newest(pipeline)
        if path is not None:
            self._restore(path)
        if path is None or not path.exists():
            return LogPage([], offset, job is None or self._done(path))
        wanted: set[str] | None = None
        if failed:
            failures = path.with_suffix(".failed")
            wanted = set(failures.read_text().split()) if failures.exists() else set()
        lines: list[dict[str, Any]] = []
        with open(path, "rb") as fh:
            fh.seek(offset)
            while len(lines) < limit:
                raw = fh.readline()
                if not raw.endswith(b"\n"):
                    break  # the end, or a line still being written
                offset += len(raw)
                doc = json.loads(raw)
                if datum is not None and doc["datum"] != datum:
                    continue
                if wanted is not None and doc["datum"] not in wanted:
                    continue
                lines.append(doc)
            at_end = offset >= os.fstat(fh.fileno()).st_size
        return LogPage(lines, offset, at_end and self._done(path))

    def delete(self, pipeline: str) -> None:
        """Every log of `pipeline` (it is deleted)."""
        shutil.rmtree(self.folder / pipeline, ignore_errors=True)
        if self._kept is not None:
            for info in list(self._kept.list(f"{KEPT}{pipeline}/")):
                self._kept.delete(info.key)

    def _restore(self, path: Path) -> None:
        """The kept copy of a log this server has not got on its disk (another server wrote
        it), with its failed datums and its end mark."""
        if self._kept is None or path.exists():
            return
        key = _kept_key(path)
        if not self._kept.has(key + ".jsonl"):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".failed", ".done"):
            if self._kept.has(key + suffix):
                path.with_suffix(suffix).write_bytes(self._kept.get(key + suffix))
        partial = path.with_suffix(".restoring")
        with open(partial, "wb") as fh:
            for piece in self._kept.get_stream(key + ".jsonl", 0, 1 << 62):
                fh.write(piece)
        partial.replace(path)  # whole or absent: a reader never sees half a copy

    def on_disk(self, pipeline: str) -> bool:
        """Whether this server has a log of `pipeline` on its disk (else `read(job=None)`
        finds none: the caller names the newest job)."""
        return any((self.folder / pipeline).glob("*.jsonl"))

    def _newest(self, pipeline: str) -> Path | None:
        logs = list((self.folder / pipeline).glob("*.jsonl"))
        return max(logs, key=lambda p: p.stat().st_mtime) if logs else None

    @staticmethod
    def _done(path: Path | None) -> bool:
        return path is None or path.with_suffix(".done").exists()


def _kept_key(path: Path) -> str:
    """`pipeline-logs/<pipeline>/<job>` (the suffixes follow) for the log at `path`."""
    return f"{KEPT}{path.parent.name}/{path.stem}"


def _keep(store: ObjectStore, path: Path, done: bool) -> None:
    """Put the log at `path` (and its failed datums; its end mark when `done`) in `store`."""
    key = _kept_key(path)
    failed = path.with_suffix(".failed")
    if failed.exists():
        store.put(key + ".failed", failed.read_bytes())

    def pieces() -> Iterable[bytes]:
        with open(path, "rb") as fh:
            while piece := fh.read(_READ):
                yield piece

    store.put(key + ".jsonl", pieces())
    if done:
        store.put(key + ".done", b"")
