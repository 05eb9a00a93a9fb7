"""The SDK's calls about pipelines (docs/pipelines.md), mixed into `Client`: create and update
them from spec files, list, inspect, stop, start, run and delete them; their jobs (named
`<pipeline>@<global id>`), datums and logs; the commit set of a global id; wait for a commit.

The examples run as tests (tests/client/test_pipelines_doctests.py) against a real server,
with `client` connected to it and in the working directory `specs.yaml` (pipeline `copy`
reading repo `raw` with glob `/*`, its code in `copy-src/`) and `raw` holding two files."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kaon.client.models import CommitInfo
from kaon.client.reporter import QUIET, Reporter
from kaon.client.rest import RestApi
from kaon.core.errors import InvalidInput, KaonError
from kaon.core.pipelines.records import JobState
from kaon.wire import (
    CommitWait,
    DatumInfo,
    PipelineInfo,
    PipelineJobInfo,
    PipelineLogLine,
    PipelineLogPage,
    PipelinesCreated,
    decode_list,
)

LocalPath = str | os.PathLike[str]
POLL = 0.25  # seconds between two looks at a job or a log that has nothing new
WAIT_POLL = 30.0  # seconds one wait request may hold (the server's limit)


def split_job(key: str) -> tuple[str, str]:
    """`pipeline@id` → (pipeline, id); InvalidInput saying the form otherwise."""
    pipeline, at, job = key.partition("@")
    if not at or not pipeline or not job:
        raise InvalidInput(
            f"job {key!r}: expected <pipeline>@<job id> (e.g. edges@3f2a…), as `kaon list job` "
            "shows them"
        )
    return pipeline, job


def _q(name: str) -> str:
    return quote(name, safe="")


class PipelinesApi(RestApi):
    # pipelines -----------------------------------------------------------------------------
    def create_pipelines(
        self,
        *files: LocalPath,
        update: bool = False,
        reprocess: bool = True,
        reporter: Reporter = QUIET,
    ) -> PipelinesCreated:
        """Create the pipelines of spec files (JSON, or YAML with `---` between documents),
        all or none. Every file is parsed first (a bad spec fails before anything is sent);
        each spec's `transform.source` folder (relative to its file) is then uploaded to repo
        `kaon-pipelines`, branch = the pipeline's name. `update`: replace existing pipelines
        (their datums run again unless `reprocess` is False). Warnings: `.warnings`.

        >>> made = client.create_pipelines("specs.yaml")
        >>> [(p.name, p.version, p.input) for p in made.pipelines]
        [('copy', 1, 'raw:/*')]
        >>> [w for w in made.warnings if "pod_spec" in w]
        ["pipeline copy: field 'pod_spec' has no effect here (no Kubernetes): ignored"]
        """
        from kaon.client import pipelinespecs

        return pipelinespecs.create(
            self, [Path(f) for f in files], update=update, reprocess=reprocess, reporter=reporter
        )

    def send_pipelines(
        self, specs: Sequence[dict[str, Any]], *, update: bool = False, reprocess: bool = True
    ) -> PipelinesCreated:
        """POST spec documents as they are: `[{"spec": {...}, "source": {"repo", "commit"}
        or None}]` (`create_pipelines` reads files, uploads sources and calls this)."""
        body = {"specs": list(specs), "update": update, "reprocess": reprocess}
        return PipelinesCreated.from_doc(self._json("POST", "/v1/pipelines", json_body=body))

    def list_pipelines(self) -> list[PipelineInfo]:
        """Every pipeline (name, version, input, state, last job's state…).

        >>> [p.name for p in client.list_pipelines()]
        ['copy']
        """
        return decode_list(PipelineInfo, self._json("GET", "/v1/pipelines"))

    def inspect_pipeline(self, name: str, version: int | None = None) -> PipelineInfo:
        """A pipeline with its current version's spec, code and environment (or `version`'s).

        >>> client.inspect_pipeline("copy").spec["transform"]["cmd"]
        ['python3', 'copy.py']
        """
        params = {"version": version} if version is not None else None
        return PipelineInfo.from_doc(self._json("GET", f"/v1/pipelines/{_q(name)}", params=params))

    def delete_pipeline(self, name: str, *, keep_repo: bool = False) -> None:
        """Delete a pipeline and, unless `keep_repo`, its output repo (refused while another
        pipeline reads it)."""
        params = {"keep_repo": "true"} if keep_repo else None
        self._json("DELETE", f"/v1/pipelines/{_q(name)}", params=params)

    def stop_pipeline(self, name: str) -> PipelineInfo:
        """Pause a pipeline: commits to its inputs are remembered, no job starts."""
        return PipelineInfo.from_doc(self._json("POST", f"/v1/pipelines/{_q(name)}/stop"))

    def start_pipeline(self, name: str) -> PipelineInfo:
        """Resume a paused pipeline (one job on the current heads if commits came meanwhile)."""
        return PipelineInfo.from_doc(self._json("POST", f"/v1/pipelines/{_q(name)}/start"))

    def run_pipeline(self, name: str, *, reprocess: bool = False) -> PipelineJobInfo:
        """A job now on the current heads of its inputs (a new global id); `reprocess`: no
        datum is skipped.

        >>> again = client.wait_pipeline_job(client.run_pipeline("copy", reprocess=True))
        >>> again.state.label, again.counts.processed, again.counts.skipped
        ('success', 2, 0)
        """
        body = {"reprocess": reprocess}
        path = f"/v1/pipelines/{_q(name)}/run"
        return PipelineJobInfo.from_doc(self._json("POST", path, json_body=body))

    def run_cron(self, name: str) -> list[str]:
        """Tick a cron pipeline's cron inputs now: the tick commits' ids (each the global id
        of the jobs it sets off)."""
        ids: list[str] = self._json("POST", f"/v1/pipelines/{_q(name)}/cron")
        return ids

    # jobs, datums, logs --------------------------------------------------------------------
    def list_pipeline_jobs(
        self, pipeline: str | None = None, global_id: str | None = None, limit: int | None = None
    ) -> list[PipelineJobInfo]:
        """Pipeline jobs, newest first: all, of one `pipeline`, or those one `global_id` (one
        input commit) set off across stages."""
        params = {"pipeline": pipeline, "global_id": global_id, "limit": limit}
        return decode_list(PipelineJobInfo, self._json("GET", "/v1/pipeline-jobs", params=params))

    def inspect_pipeline_job(self, pipeline: str, job: str) -> PipelineJobInfo:
        """One job (`job`: its global id or a unique prefix): datum counts, timings, input
        commits, output commit, how /pfs was given."""
        path = f"/v1/pipelines/{_q(pipeline)}/jobs/{_q(job)}"
        return PipelineJobInfo.from_doc(self._json("GET", path))

    def stop_pipeline_job(self, pipeline: str, job: str) -> PipelineJobInfo:
        """Kill a job: nothing of it is committed."""
        path = f"/v1/pipelines/{_q(pipeline)}/jobs/{_q(job)}/stop"
        return PipelineJobInfo.from_doc(self._json("POST", path))

    def list_datums(self, pipeline: str, job: str, *, failed: bool = False) -> list[DatumInfo]:
        """A job's datums: id, files, state, time (`failed`: only those that failed).

        >>> sorted(d.state.value for d in client.list_datums("copy", again.id))
        ['success', 'success']
        """
        path = f"/v1/pipelines/{_q(pipeline)}/jobs/{_q(job)}/datums"
        params = {"failed": "true"} if failed else None
        return decode_list(DatumInfo, self._json("GET", path, params=params))

    def restart_datum(self, pipeline: str, job: str, datum: str) -> PipelineJobInfo:
        """Run one datum of a job again (a new job)."""
        path = f"/v1/pipelines/{_q(pipeline)}/jobs/{_q(job)}/datums/{_q(datum)}/restart"
        return PipelineJobInfo.from_doc(self._json("POST", path))

    def pipeline_log_page(
        self,
        pipeline: str,
        job: str | None = None,
        datum: str | None = None,
        *,
        failed: bool = False,
        offset: int = 0,
    ) -> PipelineLogPage:
        """One page of log lines from `offset` (`pipeline_logs` reads them all)."""
        params = {
            "job": job,
            "datum": datum,
            "failed": "true" if failed else None,
            "offset": offset,
        }
        path = f"/v1/pipelines/{_q(pipeline)}/logs"
        return PipelineLogPage.from_doc(self._json("GET", path, params=params))

    def pipeline_logs(
        self,
        pipeline: str,
        job: str | None = None,
        datum: str | None = None,
        *,
        failed: bool = False,
        follow: bool = False,
    ) -> Iterator[PipelineLogLine]:
        """Log lines of a pipeline's newest job, or of `job` (a datum's with `datum`, failed
        datums' with `failed`); `follow`: as they come, until the job ends.

        >>> sorted(line.message for line in client.pipeline_logs("copy", again.id) if line.user)
        ['copying a.txt', 'copying b.txt']
        """
        offset = 0
        while True:
            page = self.pipeline_log_page(pipeline, job, datum, failed=failed, offset=offset)
            yield from page.lines
            moved, offset = page.offset != offset, page.offset
            if page.done or (not follow and not moved):
                return
            if not page.lines:
                time.sleep(POLL)

    def wait_pipeline_job(
        self, job: PipelineJobInfo | str, timeout: float | None = None
    ) -> PipelineJobInfo:
        """Until a job has ended (success, failure, killed, unrunnable); after `timeout`
        seconds, as it is then. A string is `pipeline@id`."""
        pipeline, job_id = (job.pipeline, job.id) if not isinstance(job, str) else split_job(job)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.inspect_pipeline_job(pipeline, job_id)
            if JobState(found.state).finished:
                return found
            if deadline is not None and time.monotonic() >= deadline:
                return found
            time.sleep(POLL)

    # commits -------------------------------------------------------------------------------
    def commit_set(self, global_id: str) -> list[CommitInfo]:
        """The commits of one global id: the input commit and each stage's output commit.

        >>> [c.repo for c in client.commit_set(again.id)]
        ['copy']
        """
        return decode_list(CommitInfo, self._json("GET", f"/v1/commit-sets/{_q(global_id)}"))

    def wait_commit(
        self, repo: str, ref: str = "master", timeout: float | None = None
    ) -> CommitInfo:
        """Until `repo@ref`'s commit is finished (every job it sets off has ended); a
        KaonError after `timeout` seconds.

        >>> client.wait_commit("copy", "master").repo
        'copy'
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            poll = WAIT_POLL
            if deadline is not None:
                poll = min(poll, max(0.001, deadline - time.monotonic()))
            params = {"ref": ref, "timeout": poll}
            doc = self._json("GET", f"/v1/repos/{_q(repo)}/wait", params=params)
            found = CommitWait.from_doc(doc)
            if found.done and found.commit is not None:
                return found.commit
            if deadline is not None and time.monotonic() >= deadline:
                raise KaonError(
                    f"timed out after {timeout:g}s waiting for {repo}@{ref} to finish: its "
                    "jobs still run (`kaon list job` shows them); wait again, or longer"
                )
