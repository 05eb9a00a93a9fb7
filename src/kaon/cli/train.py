"""Training commands in kaos' grammar: `kaon train deploy -s <code> -d <data> [-h params.json]`,
list, info, get, logs, build-logs, kill."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.options import TAIL
from kaon.cli.output import (
    REPORTER,
    boxed,
    emit_json,
    follow_log,
    info,
    no_run_log,
    reason_cell,
    success,
)
from kaon.cli.workspace import WORKSPACE, client
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.client import Client
    from kaon.client.models import JobInfo

JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
JOB = typer.Option(None, "--job_id", "--job-id", "-j", help="Job id (or a unique prefix).")
IND = typer.Option(None, "--ind", "-i", help="Row of the last `kaon train list`.")
train_app = typer.Typer(
    help="Train models from a source bundle (code + requirements.txt) and a data bundle.",
    no_args_is_help=True,
)
ENV = typer.Option(
    None,
    "--env",
    help="KEY=VALUE for the code's environment (repeatable); recorded with the job.",
)


def job_ref(job: str | None, ind: int | None) -> str:
    from kaon.client import state

    if (job is None) == (ind is None):
        raise InvalidInput("give exactly one of -j/--job_id or -i/--ind (see `kaon train list`)")
    return job if job is not None else state.from_index("train", ind or 0)


def _hyper_table(space: dict[str, Any], search: str, trials: int) -> None:
    from kaon.core.hyper import grid

    if search != "grid":
        info(f"\nHYPERPARAMETER SEARCH: {search}, {trials} trials over {sorted(space)}\n")
        return
    points = grid(space)
    keys = sorted(space)
    typer.echo(f"\nCURRENT HYPERPARAMETERS ({len(points)})\n")
    boxed(["ind", *keys], [[i, *[p[k] for k in keys]] for i, p in enumerate(points)])


@train_app.command("deploy", context_settings={"help_option_names": ["--help"]})
def deploy(
    source: Path = typer.Option(
        None, "--source_bundle", "--source-bundle", "-s", help="Code folder."
    ),
    data: Path = typer.Option(None, "--data_bundle", "--data-bundle", "-d", help="Data folder."),
    manifest: Path = typer.Option(
        None, "--data_manifest", "--data-manifest", "-m", help='JSON lines {"url","path"}.'
    ),
    allow_local_urls: bool = typer.Option(
        False,
        "--allow-local-urls",
        help="Let -m read file:// URLs (files of this machine); off: http(s) only.",
    ),
    hyperparams: Path = typer.Option(
        None, "--hyperparams", "-h", help="JSON of lists: every combination is a trial."
    ),
    search: str = typer.Option("grid", "--search", help="grid, random or optuna."),
    trials: int = typer.Option(None, "--trials", help="Trials for random/optuna."),
    objective: str = typer.Option(None, "--objective", help="Metric optuna optimises."),
    direction: str = typer.Option("maximize", "--direction", help="maximize or minimize."),
    parallelism: int = typer.Option(1, "--parallelism", "-p", min=1, help="Trials at once."),
    cpu: float = typer.Option(
        None, "--cpu", help="CPUs per trial (reserved on a Ray cluster; recorded locally)."
    ),
    memory: str = typer.Option(
        None,
        "--memory",
        help="Memory limit per trial, e.g. 2Gi: its processes together where the server has "
        "cgroups, else each process (the log says which). Without it: the platform's default "
        "(KAON_JOB_MEMORY, 75% of its RAM), where it has cgroups.",
    ),
    timeout: str = typer.Option(None, "--timeout", help="Per trial, e.g. 90s, 10m, 1h."),
    sandbox: bool = typer.Option(
        False,
        "--sandbox",
        help="Also no network (nor the S3 gateway). Without it too, the trial sees only its "
        "own files of the platform (bubblewrap).",
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for the job and exit 1 on failure."),
    env: list[str] = ENV,
    no_env: bool = typer.Option(False, "--no-env", help="Drop the latest deploy's --env."),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """Submit a training job. Inputs not given are the workspace's latest (incremental
    development): `-s` alone retrains the latest data with new code, no option at all re-runs
    the latest code, data and --env (say, after new data was put to a repo the code reads
    over S3). A workspace that never had data runs its jobs with an empty data folder (all
    data over S3). --help only (-h is --hyperparams, as in kaos)."""
    from kaon.client import state
    from kaon.client.follow import building, never_ran, succeeded
    from kaon.core.envvars import parse_pairs

    if data is not None and manifest is not None:
        raise InvalidInput("give -d/--data_bundle or -m/--data_manifest, not both")
    if env and no_env:
        raise InvalidInput("give --env or --no-env, not both")
    if allow_local_urls and manifest is None:
        raise InvalidInput("--allow-local-urls applies to -m/--data_manifest: give one")
    variables = parse_pairs(env) if env else ({} if no_env else None)
    ws = state.require_workspace()
    with client() as c:
        job = c.train(
            ws,
            source=source,
            data=data,
            manifest=manifest,
            allow_local_urls=allow_local_urls,
            hyperparams=hyperparams,
            search=search,
            trials=trials,
            objective=objective,
            direction=direction,
            parallelism=parallelism,
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            sandbox=sandbox,
            env=variables,
            reporter=REPORTER,
        )
        if wait:
            job = c.wait(job)
    if as_json:
        emit_json(job)
    else:
        if job.hyper:
            _hyper_table(job.hyper["space"], job.hyper["search"], job.hyper["trials"])
        typer.echo("\nCURRENT TRAINING INPUTS\n")
        hyper = f"✔\n/{job.hyper['digest'][:5]}/*" if job.hyper else "✗"
        image = "⨂\n<building>" if building(job) else f"✔\n{job.source.path}"
        if job.finished_state and never_ran(job):
            image = "✗\n<build failed>"
        given = f"✔\n{job.data.path}" if job.data.files else "✗\n<over S3>"
        boxed(["Image", "Data", "Hyperparams"], [[image, given, hyper]])
        if job.variables:
            info("Environment: " + " ".join(f"{k}={v}" for k, v in job.variables.items()))
        if job.finished_state:
            log = "build-logs" if never_ran(job) else "logs"
            info(f"\nJob {job.id} {job.state}: see its log with `kaon train {log} -j {job.id[:8]}`")
        else:
            info(f"\nJob {job.id} {job.state}: follow it with `kaon train logs -j {job.id[:8]} -f`")
    if wait and not succeeded(job):
        info(f"Job {job.id} ended {job.state}: {job.reason}")
        raise typer.Exit(1)


def _started(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "?"


def _duration(job: JobInfo) -> str:
    return "?" if job.duration is None or not job.finished_state else str(round(job.duration))


@train_app.command("list")
def list_(as_json: bool = JSON, workspace: str = WORKSPACE) -> None:
    """BUILDING (duration | job_id | started | state | reason: address these with -j) and
    TRAINING (ind | duration | hyperopt | job_id | started | state) tables. `ind` numbers
    the TRAINING rows only: it is what -i takes in train info, get, logs, reproduce..."""
    from kaon.client import state
    from kaon.client.follow import never_ran

    ws = state.require_workspace()
    with client() as c:
        jobs = c.list_jobs(ws)
    first = [j for j in jobs if never_ran(j)]
    rest = [j for j in jobs if not never_ran(j)]
    state.save_index("train", [j.id for j in rest])
    if as_json:
        emit_json(jobs)
        return
    if not jobs:
        info("There are currently no training jobs: first run `kaon train deploy`")
        return
    if first:
        headers = ["duration", "job_id", "started", "state"]
        rows = [[_duration(j), j.id, _started(j.started or j.created), j.state] for j in first]
        if any(j.reason for j in first):
            headers.append("reason")
            rows = [[*r, reason_cell(j.reason)] for r, j in zip(rows, first, strict=True)]
        boxed(headers, rows, "BUILDING")
    if rest:
        headers = ["ind", "duration", "hyperopt", "job_id", "started", "state"]
        table: list[list[Any]] = [
            [i, _duration(j), j.hyperopt, j.id, _started(j.started or j.created), j.state]
            for i, j in enumerate(rest)
        ]
        boxed(headers, table, "TRAINING")


@train_app.command("kill")
def kill(job: str = JOB, ind: int = IND) -> None:
    """Stop a pending, building or running job (its processes are killed)."""
    with client() as c:
        killed = c.kill_job(job_ref(job, ind))
    success(f"Job {killed.id} successfully killed ({killed.state})")


def _print_log(
    c: Client, ref: str, kind: str, follow: bool, out: Path | None, tail: int | None
) -> None:
    from kaon.client.follow import failed, never_ran

    job = c.job_summary(ref)
    printed = follow_log(c.logs(job, build=kind == "build", follow=follow, tail=tail), out)
    if kind == "train" and not printed:
        job = c.job_summary(job.id)
        if never_ran(job):
            pointer = f"kaon train build-logs -j {job.id[:8]}"
            no_run_log(f"job {job.id[:8]}", job.state, failed(job.state), job.reason, pointer)


@train_app.command("logs")
def logs(
    job: str = JOB,
    ind: int = IND,
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the log to this file."),
    tail: int | None = TAIL,
) -> None:
    """A job's run log: `[YYYY-MM-DD HH:MM:SS] line`, trials prefixed in hyperparameter jobs.
    A job that failed before it ran has none: exit 1 with its reason and `build-logs`."""
    with client() as c:
        _print_log(c, job_ref(job, ind), "train", follow, out, tail)


@train_app.command("build-logs")
def build_logs(
    job: str = JOB,
    ind: int = IND,
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow until the job ends."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the log to this file."),
    tail: int | None = TAIL,
) -> None:
    """A job's build log: the environment lock and install, the resolver's own errors."""
    with client() as c:
        _print_log(c, job_ref(job, ind), "build", follow, out, tail)


def register(app: typer.Typer) -> None:
    from kaon.cli import trainview

    trainview.register(train_app)
    app.add_typer(train_app, name="train")
