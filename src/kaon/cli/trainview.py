"""`kaon train info` (trials, metrics, models, environment) and `kaon train get` (code, data
and models of a job, laid out as kaos does: <out>/<workspace>/<job_id>/{code,data,models})."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.output import boxed, emit_json, info, progress, success
from kaon.cli.train import IND, JOB, job_ref
from kaon.cli.workspace import client
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.client import Client
    from kaon.client.models import BundleInfo, JobInfo, TrialInfo

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


def _bundle_dir(c: Client, b: BundleInfo) -> tuple[str, str, bool]:
    """(path inside the bundle, local folder name, whether the bundle has one top folder)
    for the kaos layout `<name>:<hash>`."""
    files = c.list_files(b.repo, b.commit, "/")
    visible = [f for f in files if not f.path.rsplit("/", 1)[-1].startswith(".")]
    single = len(visible) == 1 and visible[0].type == "dir"
    inner = visible[0].path if single else "/"
    return inner, f"{b.name}:{b.digest[:5]}", single


def _fetch(c: Client, repo: str, ref: str, path: str, dest: Path, label: str) -> int:
    from kaon.client import download

    size = c.stat(repo, ref, path).size
    with progress(f"Extracting {label}", size) as advance:
        files, _ = download.get_dir(c, repo, ref, path, dest, advance)
    return files


def get_cmd(
    job: str = JOB,
    ind: int = IND,
    out: Path = typer.Option(Path(), "--out_dir", "--out-dir", "-o", help="Parent folder."),
    code: bool = typer.Option(False, "--include_code", "--include-code", "-c", help="Code."),
    data: bool = typer.Option(False, "--include_data", "--include-data", "-d", help="Data."),
    model: bool = typer.Option(False, "--include_model", "--include-model", "-m", help="Models."),
    model_id: str = typer.Option(None, "--model_id", "--model-id", help="Only this model."),
) -> None:
    """Download a job's code, data and models (default: code and models) into
    <out>/<workspace>/<job_id>/{code,data,models}. Retrain from it unchanged: `kaon train
    deploy -s <job>/code -d <job>/data` gives the same bundles (it prints the command)."""
    from kaon.client import bundles

    if not (code or data or model):
        code = model = True
    with client() as c:
        found = c.get_job(job_ref(job, ind))
        root = out / found.workspace / found.id
        info(f"Extracting train bundle: {root}")
        again: list[str] = []  # the deploy that gives the same bundles again
        if code:
            inner, name, single = _bundle_dir(c, found.source)
            dest = root / "code" / name
            _fetch(c, found.source.repo, found.source.commit, inner, dest, "code")
            bundles.restore_modes(dest)
            again += ["-s", str(dest.parent if single else dest)]
        if data and found.data.files:
            inner, name, single = _bundle_dir(c, found.data)
            dest = root / "data" / name
            _fetch(c, found.data.repo, found.data.commit, inner, dest, "data")
            again += ["-d", str(dest.parent if single else dest)]
        elif data:
            info("No data bundle to extract: the job read its data over S3 (see `kaon train info`)")
        if model:
            done = [t for t in found.trials if t.model_id and t.model_commit and t.model_path]
            if model_id:
                done = [t for t in done if t.model_id and model_id in t.model_id]
            if not done:
                info("No model to extract: the job produced none (see `kaon train info`)")
            repo = f"{found.workspace}-models"
            for t in done:
                assert t.model_commit and t.model_path
                dest = root / "models" / t.model_path.strip("/")
                _fetch(c, repo, t.model_commit, t.model_path, dest, f"model {t.model_id}")
    success(f"Extracted to {root}")
    if again:
        info(f"Retrain it with `kaon train deploy {' '.join(again)}`")


def register(app: typer.Typer) -> None:
    app.command("info")(info_cmd)
    app.command("get")(get_cmd)
