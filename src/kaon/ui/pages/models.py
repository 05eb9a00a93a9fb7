"""Models: metrics, files, the job that made them, the endpoints serving them; compare two or
more (H5).

A model is a trial's output (`Client.get_model`: its job with that trial only). Compare puts
models side by side, row by row (metrics, hyperparameters, data, code, environment, output
files by content hash), and marks the rows that differ; for two models whose data or code
commits differ it lists the changed files (`Client.diff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from kaon.client import Client
from kaon.client.models import Change, JobInfo, TrialInfo
from kaon.core.errors import InvalidInput, KaonError
from kaon.core.trialorder import duration
from kaon.ui import session
from kaon.ui.render import page

router = APIRouter()
MAX_COMPARED = 10
MAX_CHANGES = 50


@dataclass(frozen=True)
class Row:
    """One compared property: its value per model, and whether they differ."""

    group: str
    name: str
    values: list[Any]

    @property
    def differs(self) -> bool:
        return any(v != self.values[0] for v in self.values[1:])


def _trial(job: JobInfo) -> TrialInfo:
    return job.trials[0]


def _files(
    client: Client, job: JobInfo, seen: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """The model's output files and their content hashes (empty when they are gone), that
    trial's only (a search's 1,000 models are not walked); `seen` keeps what was asked."""
    index = _trial(job).index
    seen = {} if seen is None else seen
    key = f"{job.id}/{index}"
    if key not in seen:
        try:
            seen[key] = client.job_outputs(job.id, trials=[index])
        except KaonError:
            seen[key] = {}
    outputs = seen[key]
    for trial in outputs.get("trials", []):
        if trial.get("index") == index:
            return dict(trial.get("files", {}))
    return {}


@router.get("/w/{workspace}/models/{model_id}", response_class=HTMLResponse)
def model(request: Request, workspace: str, model_id: str) -> HTMLResponse:
    client = session.client(request)
    job = client.get_model(workspace, model_id)
    trial = _trial(job)
    endpoints = [e for e in client.list_endpoints(workspace) if e.model_id == trial.model_id]
    return page(
        request,
        "models/model.html",
        title=f"Model {trial.model_id}",
        workspace=workspace,
        job=job,
        trial=trial,
        files=sorted(_files(client, job).items()),
        endpoints=endpoints,
        models_repo=f"{job.workspace}-models",
    )


def _rows(client: Client, jobs: list[JobInfo]) -> list[Row]:
    trials = [_trial(j) for j in jobs]
    rows: list[Row] = []
    for name in sorted({k for t in trials for k in t.metrics}):
        rows.append(Row("metrics", name, [t.metrics.get(name) for t in trials]))
    for name in sorted({k for t in trials for k in t.params}):
        rows.append(Row("hyperparameters", name, [t.params.get(name) for t in trials]))
    for kind in ("data", "source"):
        bundles = [getattr(j, kind) for j in jobs]
        rows.append(Row(kind, "bundle", [b.path for b in bundles]))
        rows.append(Row(kind, "commit", [b.commit for b in bundles]))
    rows.append(Row("environment", "lock", [j.env.get("lock_id") for j in jobs]))
    rows.append(Row("environment", "python", [j.env.get("python") for j in jobs]))
    rows.append(Row("job", "id", [j.id for j in jobs]))
    rows.append(Row("job", "duration", [duration(t) for t in trials]))
    seen: dict[str, dict[str, Any]] = {}
    files = [_files(client, j, seen) for j in jobs]
    for name in sorted({f for each in files for f in each}):
        rows.append(Row("files", name, [(each.get(name) or "")[:12] or None for each in files]))
    return rows


def _changes(client: Client, jobs: list[JobInfo]) -> dict[str, list[Change]]:
    """Files that differ between the first two models' data and code commits."""
    out: dict[str, list[Change]] = {}
    if len(jobs) != 2:
        return out
    for kind in ("data", "source"):
        old, new = getattr(jobs[0], kind), getattr(jobs[1], kind)
        if old.commit != new.commit and old.repo == new.repo:
            try:
                out[kind] = client.diff(new.repo, new.commit, old.commit)[:MAX_CHANGES]
            except KaonError:
                continue
    return out


@router.get("/w/{workspace}/compare", response_class=HTMLResponse)
def compare(
    request: Request, workspace: str, m: list[str] = Query(default_factory=list)
) -> HTMLResponse:
    ids = list(dict.fromkeys(x.strip() for x in m if x.strip()))
    if len(ids) < 2:
        raise InvalidInput(
            "compare needs two or more models: pick them on a search's trials table "
            f"(or /ui/w/{workspace}/compare?m=<model id>&m=<model id>)"
        )
    if len(ids) > MAX_COMPARED:
        raise InvalidInput(f"compare at most {MAX_COMPARED} models at once (got {len(ids)})")
    client = session.client(request)
    jobs = [client.get_model(workspace, model_id) for model_id in ids]
    return page(
        request,
        "models/compare.html",
        title=f"Compare {len(jobs)} models",
        workspace=workspace,
        jobs=jobs,
        trials=[_trial(j) for j in jobs],
        rows=_rows(client, jobs),
        changes=_changes(client, jobs),
    )
