"""Pipelines (docs/pipelines.md): create/update, list, inspect, delete, stop, start, run; their
jobs (named `<pipeline>@<global id>`), datums and logs; the commit set of a global id; waiting
for a commit. Pipelines are global, like shared repos, and authorized as they are
(kaon.api.access). Everything goes through the facade `Platform.pipelines`
(kaon.services.pipelines.service.PipelineService)."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from kaon.api.answers import (
    commit_info,
    datum_info,
    log_page,
    pipeline_info,
    pipeline_job_info,
)
from kaon.api.deps import platform, principal
from kaon.api.owners import forward, pipelines_leader
from kaon.api.spec import errors_doc
from kaon.core.pipelines.records import Pipeline
from kaon.core.users import Principal
from kaon.services.pipelines.service import PipelineService
from kaon.wire import (
    CommitInfo,
    CommitWait,
    DatumInfo,
    PipelineInfo,
    PipelineJobInfo,
    PipelineLogPage,
    PipelinesCreated,
)
from kaon.wire.requests import PipelineRunIn, PipelinesIn
from kaon.wiring import Platform

router = APIRouter(tags=["pipelines"])

WAIT_POLL = 30.0  # seconds one wait request holds at most: the SDK asks again


def _service(p: Platform) -> PipelineService:
    return p.pipelines


def readable_input(p: Platform, who: Principal, repo: str) -> None:
    """A pipeline may read a workspace's repo only when its author may read that workspace."""
    p.pipeline_inputs.check(who, repo)


def _info(s: PipelineService, found: Pipeline) -> PipelineInfo:
    last = s.jobs(found.name, limit=1)
    version = s.version(found.name, found.version)
    return pipeline_info(found, version, last[0].state if last else None, s.service_url(found.name))


# -- pipelines ------------------------------------------------------------------------------


@router.post("/v1/pipelines", response_model=PipelinesCreated, status_code=201)
def create_pipelines(
    body: PipelinesIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> PipelinesCreated:
    """Create pipelines from spec documents (all or none; `update` replaces existing ones,
    their datums reprocessed unless `reprocess` is false). Each spec's `transform.source`
    folder is given as the commit the client uploaded it to (`source`)."""
    s = _service(p)
    try:
        make: Any = importlib.import_module("kaon.services.pipelines.service").SpecRequest
    except ModuleNotFoundError:  # a build without pipelines: _NoPipelines refuses
        make = dict
    requests = [
        make(
            spec=one.spec,
            source_repo=one.source.repo if one.source else None,
            source_commit=one.source.commit if one.source else None,
        )
        for one in body.specs
    ]
    made = s.create(
        requests,
        who.user,
        update=body.update,
        reprocess=body.reprocess,
        readable=lambda repo: readable_input(p, who, repo),
    )
    return PipelinesCreated(
        pipelines=[_info(s, one) for one in made.pipelines], warnings=list(made.warnings)
    )


@router.get("/v1/pipelines", response_model=list[PipelineInfo])
def list_pipelines(p: Platform = Depends(platform)) -> list[PipelineInfo]:
    s = _service(p)
    return [_info(s, one) for one in s.list()]


@router.get("/v1/pipelines/{pipeline}", response_model=PipelineInfo)
def get_pipeline(
    pipeline: str, version: int | None = Query(None, ge=1), p: Platform = Depends(platform)
) -> PipelineInfo:
    """A pipeline, with its current version (or `version`: an older one's spec and code)."""
    s = _service(p)
    found = s.get(pipeline)
    last = s.jobs(pipeline, limit=1)
    return pipeline_info(
        found,
        s.version(pipeline, version),
        last[0].state if last else None,
        s.service_url(pipeline),
    )


@router.delete("/v1/pipelines/{pipeline}", status_code=204)
def delete_pipeline(
    pipeline: str, keep_repo: bool = Query(False), p: Platform = Depends(platform)
) -> None:
    """Delete a pipeline and (unless `keep_repo`) its output repo; refused while another
    pipeline reads it."""
    _service(p).delete(pipeline, keep_repo=keep_repo)


@router.post("/v1/pipelines/{pipeline}/stop", response_model=PipelineInfo)
def stop_pipeline(pipeline: str, p: Platform = Depends(platform)) -> PipelineInfo:
    """Pause it: commits to its inputs are remembered, no job starts until `start`."""
    s = _service(p)
    return _info(s, s.stop(pipeline))


@router.post("/v1/pipelines/{pipeline}/start", response_model=PipelineInfo)
def start_pipeline(pipeline: str, p: Platform = Depends(platform)) -> PipelineInfo:
    """Resume it: one job runs on the current heads if commits came while it was paused."""
    s = _service(p)
    return _info(s, s.start(pipeline))


@router.post("/v1/pipelines/{pipeline}/run", response_model=PipelineJobInfo, status_code=201)
def run_pipeline(
    pipeline: str,
    body: PipelineRunIn | None = Body(None),
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> PipelineJobInfo:
    """A job now, on the current heads of its inputs (a new global id)."""
    reprocess = body.reprocess if body is not None else False
    job = _service(p).run(pipeline, reprocess=reprocess, author=who.user)
    return pipeline_job_info(job)


@router.post("/v1/pipelines/{pipeline}/cron", response_model=list[str], status_code=201)
def run_cron(pipeline: str, p: Platform = Depends(platform)) -> list[str]:
    """Tick the pipeline's cron inputs now (as if their time had come): the ids of the tick
    commits, each the global id of the jobs it sets off."""
    return _service(p).tick(pipeline)


# -- jobs and datums ------------------------------------------------------------------------


@router.get("/v1/pipeline-jobs", response_model=list[PipelineJobInfo], responses=errors_doc(404))
def list_pipeline_jobs(
    pipeline: str | None = Query(None),
    global_id: str | None = Query(None, min_length=1),
    limit: int | None = Query(None, ge=1),
    p: Platform = Depends(platform),
) -> list[PipelineJobInfo]:
    """Pipeline jobs, newest first: of one pipeline, or every job one global id set off (404:
    no such pipeline)."""
    jobs = _service(p).jobs(pipeline, global_id, limit)
    return [pipeline_job_info(j) for j in jobs]


@router.get("/v1/pipelines/{pipeline}/jobs", response_model=list[PipelineJobInfo])
def list_jobs_of(
    pipeline: str, limit: int | None = Query(None, ge=1), p: Platform = Depends(platform)
) -> list[PipelineJobInfo]:
    s = _service(p)
    s.get(pipeline)  # 404 for a pipeline that does not exist, not an empty list
    return [pipeline_job_info(j) for j in s.jobs(pipeline, None, limit)]


@router.get("/v1/pipelines/{pipeline}/jobs/{pipeline_job}", response_model=PipelineJobInfo)
def get_job(pipeline: str, pipeline_job: str, p: Platform = Depends(platform)) -> PipelineJobInfo:
    """One job (`pipeline_job`: its global id or a unique prefix)."""
    return pipeline_job_info(_service(p).job(pipeline, pipeline_job))


@router.post("/v1/pipelines/{pipeline}/jobs/{pipeline_job}/stop", response_model=PipelineJobInfo)
def stop_job(pipeline: str, pipeline_job: str, p: Platform = Depends(platform)) -> PipelineJobInfo:
    """Kill a job: its datums stop, nothing of it is committed (KILLED)."""
    return pipeline_job_info(_service(p).kill_job(pipeline, pipeline_job))


@router.get("/v1/pipelines/{pipeline}/jobs/{pipeline_job}/datums", response_model=list[DatumInfo])
def list_datums(
    pipeline: str,
    pipeline_job: str,
    failed: bool = Query(False),
    p: Platform = Depends(platform),
) -> list[DatumInfo]:
    """The job's datums (`failed`: only those that failed)."""
    return [datum_info(d) for d in _service(p).datums(pipeline, pipeline_job, failed=failed)]


@router.post(
    "/v1/pipelines/{pipeline}/jobs/{pipeline_job}/datums/{datum}/restart",
    response_model=PipelineJobInfo,
    status_code=201,
)
def restart_datum(
    pipeline: str, pipeline_job: str, datum: str, p: Platform = Depends(platform)
) -> PipelineJobInfo:
    """Run a datum of a job again: a new job (a new global id) on the same inputs."""
    return pipeline_job_info(_service(p).restart_datum(pipeline, pipeline_job, datum))


@router.get("/v1/pipelines/{pipeline}/logs", response_model=PipelineLogPage)
def pipeline_logs(
    request: Request,
    pipeline: str,
    job: str | None = Query(None, min_length=1, description="a job's global id (or prefix)"),
    datum: str | None = Query(None, min_length=1),
    failed: bool = Query(False, description="only the lines of failed datums"),
    offset: int = Query(0, ge=0),
    p: Platform = Depends(platform),
) -> PipelineLogPage | Response:
    """Log lines from `offset` (of the pipeline's newest job, or of `job`); ask again from
    the returned offset to follow, until `done`. They are the files of the server leading
    the pipelines (forwarded there when it is another)."""
    forwarded = forward(request, p, pipelines_leader(p))
    if forwarded is not None:
        return forwarded
    page = _service(p).logs(pipeline, job, datum, failed=failed, offset=offset)
    return log_page(list(page.lines), page.offset, page.done)


# -- commits --------------------------------------------------------------------------------


@router.get("/v1/commit-sets/{global_id}", response_model=list[CommitInfo])
def commit_set(global_id: str, p: Platform = Depends(platform)) -> list[CommitInfo]:
    """The commits of one global id: the origin commit and each of its jobs' output commit."""
    return [commit_info(c) for c in _service(p).commit_set(global_id)]


@router.get("/v1/repos/{repo}/wait", response_model=CommitWait)
def wait_commit(
    repo: str,
    ref: str = Query("master"),
    timeout: float = Query(WAIT_POLL, gt=0, le=WAIT_POLL),
    p: Platform = Depends(platform),
) -> CommitWait:
    """Until `repo@ref`'s commit is finished (every job it sets off done), at most
    `timeout` seconds: `done` false then; ask again."""
    try:
        found = _service(p).wait_commit(repo, ref, timeout)
    except TimeoutError:
        return CommitWait(commit=None, done=False)
    return CommitWait(commit=commit_info(found), done=True)
