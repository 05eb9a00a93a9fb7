"""`kaon train info` (trials, metrics, models, environment) and `kaon train get` (code, data
and models of a job, laid out as kaos does: <out>/<workspace>/<job_id>/{code,data,models})."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.output import boxed, emit_json, info, success
from kaon.cli.train import IND, JOB, job_ref
from kaon.cli.workspace import client
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.client.models import JobInfo, TrialInfo

PAGE = 10


def _score(t: TrialInfo, metric: str) -> float | None:
    value = t.metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _params(t: TrialInfo) -> str:
    if not t.params:
        return "None"
    return "\n".join(f"{k}={v}" for k, v in t.params.items())


def show_info(job: JobInfo, sort_by: str | None, page: int, ascending: bool) -> None:
    trials = list(job.trials)
    metrics = sorted({k for t in trials for k in t.metrics})
    if sort_by is not None:
        if sort_by not in metrics:
            raise InvalidInput(
                f"metric {sort_by!r} is not available: use one of {', '.join(metrics) or 'none'}"
            )
        scored = [t for t in trials if _score(t, sort_by) is not None]
        scored.sort(key=lambda t: _score(t, sort_by) or 0.0, reverse=not ascending)
        trials = scored + [t for t in trials if _score(t, sort_by) is None]
    pages = max(1, math.ceil(len(trials) / PAGE))
    if not 0 <= page < pages:
        raise InvalidInput(f"page {page} does not exist: pages 0 to {pages - 1}")
    env = job.env
    plat = env.get("platform", {})
    typer.echo(f"    Job ID: {job.id}")
    typer.echo(f"    Process time: {round(job.process_time)}s")
    typer.echo(f"    State: {job.state}")
    if job.reason:
        typer.echo(f"    Reason: {job.reason}")
    if env.get("lock_id"):
        typer.echo(f"    Environment: {str(env['lock_id'])[:12]} (python {env.get('python')})")
    if plat:
        typer.echo(f"    Platform: {plat.get('os')}, {plat.get('cpu')}, {plat.get('cpus')} CPUs")
        threads = ", ".join(f"{k}={v}" for k, v in sorted(plat.get("env", {}).items()))
        typer.echo(f"    Run settings: {threads}")
    if env.get("memory_limit"):
        typer.echo(f"    Memory limit: {env['memory_limit']}")
    if job.variables:
        given = ", ".join(f"{k}={v}" for k, v in job.variables.items())
        typer.echo(f"    Variables (--env): {given}")
    if not job.data.files:
        typer.echo("    Data: none (the job reads over S3: see `kaon train provenance`)")
    typer.echo(f"    Available metrics: {metrics}")
    typer.echo("")
    typer.echo(f"    Page count: {pages}")
    typer.echo(f"    Page ID: {page}")
    headers = ["ind", "Code", "Data", "Model ID", "Hyperparams", "State"]
    if sort_by:
        headers.append("Score")
    rows: list[list[Any]] = []
    for t in trials[page * PAGE : (page + 1) * PAGE]:
        row: list[Any] = [
            t.index,
            f"Author: {job.source.author}\nPath: {job.source.path}",
            f"Author: {job.data.author}\nPath: {job.data.path}",
            t.model_id or "-",
            _params(t),
            t.state if not t.reason else f"{t.state}\n{t.reason[:40]}",
        ]
        if sort_by:
            score = _score(t, sort_by)
            row.append("-" if score is None else f"{score:.4f}")
        rows.append(row)
    boxed(headers, rows)


def info_cmd(
    job: str = JOB,
    ind: int = IND,
    sort_by: str = typer.Option(None, "--sort_by", "--sort-by", "-s", help="Metric to sort by."),
    page: int = typer.Option(0, "--page_id", "--page-id", "-p", help="Page (10 trials each)."),
    ascending: bool = typer.Option(False, "--ascending", help="Lowest score first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A job's state, environment and trials: Code | Data | Model ID | Hyperparams [| Score]."""
    with client() as c:
        found = c.get_job(job_ref(job, ind))
    if as_json:
        emit_json(found)
        return
    show_info(found, sort_by, page, ascending)


def get_cmd(
    job: str = JOB,
    ind: int = IND,
    out: Path = typer.Option(Path(), "--out_dir", "--out-dir", "-o", help="Parent folder."),
    code: bool = typer.Option(False, "--include_code", "--include-code", "-c", help="Code."),
    data: bool = typer.Option(False, "--include_data", "--include-data", "-d", help="Data."),
    model: bool = typer.Option(False, "--include_model", "--include-model", "-m", help="Models."),
    model_id: str = typer.Option(None, "--model_id", "--model-id", help="Only this model."),
    form: str = typer.Option(
        "kaon",
        "--format",
        help="kaon (the files as trained) or mlflow: each model (--model-id: that one; no "
        "-j needed) as an MLflow model folder <out>/<workspace>/<job>/mlflow/<model> that "
        "mlflow.pyfunc.load_model and `mlflow models serve -m` load (a pickled scikit-learn "
        "model/model.pkl, requirements from the job's locked environment).",
    ),
) -> None:
    """Download a job's code, data and models (default: code and models) into
    <out>/<workspace>/<job_id>/{code,data,models}. Retrain from it unchanged: `kaon train
    deploy -s <job>/code -d <job>/data` gives the same bundles (it prints the command)."""
    from kaon.cli.output import REPORTER

    if form not in ("kaon", "mlflow"):
        raise InvalidInput(f"--format {form!r}: use kaon or mlflow")
    if form == "mlflow":
        _export_mlflow(job, ind, out, model_id)
        return
    if not (code or data or model):
        code = model = True
    with client() as c:
        got = c.download_job(
            job_ref(job, ind),
            out,
            code=code,
            data=data,
            models=model,
            model_id=model_id,
            reporter=REPORTER,
        )
    success(f"Extracted to {got.root}")
    again = (["-s", str(got.code)] if got.code else []) + (
        ["-d", str(got.data)] if got.data else []
    )
    if again:
        info(f"Retrain it with `kaon train deploy {' '.join(again)}`")


def _export_mlflow(job: str | None, ind: int | None, out: Path, model_id: str | None) -> None:
    from kaon.client import state
    from kaon.client.mlflowexport import export

    with client() as c:
        if model_id is not None and job is None and ind is None:
            found = c.get_model(state.require_workspace(), model_id)
        else:
            found = c.get_job(job_ref(job, ind))
        models = [t.model_id for t in found.trials if t.model_id]
        if model_id is not None:
            models = [m for m in models if model_id in m]
        if not models:
            raise InvalidInput(f"job {found.id} has no model{' ' + model_id if model_id else ''}")
        for m in models:
            dest = out / found.workspace / found.id / "mlflow" / m.rsplit(":", 1)[-1]
            export(c, found.workspace, m, dest)
            success(f"MLflow model {m}: {dest}")
        info(f"Load it with mlflow.pyfunc.load_model('{dest}') or `mlflow models serve -m {dest}`")


def register(app: typer.Typer) -> None:
    app.command("info")(info_cmd)
    app.command("get")(get_cmd)
