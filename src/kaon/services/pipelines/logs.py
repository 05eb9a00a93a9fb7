"""Pipeline logs: per job, JSON lines in `<folder>/<pipeline>/<job>.jsonl` (Pachyderm's fields).

    {"ts", "pipeline", "job", "datum", "data": [{"path", "hash"}], "message", "user"}

Every line the user's code prints is one (`datum` its id, `data` its files, `user` true); the
platform's own lines about the job have datum "" and user false. A `JobLogWriter` is safe
from several threads (the job's workers). Beside the log, `<job>.failed` lists the datums
that failed (for `logs --failed`) and `<job>.done` marks a job that ended (a follower stops).
Read by byte offset: `read(...)` gives a page of lines and the offset to ask again from.
"""

from __future__ import annotations

import json
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

PAGE = 1000  # lines per page at most


@dataclass
class LogPage:
    lines: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0  # ask again from here to follow
    done: bool = True  # no more lines will come (the job ended)


class JobLogWriter:
    """The log of one job, appended to by its threads."""

    def __init__(self, path: Path, pipeline: str, job: str, clock: Callable[[], float]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._pipeline, self._job, self._clock = pipeline, job, clock
        self._lock = threading.Lock()
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

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
        if done:
            self._path.with_suffix(".done").touch()


class PipelineLogs:
    """Every pipeline's job logs below `folder` (`<pipelines root>/logs`)."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self._clock = clock

    def path(self, pipeline: str, job: str) -> Path:
        return self.folder / pipeline / f"{job}.jsonl"

    def writer(self, job: PipelineJob) -> JobLogWriter:
        """The log of `job` to append to (a job run again after a restart appends)."""
        done = self.path(job.pipeline, job.id).with_suffix(".done")
        done.unlink(missing_ok=True)
        return JobLogWriter(self.path(job.pipeline, job.id), job.pipeline, job.id, self._clock)

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

    def _newest(self, pipeline: str) -> Path | None:
        logs = list((self.folder / pipeline).glob("*.jsonl"))
        return max(logs, key=lambda p: p.stat().st_mtime) if logs else None

    @staticmethod
    def _done(path: Path | None) -> bool:
        return path is None or path.with_suffix(".done").exists()
