"""What service and spout pipelines share: one long-lived task built from a pipeline version,
kept running (restarted with backoff when it exits or crashes) until it is cancelled.

A service or a spout runs the transform ONCE on the whole input (no datum split), so its task
is the pipeline's transform with `pfs=True`, every input seen whole at /pfs/<name>, the code
of `transform.source` at /pfs/code (the working directory), and Pachyderm's variables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kaon.core.errors import KaonError
from kaon.core.ids import CommitId, RepoName
from kaon.core.pipelines.parse import parse_spec
from kaon.core.pipelines.records import InputCommit, PipelineVersion
from kaon.core.pipelines.spec import PipelineSpec
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvLock, LogSink
from kaon.ports.executor import Executor, Input, Place, RunResult, Task

log = logging.getLogger("kaon.pipelines")

CODE = "code"  # the input holding transform.source (as the job runner names it)


@dataclass(frozen=True)
class Backoff:
    """Waits between restarts: `first`, doubled each time up to `most`; a run that lasted
    `calm` seconds or more starts the count again."""

    first: float = 1.0
    most: float = 30.0
    calm: float = 60.0


def spec_of(version: PipelineVersion) -> PipelineSpec:
    return parse_spec(version.spec, f"pipeline {version.pipeline} v{version.version}")[0]


def lock_of(version: PipelineVersion) -> EnvLock | None:
    """The version's locked environment (None: the platform's own Python)."""
    if not version.lock_id:
        return None
    return EnvLock(version.lock_id, version.lock, version.python)


def long_task(
    key: str,
    version: PipelineVersion,
    job_id: str,
    inputs: tuple[InputCommit, ...] = (),
    env: Mapping[str, str] | None = None,
    pipe: str = "",
) -> Task:
    """The task of a service or spout: the transform over the whole of each input."""
    spec = spec_of(version)
    trees: dict[str, Input] = {
        i.name: Input(TreeRef(RepoName(i.repo), CommitId(i.commit)))
        for i in inputs
        if i.commit is not None
    }
    workdir = Place.output()
    if version.source_repo and version.source_commit:
        code = TreeRef(RepoName(version.source_repo), CommitId(version.source_commit))
        trees[CODE] = Input(code)
        workdir = Place.input(CODE, spec.transform.working_dir.strip("/"))
    variables: dict[str, str | Place] = dict(spec.transform.env)
    variables |= {
        "PACH_PIPELINE_NAME": version.pipeline,
        "KAON_PIPELINE": version.pipeline,
        "PACH_JOB_ID": job_id,
        "KAON_JOB_ID": job_id,
        "PACH_OUTPUT_COMMIT_ID": job_id,
    }
    variables |= {f"{i.name}_COMMIT": i.commit for i in inputs if i.commit}
    variables |= dict(env or {})
    return Task(
        key=key,
        argv=spec.transform.cmd,
        stdin=spec.transform.stdin,
        workdir=workdir,
        inputs=trees,
        lock=lock_of(version),
        env=variables,
        labels={"pipeline": version.pipeline, "job": job_id},
        pfs=True,
        pfs_out_pipe=pipe,
    )


class Discard:
    """An OutputSink for what a service leaves in /pfs/out: nothing is committed."""

    def deliver(self, folder: Path, result: RunResult) -> None:
        return None


def keep_running(
    executor: Executor,
    make_task: Callable[[int], Task],
    out: LogSink,
    cancel: threading.Event,
    on_restart: Callable[[str], None],
    backoff: Backoff = Backoff(),
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run `make_task(attempt)` until `cancel` is set: each time it exits (or fails to
    start), say why on `out`, call `on_restart(why)` and run it again after the backoff."""
    delay = backoff.first
    attempt = 0
    while not cancel.is_set():
        started = clock()
        try:
            result = executor.run(make_task(attempt), out, Discard(), cancel)
            why = (
                "was killed" if result.exit_code is None else f"exited with code {result.exit_code}"
            )
        except KaonError as exc:
            why = f"could not start: {exc.message}"
        except Exception as exc:  # a backend bug must not end the loop silently
            log.exception("pipeline task %s failed", attempt)
            why = f"could not start: {exc!r}"
        if cancel.is_set():
            return
        if clock() - started >= backoff.calm:
            delay = backoff.first
        out(f"the process {why}: restarting in {delay:g} s")
        on_restart(why)
        if cancel.wait(delay):
            return
        delay = min(delay * 2, backoff.most)
        attempt += 1
