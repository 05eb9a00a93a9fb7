"""Helpers of the service and spout tests: a pipeline recorded in the platform's store, a
local executor over the platform's content, job logs kept in memory."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kaon.core.commit import Commit
from kaon.core.pipelines.parse import parse_spec, spec_doc
from kaon.core.pipelines.records import (
    InputCommit,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineState,
    PipelineVersion,
)
from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.envbuilder import LogSink
from kaon.ports.pipelines import PipelineStore
from kaon.services.content import StoreContent
from kaon.wiring import Platform


def executor(platform: Platform, root: Path, mode: str | None = None) -> LocalExecutor:
    """The local executor; `mode` "rewrite" forces /pfs's fallback (else bubblewrap where it
    can mount)."""
    content = StoreContent(platform.repos, platform.files)
    return LocalExecutor(
        content, root / "jobs", UvEnvBuilder(root / "envs"), hidden=(), pfs_mode=mode
    )


class Logs:
    """Job logs by job id, as PipelineLogs would keep them."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, job: PipelineJob) -> LogSink:
        def sink(line: str) -> None:
            with self._lock:
                self.lines[job.id].append(line)

        return sink

    def text(self, job_id: str) -> str:
        with self._lock:
            return "\n".join(self.lines[job_id])


def add_pipeline(store: PipelineStore, doc: dict[str, Any]) -> PipelineVersion:
    spec, _ = parse_spec(doc, "test")
    version = PipelineVersion(
        pipeline=spec.name,
        version=1,
        spec=spec_doc(spec),
        source_repo=None,
        source_commit=None,
        lock_id="",
        lock="",
        python="",
        salt="0" * 64,
        created=time.time(),
        author="tester",
    )
    reads = () if spec.input is None else tuple(sorted({doc["input"]["pfs"]["repo"]}))
    pipeline = Pipeline(spec.name, 1, PipelineState.RUNNING, time.time(), time.time(), inputs=reads)
    store.add_pipeline(pipeline, version)
    return version


def job_on(version: PipelineVersion, commit: Commit, name: str) -> PipelineJob:
    return PipelineJob(
        id=str(commit.id),
        pipeline=version.pipeline,
        version=version.version,
        state=JobState.CREATED,
        created=time.time(),
        inputs=(InputCommit(name, str(commit.repo), str(commit.branch), str(commit.id)),),
        output_repo=version.pipeline,
        output_branch="master",
        service=True,
    )


def eventually(check: Callable[[], Any], timeout: float = 120.0, pause: float = 0.05) -> Any:
    """The first truthy value of `check()` (polled; a bound for a hang, not a timing
    assertion: generous, as processes start slowly on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {check}")
        time.sleep(pause)
