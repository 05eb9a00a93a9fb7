"""Pipeline commands in pachctl's grammar (docs/pipelines.md): create / update / list /
inspect / delete / stop / start / run pipeline. Jobs, datums, logs and commit sets:
kaon.cli.pipelinejobs; how they print: kaon.cli.pipelineview."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import REPORTER, emit_json, info, success
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.client import Client
    from kaon.wire import PipelinesCreated

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
SPEC_FILES = typer.Option(
    ...,
    "--file",
    "-f",
    help="A spec file: JSON, or YAML with --- between documents (repeatable).",
)

update_app = typer.Typer(help="Update pipelines from spec files.", no_args_is_help=True)
stop_app = typer.Typer(
    help="Stop (pause) a pipeline, or kill a pipeline job.", no_args_is_help=True
)
start_app = typer.Typer(help="Start (resume) a paused pipeline.", no_args_is_help=True)
run_app = typer.Typer(
    help="Run a pipeline now on its current inputs, or tick its cron inputs.",
    no_args_is_help=True,
)


def client() -> Client:
    from kaon.client import Client

    return Client.from_env()


def _report(made: PipelinesCreated, verb: str, as_json: bool) -> None:
    for warning in made.warnings:
        sys.stderr.write(f"Warning: {warning}\n")
    if as_json:
        emit_json(made)
        return
    for p in made.pipelines:
        success(f"{verb} pipeline {p.name} (version {p.version}, input {p.input})")


def create_pipeline(files: list[Path] = SPEC_FILES, as_json: bool = JSON) -> None:
    """Create pipelines from spec files (Pachyderm's format), all or none.

    Every file is checked first: an unknown field is an error naming it (with a
    did-you-mean); a Pachyderm field with no effect here (pod_spec, standby, …) is accepted
    with one warning line. Each spec's `transform.source` folder (its code and
    requirements.txt, relative to the spec file) is uploaded to repo kaon-pipelines.

    Examples:

      kaon create pipeline -f edges.yaml

      kaon create pipeline -f split.json -f train.yaml
    """
    with client() as c:
        made = c.create_pipelines(*files, reporter=REPORTER)
    _report(made, "created", as_json)


def update_pipeline(
    files: list[Path] = SPEC_FILES,
    reprocess: bool = typer.Option(
        True,
        "--reprocess/--no-reprocess",
        help="Run again the datums older versions made (default; unlike pachctl). "
        "--no-reprocess keeps their outputs, recorded in the version and provenance.",
    ),
    as_json: bool = JSON,
) -> None:
    """Update pipelines from spec files: a new version (spec, code, environment) of each.

    By default every datum is processed again by the new version, so an output never mixes
    old and new code; --no-reprocess keeps the outputs of datums that did not change.

    Examples:

      kaon update pipeline -f edges.yaml

      kaon update pipeline -f edges.yaml --no-reprocess
    """
    with client() as c:
        made = c.create_pipelines(*files, update=True, reprocess=reprocess, reporter=REPORTER)
    _report(made, "updated", as_json)


def list_pipeline(as_json: bool = JSON) -> None:
    """List pipelines: NAME VERSION INPUT CREATED STATE / LAST JOB DESCRIPTION.

    INPUT as pachctl shows it: repo:/glob, (a:/ ⨯ b:/) for a cross, (a ∪ b) a union.

    Example:

      kaon list pipeline --json
    """  # noqa: RUF002 - pachctl's signs
    from kaon.cli.pipelineview import pipelines_table

    with client() as c:
        found = c.list_pipelines()
    if as_json:
        emit_json(found)
        return
    if not found:
        info("There are no pipelines yet: create one with `kaon create pipeline -f spec.yaml`")
        return
    pipelines_table(found)


def inspect_pipeline(
    name: str = typer.Argument(..., help="The pipeline."),
    version: int = typer.Option(None, "--version", help="An older version (default: current)."),
    as_json: bool = JSON,
) -> None:
    """A pipeline in detail: version, state, input, code, environment, reprocessing.

    Examples:

      kaon inspect pipeline edges

      kaon inspect pipeline edges --version 1 --json
    """
    from kaon.cli.pipelineview import show_pipeline

    with client() as c:
        found = c.inspect_pipeline(name, version)
    if as_json:
        emit_json(found)
        return
    show_pipeline(found)


def delete_pipeline(
    name: str = typer.Argument(None, help="The pipeline (or --all)."),
    keep_repo: bool = typer.Option(False, "--keep-repo", help="Keep its output repo."),
    everything: bool = typer.Option(
        False, "--all", help="Delete every pipeline, downstream ones first."
    ),
) -> None:
    """Delete a pipeline and its output repo (refused while another pipeline reads it).

    Examples:

      kaon delete pipeline edges

      kaon delete pipeline edges --keep-repo

      kaon delete pipeline --all
    """
    if (name is None) == (not everything):
        raise InvalidInput("give a pipeline's name, or --all (not both)")
    kept = " (its output repo kept)" if keep_repo else ""
    with client() as c:
        names = [name] if name is not None else _downstream_first(c)
        for one in names:
            c.delete_pipeline(one, keep_repo=keep_repo)
            success(f"deleted pipeline {one}{kept}")
    if not names:
        info("There are no pipelines to delete")


def _downstream_first(c: Client) -> list[str]:
    """Every pipeline's name, each after the pipelines that read its output."""
    left = {p.name: set(p.inputs) for p in c.list_pipelines()}
    order: list[str] = []
    while left:
        leaves = sorted(n for n in left if not any(n in reads for reads in left.values()))
        if not leaves:  # a cycle cannot be created: delete what remains in any order
            leaves = sorted(left)
        for n in leaves:
            order.append(n)
            del left[n]
    return order


def stop_pipeline(name: str = typer.Argument(..., help="The pipeline.")) -> None:
    """Pause a pipeline: commits to its inputs are remembered, no job starts until
    `kaon start pipeline`.

    Example:

      kaon stop pipeline train
    """
    with client() as c:
        p = c.stop_pipeline(name)
    success(f"pipeline {p.name} is {p.state.value}")


def start_pipeline(name: str = typer.Argument(..., help="The pipeline.")) -> None:
    """Resume a paused pipeline: if commits came meanwhile, one job runs on the current heads.

    Example:

      kaon start pipeline train
    """
    with client() as c:
        p = c.start_pipeline(name)
    success(f"pipeline {p.name} is {p.state.value}")


def run_pipeline(
    name: str = typer.Argument(..., help="The pipeline."),
    reprocess: bool = typer.Option(
        False, "--reprocess", help="Process every datum again (none skipped)."
    ),
    as_json: bool = JSON,
) -> None:
    """Run a pipeline now on the current heads of its inputs (a job with a new global id).

    Examples:

      kaon run pipeline train

      kaon run pipeline train --reprocess
    """
    with client() as c:
        job = c.run_pipeline(name, reprocess=reprocess)
    if as_json:
        emit_json(job)
        return
    success(f"started job {job.key}: follow it with `kaon logs --job {job.key} -f`")


def run_cron(name: str = typer.Argument(..., help="The pipeline (with a cron input).")) -> None:
    """Tick a pipeline's cron inputs now, as if their time had come: each tick is a commit
    to its cron repo, which sets off a job.

    Example:

      kaon run cron nightly
    """
    with client() as c:
        ticks = c.run_cron(name)
    for tick in ticks:
        success(f"ticked {name}: commit {tick} (`kaon list job {tick}` shows its jobs)")


def register(
    app: typer.Typer,
    create_app: typer.Typer,
    list_app: typer.Typer,
    inspect_app: typer.Typer,
    delete_app: typer.Typer,
) -> None:
    """Add the pipeline commands to the data groups (create, list, inspect, delete) and the
    groups only pipelines have (update, stop, start, run, restart, wait, logs)."""
    from kaon.cli import pipelinejobs

    create_app.command("pipeline")(create_pipeline)
    list_app.command("pipeline")(list_pipeline)
    inspect_app.command("pipeline")(inspect_pipeline)
    delete_app.command("pipeline")(delete_pipeline)
    update_app.command("pipeline")(update_pipeline)
    stop_app.command("pipeline")(stop_pipeline)
    start_app.command("pipeline")(start_pipeline)
    run_app.command("pipeline")(run_pipeline)
    run_app.command("cron")(run_cron)
    pipelinejobs.register(app, list_app, inspect_app, stop_app)
    for name, sub in [
        ("update", update_app),
        ("stop", stop_app),
        ("start", start_app),
        ("run", run_app),
    ]:
        app.add_typer(sub, name=name)
