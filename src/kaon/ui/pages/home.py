"""The workspaces overview (/ui/) and one workspace (/ui/w/<name>): recent jobs, models,
endpoints and pipelines with their states. Both refresh themselves: htmx asks the same URL
again every few seconds with an HX-Request header and swaps in the fragment it gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kaon.client import Client, EndpointInfo, JobInfo, PipelineInfo, TrialInfo, WorkspaceInfo
from kaon.ui import session
from kaon.ui.render import page

router = APIRouter()

RECENT = 5  # items of each kind per workspace on the overview
MORE = 50  # on a workspace's own page


@dataclass(frozen=True)
class Model:
    """A trial that produced a model, with the job it came from."""

    job: JobInfo
    trial: TrialInfo

    @property
    def id(self) -> str:
        return self.trial.model_id or ""

    @property
    def metrics(self) -> list[tuple[str, Any]]:
        return list(self.trial.metrics.items())[:3]


@dataclass
class Space:
    info: WorkspaceInfo
    jobs: list[JobInfo] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    endpoints: list[EndpointInfo] = field(default_factory=list)
    total_jobs: int = 0
    total_endpoints: int = 0


def _space(client: Client, info: WorkspaceInfo, size: int) -> Space:
    # the newest jobs only, each with its last trials (a search of 1,000 trials is not sent)
    jobs = client.list_jobs(info.name, limit=size, trials=size)
    models = [
        Model(job, trial)
        for job in jobs
        for trial in sorted(job.trials, key=lambda t: t.finished or 0, reverse=True)
        if trial.model_id
    ]
    endpoints = sorted(client.list_endpoints(info.name), key=lambda e: e.created, reverse=True)
    models.sort(key=lambda m: m.trial.finished or 0, reverse=True)
    return Space(info, jobs, models[:size], endpoints[:size], info.jobs, len(endpoints))


def _pipelines(client: Client) -> list[PipelineInfo]:
    return sorted(client.list_pipelines(), key=lambda p: p.name)


def _live(request: Request) -> bool:
    """htmx's refresh of the page (only the part that changes is sent back)."""
    return request.headers.get("hx-request") == "true"


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    client = session.client(request)
    spaces = [_space(client, w, RECENT) for w in client.list_workspaces()]
    return page(
        request,
        "home/overview-live.html" if _live(request) else "home/overview.html",
        title="Workspaces",
        spaces=spaces,
        pipelines=_pipelines(client),
        size=RECENT,
    )


@router.get("/w/{workspace}", response_class=HTMLResponse)
def workspace(request: Request, workspace: str) -> HTMLResponse:
    client = session.client(request)
    space = _space(client, client.get_workspace(workspace), MORE)
    return page(
        request,
        "home/workspace-live.html" if _live(request) else "home/workspace.html",
        title=f"Workspace {workspace}",
        space=space,
        size=MORE,
    )
