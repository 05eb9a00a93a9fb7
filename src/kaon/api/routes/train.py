"""Training jobs: deploy, list, info, logs, kill."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from kaon.api.access import visible_workspaces
from kaon.api.answers import job_info
from kaon.api.deps import platform, principal
from kaon.api.owners import forward
from kaon.api.trialspage import trials_page
from kaon.core.envvars import check_variables
from kaon.core.errors import InvalidInput
from kaon.core.hyper import make_hyper
from kaon.core.jobs import Bundle, Resources, model_id
from kaon.core.units import parse_duration, parse_memory
from kaon.core.users import Principal
from kaon.wire import JobInfo, LogOut, TrialsPage
from kaon.wire.requests import TrainIn
from kaon.wiring import Platform

router = APIRouter(tags=["train"])


@router.post("/v1/workspaces/{name}/train", response_model=JobInfo, status_code=201)
def deploy(
    name: str, body: TrainIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> JobInfo:
    """Submit a training job in workspace `name`; the caller is its author (and owner: the
    job acts as them, in this workspace only)."""

    def bundle(kind: str, given: object) -> Bundle | None:
        if given is None:
            return None
        b = body.source if kind == "source" else body.data
        assert b is not None
        return p.workspaces.bundle(name, kind, b.branch, b.ref or b.branch, who.user)

    hyper = None
    if body.hyper is not None:
        h = body.hyper
        hyper = make_hyper(h.space, h.search, h.trials, h.objective, h.direction)
    resources = Resources(
        cpu=body.cpu,
        memory=parse_memory(body.memory) if body.memory else None,
        timeout=parse_duration(body.timeout) if body.timeout else None,
        parallelism=body.parallelism,
        sandbox=body.sandbox,
    )
    job, trials = p.training.deploy(
        name,
        who.user,
        bundle("source", body.source),
        bundle("data", body.data),
        hyper,
        resources,
        None if body.env is None else check_variables(body.env),
    )
    return job_info(job, trials)


@router.get("/v1/workspaces/{name}/jobs", response_model=list[JobInfo])
def list_jobs(
    name: str,
    limit: int | None = Query(None, ge=1, description="the newest `limit` jobs, newest first"),
    trials: int | None = Query(
        None, ge=0, description="at most this many trials a job: those that finished last"
    ),
    p: Platform = Depends(platform),
) -> list[JobInfo]:
    jobs = p.training.jobs(name, limit=limit)
    if trials is None:  # every trial of every job
        return [job_info(j, p.training.trials(j)) for j in jobs]
    tally = p.training.tally(jobs)  # counted in one read: no trial loaded but those kept
    return [
        job_info(
            j,
            p.training.last_trials(j, trials),
            process=tally[j.id].process,
            count=tally[j.id].count,
            started=tally[j.id].started,
        )
        for j in jobs
    ]


@router.get("/v1/jobs/{job}", response_model=JobInfo)
def get_job(
    job: str,
    trials: bool = Query(
        True, description="false: leave the trials out (GET .../trials pages them)"
    ),
    p: Platform = Depends(platform),
) -> JobInfo:
    found = p.training.get(job)
    if trials:
        return job_info(found, p.training.trials(found))
    tally = p.training.tally([found])[found.id]
    return job_info(found, [], process=tally.process, count=tally.count, started=tally.started)


@router.get("/v1/jobs/{job}/trials", response_model=TrialsPage)
def job_trials(
    job: str,
    sort: str = Query(
        "index", description="index, state, started, duration, param:<name>, metric:<name>"
    ),
    order: Literal["asc", "desc"] = Query("asc"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=0, le=1000),
    metric: str | None = Query(None, description="judge the best on it (default: the objective)"),
    points: bool = Query(False, description="also every trial's point for charts"),
    p: Platform = Depends(platform),
) -> TrialsPage:
    """One page of a job's trials, sorted; its best trial; its points for charts."""
    found = p.training.get(job)
    return trials_page(
        found,
        p.training.trials(found),
        sort=sort,
        order=order,
        offset=offset,
        limit=limit,
        metric=metric,
        points=points,
    )


@router.delete("/v1/jobs/{job}", response_model=JobInfo)
def kill_job(job: str, request: Request, p: Platform = Depends(platform)) -> JobInfo | Response:
    """Kill a job: through the server that runs it (forwarded there when it is another)."""
    found = p.training.get(job)
    if not found.state.finished:
        forwarded = forward(request, p, p.training.runs_on(found.id))
        if forwarded is not None:
            return forwarded
    killed = p.training.kill(found.id)
    return job_info(killed, p.training.trials(killed))


@router.get("/v1/jobs/{job}/logs", response_model=LogOut)
def job_logs(
    request: Request,
    job: str,
    kind: Literal["train", "build"] = Query("train"),
    offset: int = Query(0, ge=0),
    tail: int | None = Query(
        None, ge=0, description="only the last `tail` lines (then follow from `offset`)"
    ),
    p: Platform = Depends(platform),
) -> LogOut | Response:
    """The job's log from byte `offset`, or its last `tail` lines (read back from the end);
    poll with the returned offset to follow it. The live log of a job another server runs
    is that server's (forwarded there)."""
    if tail is not None and offset:
        raise InvalidInput(
            "give either `offset` (read from there) or `tail` (the last lines), not both"
        )
    found = p.training.get(job)
    forwarded = forward(request, p, p.training.runs_on(found.id))
    if forwarded is not None:
        return forwarded
    start = offset
    if tail is None:
        data, end = p.training.read_log(found, kind, offset)
    else:
        data, start, end = p.training.read_log_tail(found, kind, tail)
    finished = found.state.finished and len(data) == 0
    text = data.decode("utf-8", "replace")
    return LogOut(text=text, offset=end, finished=finished, start=start)


@router.get("/v1/workspaces/{name}/models/{model}", response_model=JobInfo)
def get_model(
    name: str, model: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> JobInfo:
    """The job of workspace `name` that produced a model, with that model's trial only
    (404 naming the workspaces the caller may see that have it when `name` does not)."""
    trial = p.training.model(name, model_id(model), visible_workspaces(p, who))
    job = p.training.get(trial.job)
    return job_info(job, [trial])
