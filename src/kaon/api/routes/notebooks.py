"""Notebooks: deploy, list, get, logs, build logs, save, kill (JupyterLab itself answers
through the gateway at /<name>/lab: kaon.api.notebookgate). With several servers, what needs
a live notebook another server runs — its readiness, logs, build log, save, kill — is asked
of that server (kaon.services.notebookplaces); one whose server is gone is shown not ready,
and what needs its folder answers 503 saying so (a kill still ends it)."""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import APIRouter, Depends, Query, Request, Response

from kaon.api.access import visible_graph
from kaon.api.answers import provenance_info
from kaon.api.deps import platform, principal
from kaon.api.owners import FORWARDED, forward
from kaon.core.errors import BackendUnavailable
from kaon.core.notebooks import Notebook, NotebookState
from kaon.core.units import parse_memory
from kaon.core.users import Principal
from kaon.services.notebooks import Saved
from kaon.services.provenance import notebook_node_id
from kaon.wire import LogOut, ProvenanceInfo
from kaon.wire.notebooks import NotebookDeployed, NotebookInfo, NotebookKilled, NotebookSaved
from kaon.wire.requests import NotebookIn, NotebookSaveIn
from kaon.wiring import Platform

router = APIRouter(tags=["notebooks"])
log = logging.getLogger("kaon.notebooks")
ASK_TIMEOUT = 10.0  # s the server running a notebook has to describe it (list, get)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/").removeprefix("http://")


def notebook_out(p: Platform, n: Notebook, base: str) -> NotebookInfo:
    gate = p.notebooks.gate(n.name) if n.live else None
    status = p.notebooks.status(n.name) if n.live else None
    return NotebookInfo(
        name=n.name,
        workspace=n.workspace,
        state=n.state.value,
        created=n.created,
        author=n.author,
        url=f"{base}/{n.name}/lab",
        source=n.source.path,
        source_branch=n.source.branch,
        data=n.data.path if n.data else None,
        build=n.build,
        ready=gate is not None and gate.socket is not None,
        restarts=status.restarts if status else 0,
        unsaved=p.notebooks.unsaved(n),
        saved=n.saved,
        reason=n.reason,
        cpu=n.cpu,
        memory=n.memory,
        limits=p.notebooks.limits(n),
        reads=list(n.reads),
    )


def _info(request: Request, p: Platform, n: Notebook) -> NotebookInfo:
    """`n` as this server shows it; one another server runs as that server shows it (its
    readiness, restarts, unsaved work), at this server's URL."""
    base = _base(request)
    away = p.notebooks.elsewhere(n)
    if away is None:
        return notebook_out(p, n, base)
    if not away.gone and not request.headers.get(FORWARDED):
        headers = {FORWARDED: p.cluster.id}
        auth = request.headers.get("authorization")
        if auth:
            headers["Authorization"] = auth
        url = f"{away.url}/v1/workspaces/{n.workspace}/notebooks/{n.name}"
        import httpx  # httpx (~40 ms) is imported on first use: no part of a server's start

        try:
            answer = httpx.get(url, headers=headers, timeout=ASK_TIMEOUT)
            if answer.status_code == 200:
                theirs = NotebookInfo.from_doc(answer.json())
                return replace(theirs, url=f"{base}/{n.name}/lab")
        except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
            log.warning("server %s did not describe notebook %s: %s", away.url, n.name, exc)
    why = away.gone or f"its server {away.url} did not answer: retry"
    return replace(notebook_out(p, n, base), ready=False, reason=why)


def _owner(
    request: Request, p: Platform, n: Notebook, body: object = None, gone_ok: bool = False
) -> Response | None:
    """The answer of the server running `n` when another one does (None: answer here); a
    notebook no longer live: of the live server that ran it (`logs`: on its disk)."""
    away = p.notebooks.elsewhere(n)
    if away is None and not n.live and not gone_ok:
        return forward(request, p, p.notebooks.kept_by(n), body)
    if away is None or (away.gone and gone_ok):
        return None
    if away.gone:
        raise BackendUnavailable(away.gone)
    answer = forward(request, p, away.url, body)
    if answer is None:
        raise BackendUnavailable(
            f"notebook {n.name} runs on server {away.url}, which did not answer: retry"
        )
    return answer


def _saved(p: Platform, s: Saved, base: str) -> NotebookSaved:
    return NotebookSaved(notebook_out(p, s.notebook, base), s.repo, s.branch, s.commit, s.path)


@router.post("/v1/workspaces/{name}/notebooks", response_model=NotebookDeployed, status_code=201)
def deploy(
    name: str,
    body: NotebookIn,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> NotebookDeployed:
    """Start a JupyterLab on a notebook bundle; its token is in this answer only."""
    src = body.source
    source = p.workspaces.bundle(name, "serve", src.branch, src.ref or src.branch, who.user)
    data = None
    if body.data is not None:
        d = body.data
        data = p.workspaces.bundle(name, "data", d.branch, d.ref or d.branch, who.user)
    done = p.notebooks.deploy(
        name,
        who.user,
        source,
        data,
        body.name,
        body.cpu,
        parse_memory(body.memory) if body.memory else None,
    )
    return NotebookDeployed(notebook_out(p, done.notebook, _base(request)), done.token)


@router.get("/v1/workspaces/{name}/notebooks", response_model=list[NotebookInfo])
def list_notebooks(
    name: str, request: Request, p: Platform = Depends(platform)
) -> list[NotebookInfo]:
    return [_info(request, p, n) for n in p.notebooks.notebooks(name)]


@router.get("/v1/workspaces/{name}/notebooks/{notebook}", response_model=NotebookInfo)
def get_notebook(
    name: str, notebook: str, request: Request, p: Platform = Depends(platform)
) -> NotebookInfo:
    return _info(request, p, p.notebooks.get(notebook, name))


@router.get("/v1/workspaces/{name}/notebooks/{notebook}/logs", response_model=LogOut)
def notebook_logs(
    name: str,
    notebook: str,
    request: Request,
    offset: int = Query(0, ge=0),
    p: Platform = Depends(platform),
) -> LogOut | Response:
    found = p.notebooks.get(notebook, name)
    owner = _owner(request, p, found)
    if owner is not None:
        return owner
    data, end = p.notebooks.logs(found, offset)
    finished = found.state is NotebookState.KILLED and not data
    return LogOut(text=data.decode("utf-8", "replace"), offset=end, finished=finished)


@router.get("/v1/workspaces/{name}/notebook-builds/{build}/logs", response_model=LogOut)
def build_logs(
    name: str,
    build: str,
    request: Request,
    offset: int = Query(0, ge=0),
    p: Platform = Depends(platform),
) -> LogOut | Response:
    from kaon.services.joblog import read_from

    found, path = p.notebooks.build_log(name, build)
    owner = _owner(request, p, found)
    if owner is not None:
        return owner
    data, end = read_from(path, offset)
    finished = found.state is not NotebookState.BUILDING and not data
    return LogOut(text=data.decode("utf-8", "replace"), offset=end, finished=finished)


@router.post("/v1/workspaces/{name}/notebooks/{notebook}/save", response_model=NotebookSaved)
def save(
    name: str,
    notebook: str,
    body: NotebookSaveIn,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> NotebookSaved | Response:
    """Commit the notebook's working folder to its bundle branch of the source repo."""
    owner = _owner(request, p, p.notebooks.get(notebook, name), body.model_dump())
    if owner is not None:
        return owner
    return _saved(
        p, p.notebooks.save(notebook, who.user, body.message, body.outputs), _base(request)
    )


@router.delete("/v1/workspaces/{name}/notebooks/{notebook}", response_model=NotebookKilled)
def kill(
    name: str, notebook: str, request: Request, p: Platform = Depends(platform)
) -> NotebookKilled | Response:
    """Stop it; its working folder is committed first to the branch `<name>-last` (by the
    server running it; one whose server is gone is ended, its folder not kept)."""
    owner = _owner(request, p, p.notebooks.get(notebook, name), gone_ok=True)
    if owner is not None:
        return owner
    found, kept = p.notebooks.kill(notebook, name)
    base = _base(request)
    return NotebookKilled(notebook_out(p, found, base), _saved(p, kept, base) if kept else None)


@router.get("/v1/workspaces/{name}/notebooks/{notebook}/provenance", response_model=ProvenanceInfo)
def provenance(
    name: str, notebook: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> ProvenanceInfo:
    """What the notebook used (its bundles, environment, the data its S3 key read) and the
    code commits it saved; nodes of workspaces the caller may not read are left out."""
    found = p.notebooks.get(notebook, name)
    graph = visible_graph(p, who, p.notebooks.provenance(notebook, name))
    return provenance_info(graph, notebook_node_id(found), f"notebook {notebook}")
