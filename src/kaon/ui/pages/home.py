"""The workspaces overview (/ui/) and one workspace (/ui/w/<name>): recent jobs, models,
endpoints and pipelines with their states."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kaon.ui import session
from kaon.ui.render import page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    client = session.client(request)
    me = client.whoami()
    workspaces = client.list_workspaces()
    return page(request, "home/overview.html", title="Workspaces", me=me, workspaces=workspaces)


@router.get("/w/{workspace}", response_class=HTMLResponse)
def workspace(request: Request, workspace: str) -> HTMLResponse:
    client = session.client(request)
    info = client.get_workspace(workspace)
    jobs = sorted(client.list_jobs(workspace), key=lambda j: j.created, reverse=True)
    endpoints = client.list_endpoints(workspace)
    return page(
        request,
        "home/workspace.html",
        title=f"Workspace {workspace}",
        workspace=info,
        jobs=jobs[:50],
        endpoints=endpoints,
    )
