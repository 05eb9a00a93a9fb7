"""Pipeline jobs, datums, logs and commit sets in pachctl's grammar: list / inspect / stop job,
list / restart datum, logs, wait commit, and `list commit <global id>` (docs/pipelines.md).
A job is `<pipeline>@<global id>` (a unique prefix of the id is enough)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import emit_json, human_duration, human_size, info, success, table, time_ago
from kaon.cli.pipelines import JSON, client
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.wire import PipelineLogLine

JOB_ARG = typer.Argument(..., help="<pipeline>@<job id> (an id prefix is enough).")
GLOBAL_ID = re.compile(r"^[0-9a-f]{32}$")

restart_app = typer.Typer(help="Run a datum of a pipeline job again.", no_args_is_help=True)
wait_app = typer.Typer(help="Wait for a commit to be finished.", no_args_is_help=True)


def _split(key: str) -> tuple[str, str]:
    from kaon.client.pipelines import split_job

    return split_job(key)


def is_global_id(text: str) -> bool:
    """A bare 32-hex argument: a global id (`kaon list commit <id>`), not repo@ref."""
    return bool(GLOBAL_ID.match(text))


def list_job(
    global_id: str = typer.Argument(
        None, help="A global id: every job one input commit set off, across pipelines."
    ),
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="Only this pipeline's jobs."),
    number: int = typer.Option(None, "--number", "-n", help="At most this many jobs."),
    as_json: bool = JSON,
) -> None:
    """List pipeline jobs, newest first: ID PIPELINE STARTED DURATION RESTART PROGRESS DL UL
    STATE. PROGRESS is processed + skipped / total datums; DL/UL bytes read and written;
    RESTART datum retries. (Training jobs: `kaon train list`.)

    Examples:

      kaon list job

      kaon list job -p edges --json

      kaon list job 3f2a9c0e5d7b4a1c9e8f6d5c4b3a2910
    """
    from kaon.cli.pipelineview import jobs_table

    if global_id is not None and not is_global_id(global_id):
        raise InvalidInput(
            f"{global_id!r} is not a global id (32 hex digits, as `kaon list job` and "
            "`kaon inspect job` show them); for one pipeline's jobs use -p <pipeline>"
        )
    with client() as c:
        jobs = c.list_pipeline_jobs(pipeline, global_id, number)
    if as_json:
        emit_json(jobs)
        return
    if not jobs:
        info("No pipeline jobs yet: a commit to a pipeline's input starts one")
        return
    jobs_table(jobs)


def inspect_job(job: str = JOB_ARG, as_json: bool = JSON) -> None:
    """A pipeline job in detail: datums processed / skipped / failed / recovered / total,
    timings, input commits, output commit, how /pfs was given, the pipeline version.

    Examples:

      kaon inspect job edges@3f2a9c0e

      kaon inspect job edges@3f2a9c0e --json
    """
    from kaon.cli.pipelineview import show_job

    pipeline, ident = _split(job)
    with client() as c:
        found = c.inspect_pipeline_job(pipeline, ident)
    if as_json:
        emit_json(found)
        return
    show_job(found)


def stop_job(job: str = JOB_ARG) -> None:
    """Kill a pipeline job: its datums stop and nothing of it is committed.

    Example:

      kaon stop job edges@3f2a9c0e
    """
    pipeline, ident = _split(job)
    with client() as c:
        killed = c.stop_pipeline_job(pipeline, ident)
    success(f"job {killed.key} is {killed.state.label}")


def list_datum(
    job: str = JOB_ARG,
    failed: bool = typer.Option(False, "--failed", help="Only the datums that failed."),
    as_json: bool = JSON,
) -> None:
    """List a job's datums: ID FILES STATUS TIME.

    Examples:

      kaon list datum edges@3f2a9c0e

      kaon list datum edges@3f2a9c0e --failed --json
    """
    from kaon.cli.pipelineview import datums_table

    pipeline, ident = _split(job)
    with client() as c:
        datums = c.list_datums(pipeline, ident, failed=failed)
    if as_json:
        emit_json(datums)
        return
    if not datums:
        info("No datum" + (" failed" if failed else "s: the glob matched nothing"))
        return
    datums_table(datums)


def restart_datum(
    job: str = JOB_ARG,
    datum: str = typer.Argument(..., help="The datum's id (`kaon list datum` shows them)."),
) -> None:
    """Run one datum of a job again (a new job).

    Example:

      kaon restart datum edges@3f2a9c0e 7d1c0a2b
    """
    pipeline, ident = _split(job)
    with client() as c:
        again = c.restart_datum(pipeline, ident, datum)
    success(f"restarted datum {datum}: job {again.key}")


def logs(
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="A pipeline's newest job."),
    job: str = typer.Option(None, "--job", "-j", help="<pipeline>@<job id>."),
    datum: str = typer.Option(None, "--datum", help="Only this datum's lines."),
    failed: bool = typer.Option(False, "--failed", help="Only the lines of failed datums."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends."),
    tail: int = typer.Option(None, "--tail", help="Only the last N lines (then follow with -f)."),
    raw: bool = typer.Option(False, "--raw", help="JSON lines, as stored."),
) -> None:
    """Pipeline logs: `time datum message`, one line each (--raw: JSON lines with pipeline,
    job, datum, data paths and hashes, ts, message, user).

    Examples:

      kaon logs --pipeline edges

      kaon logs --job edges@3f2a9c0e --failed

      kaon logs --job edges@3f2a9c0e --datum 7d1c0a2b --raw

      kaon logs -p edges -f --tail 20
    """
    from kaon.cli.pipelineview import log_text

    if (pipeline is None) == (job is None):
        raise InvalidInput("give one of --pipeline <name> or --job <pipeline>@<id>")
    if tail is not None and tail < 0:
        raise InvalidInput(f"--tail {tail}: expected a number of lines, 0 or more")
    ident = None
    if job is not None:
        pipeline, ident = _split(job)

    def show(lines: Sequence[PipelineLogLine]) -> None:
        for line in lines:
            if raw:
                doc = {**line.__dict__, "data": [d.__dict__ for d in line.data]}
                sys.stdout.write(json.dumps(doc) + "\n")
            else:
                sys.stdout.write(log_text(line) + "\n")
        sys.stdout.flush()

    with client() as c:
        offset = 0
        kept: list[PipelineLogLine] = []
        while True:  # what there is now
            page = c.pipeline_log_page(pipeline, ident, datum, failed=failed, offset=offset)
            kept.extend(page.lines)
            if tail is None:
                show(kept)
                kept = []
            moved, offset = page.offset != offset, page.offset
            if page.done or not moved:
                break
        if tail is not None:
            show(kept[-tail:] if tail else [])
        while follow and not page.done:
            page = c.pipeline_log_page(pipeline, ident, datum, failed=failed, offset=offset)
            show(page.lines)
            offset = page.offset
            if not page.lines:
                time.sleep(0.25)


def wait_commit(
    address: str = typer.Argument(..., help="repo@branch (or repo@commit)."),
    timeout: str = typer.Option(None, "--timeout", help="Give up after this long (e.g. 10m)."),
    as_json: bool = JSON,
) -> None:
    """Wait until a commit is finished: for a pipeline's output repo, until the job that
    makes its next commit has ended. Exit 1 if --timeout passes first.

    Examples:

      kaon wait commit model@master

      kaon wait commit edges@master --timeout 5m
    """
    from kaon.core.address import parse_address
    from kaon.core.units import parse_duration

    addr = parse_address(address)
    seconds = parse_duration(timeout) if timeout else None
    with client() as c:
        found = c.wait_commit(addr.repo, addr.ref_text, seconds)
    if as_json:
        emit_json(found)
        return
    success(f"{found.repo}@{found.branch} {found.id} is finished")


def list_commit_set(global_id: str, as_json: bool) -> None:
    """`kaon list commit <global id>`: the commit set of one global id."""
    with client() as c:
        commits = c.commit_set(global_id)
    if as_json:
        emit_json(commits)
        return
    now = time.time()
    table(
        ["REPO", "BRANCH", "COMMIT", "STARTED", "DURATION", "SIZE"],
        [
            [
                x.repo,
                x.branch,
                x.id,
                time_ago(x.started, now),
                human_duration(x.duration),
                human_size(x.size),
            ]
            for x in commits
        ],
    )


def register(
    app: typer.Typer, list_app: typer.Typer, inspect_app: typer.Typer, stop_app: typer.Typer
) -> None:
    list_app.command("job")(list_job)
    inspect_app.command("job")(inspect_job)
    stop_app.command("job")(stop_job)
    list_app.command("datum")(list_datum)
    restart_app.command("datum")(restart_datum)
    wait_app.command("commit")(wait_commit)
    app.command("logs")(logs)
    app.add_typer(restart_app, name="restart")
    app.add_typer(wait_app, name="wait")
