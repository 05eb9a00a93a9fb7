"""Jobs: the live list, one job (inputs, state timeline, logs that follow, build logs,
environment, outputs), searches' trials table and charts, kill (H5).

Logs show their last LOG_TAIL lines first ("Show all" for the rest). Live parts poll with
htmx and stop when there is nothing left to follow: the list while a job is unfinished, a
log fragment from its last byte offset until the API says `finished`, the job's state (a
change reloads the page, so a finished job shows its outputs and charts).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kaon.client.follow import never_ran
from kaon.client.models import JobInfo
from kaon.core.errors import KaonError
from kaon.ui import session
from kaon.ui.pages import searchview
from kaon.ui.render import page, templates

router = APIRouter()
LOG_KINDS = ("train", "build")
LOG_TAIL = 500  # lines of each log the job page shows first (then "Show all")


def _lock_lines(env: dict[str, Any]) -> list[str]:
    """The environment lock's pinned packages, one `name==version` a line."""
    lock = env.get("lock") or ""
    lines = lock.splitlines() if isinstance(lock, str) else [str(x) for x in lock]
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _split(jobs: list[JobInfo]) -> tuple[list[JobInfo], list[JobInfo]]:
    """`kaon train list`'s two tables, in its order (so `ind` is what `-i` takes): BUILDING
    (never ran) and TRAINING."""
    return [j for j in jobs if never_ran(j)], [j for j in jobs if not never_ran(j)]


def _jobs_context(request: Request, workspace: str) -> dict[str, Any]:
    jobs = session.client(request).list_jobs(workspace, trials=0)  # counted, none sent
    building, training = _split(jobs)
    live = any(not j.state.finished for j in jobs)
    return {"workspace": workspace, "building": building, "training": training, "live": live}


@router.get("/w/{workspace}/jobs", response_class=HTMLResponse)
def jobs(request: Request, workspace: str) -> HTMLResponse:
    session.client(request).get_workspace(workspace)  # a 404 page for a wrong workspace
    context = _jobs_context(request, workspace)
    return page(request, "jobs/list.html", title=f"Jobs of {workspace}", **context)


@router.get("/w/{workspace}/jobs/rows", response_class=HTMLResponse)
def jobs_rows(request: Request, workspace: str) -> HTMLResponse:
    """The list's tables alone (htmx refreshes them while a job is unfinished)."""
    context = _jobs_context(request, workspace)
    return templates.TemplateResponse(request, "jobs/rows.html", context)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job(
    request: Request,
    job_id: str,
    sort: str = "index",
    order: str = "asc",
    page_no: int = Query(1, alias="page"),
    metric: str = "",
    log: str = "tail",
) -> HTMLResponse:
    client = session.client(request)
    info = client.job_summary(job_id)
    search = searchview.view(client, info.id, sort, order, page_no, metric)
    trials = search.rows
    tail = None if log == "all" else LOG_TAIL  # ?log=all: the whole log ("Show all")
    logs = {kind: client.job_log(info.id, kind, tail=tail) for kind in LOG_KINDS}
    files: dict[int, list[str]] = {}
    if info.state.finished and not info.hyperopt and any(t.model_id for t in trials):
        try:
            outputs = client.job_outputs(info.id)
        except KaonError:  # outputs of a job whose model commits were deleted
            outputs = {}
        files = {t["index"]: sorted(t.get("files", {})) for t in outputs.get("trials", [])}
    return page(
        request,
        "jobs/job.html",
        title=f"Job {info.id[:12]}",
        job=info,
        trials=trials,
        logs=logs,
        tail=LOG_TAIL,
        files=files,
        lock=_lock_lines(info.env),
        search=search if info.hyperopt else None,
        models_repo=f"{info.workspace}-models",
    )


@router.get("/jobs/{job_id}/log", response_class=HTMLResponse)
def job_log(request: Request, job_id: str, kind: str = "train", offset: int = 0) -> HTMLResponse:
    """What the log gained since `offset`, and the poller for the next part (none once the
    API says the log is finished): htmx swaps it in place of the previous poller."""
    if kind not in LOG_KINDS:
        kind = "train"
    text, end, finished = session.client(request).job_logs(job_id, kind, max(0, offset))
    return templates.TemplateResponse(
        request,
        "jobs/log.html",
        {"job_id": job_id, "kind": kind, "text": text, "offset": end, "finished": finished},
    )


@router.get("/jobs/{job_id}/state")
def job_state(request: Request, job_id: str, was: str = "") -> Response:
    """204 while the job's state is still `was`; else htmx reloads the page (HX-Refresh)."""
    info = session.client(request).get_job(job_id)
    if str(info.state) == was:
        return Response(status_code=204)
    return Response(status_code=200, headers={"HX-Refresh": "true"})


@router.post("/jobs/{job_id}/kill")
def kill(request: Request, job_id: str) -> Response:
    """The Kill button (a POST form, confirmed in the browser): then back to the job."""
    killed = session.client(request).kill_job(job_id)
    return RedirectResponse(f"/ui/jobs/{killed.id}", status_code=303)
