"""Pipelines: the DAG with each stage's last job and progress, jobs per global id, datums with
logs (H6).

    /ui/pipelines                                  every pipeline (as `kaon list pipeline`), the DAG
    /ui/pipelines/<name>[?job=<id>][&datum=<id>]   one: its part of the DAG, its jobs (as
                                                   `kaon list job -p`), one job's datums (failed
                                                   first) and logs, the jobs of its global id

The DAG is Graphviz's SVG (kaon.ui.graphviz): repos as cylinders, pipelines as boxes coloured
by their last job's state with its PROGRESS; each links to its page. A pipeline's page draws
the pipelines connected to it (upstream and downstream), at most MAX_STAGES.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from kaon.client import Client
from kaon.client.models import DatumInfo, PipelineInfo, PipelineJobInfo
from kaon.core.errors import KaonError
from kaon.core.pipelines.records import DatumState, JobState
from kaon.ui import graphviz, session
from kaon.ui.graphviz import dot_str, link
from kaon.ui.render import page

router = APIRouter()
MAX_STAGES = 60  # pipelines drawn in one DAG (their last jobs are looked up one by one)
JOBS_SHOWN = 50
RECENT_JOBS = 200  # newest jobs of all pipelines: the DAG's last jobs, without a call per stage
DATUMS_SHOWN = 500
# failed datums first, then those not finished, then the rest
_DATUM_ORDER = {DatumState.FAILED: 0, DatumState.RECOVERED: 1, DatumState.RUNNING: 2}
_DATUM_ORDER |= {DatumState.PENDING: 3, DatumState.SUCCESS: 4, DatumState.SKIPPED: 5}
_FILL = {"success": "#dcf3e0", "failure": "#fde2e1", "killed": "#eeeeee", "unrunnable": "#fde2e1"}


@router.get("/pipelines", response_class=HTMLResponse)
def pipelines(request: Request) -> HTMLResponse:
    client = session.client(request)
    found = sorted(client.list_pipelines(), key=lambda p: p.name)
    drawn = found[:MAX_STAGES]
    drawing, problem = _draw(client, drawn, "") if drawn else (None, "")
    return page(
        request,
        "pipelines/list.html",
        title="Pipelines",
        pipelines=found,
        drawing=drawing,
        problem=problem,
        cut=len(found) - len(drawn),
    )


@router.get("/pipelines/{name}", response_class=HTMLResponse)
def pipeline(
    request: Request, name: str, job: str | None = None, datum: str | None = None
) -> HTMLResponse:
    client = session.client(request)
    info = client.inspect_pipeline(name)
    everyone = {p.name: p for p in client.list_pipelines()}
    everyone[info.name] = info
    stages = connected(everyone, info.name, MAX_STAGES)
    drawing, problem = _draw(client, [everyone[s] for s in stages], info.name)
    jobs = client.list_pipeline_jobs(pipeline=info.name, limit=JOBS_SHOWN)
    chosen: PipelineJobInfo | None = None
    if job:
        chosen = client.inspect_pipeline_job(info.name, job)
    elif jobs:
        chosen = jobs[0]
    context: dict[str, Any] = {"job": chosen, "siblings": [], "datums": [], "logs": [], "about": ""}
    if chosen is not None:
        context |= _job_context(client, info.name, chosen, datum)
    return page(
        request,
        "pipelines/pipeline.html",
        title=f"Pipeline {info.name}",
        info=info,
        drawing=drawing,
        problem=problem,
        cut=len(connected(everyone, info.name, len(everyone))) - len(stages),
        jobs=jobs,
        label=lambda state: JobState(state).label,
        **context,
    )


def _job_context(
    client: Client, name: str, job: PipelineJobInfo, datum: str | None
) -> dict[str, Any]:
    datums = sorted(
        client.list_datums(name, job.id), key=lambda d: (_DATUM_ORDER.get(d.state, 9), d.id)
    )
    siblings = client.list_pipeline_jobs(global_id=job.id, limit=MAX_STAGES)
    failed = any(d.state is DatumState.FAILED for d in datums)
    if datum:
        about = f"datum {datum[:12]}"
        log = client.pipeline_log_page(name, job.id, datum)
    elif failed:
        about = "the failed datums"
        log = client.pipeline_log_page(name, job.id, failed=True)
    else:
        about = "the job"
        log = client.pipeline_log_page(name, job.id)
    return {
        "datums": datums[:DATUMS_SHOWN],
        "more_datums": max(0, len(datums) - DATUMS_SHOWN),
        "siblings": siblings,
        "logs": log.lines,
        "logs_more": not log.done and bool(log.lines),
        "about": about,
        "datum": datum or "",
        "files": files_cell,
    }


def files_cell(d: DatumInfo) -> str:
    """What a datum reads, as `kaon list datum` shows it."""
    paths = [f"{f.get('input') or f.get('repo', '')}:{f.get('path', '')}" for f in d.files]
    if len(paths) > 3:
        return ", ".join(paths[:3]) + f", … ({len(paths)} files)"
    return ", ".join(paths) or "-"


def connected(pipelines: dict[str, PipelineInfo], start: str, limit: int) -> list[str]:
    """The pipelines joined to `start` by the repos they read and write, nearest first."""
    readers: dict[str, list[str]] = {}
    for p in pipelines.values():
        for repo in p.inputs:
            readers.setdefault(repo, []).append(p.name)
    seen = {start: None}
    queue = deque([start])
    while queue and len(seen) < limit:
        current = pipelines[queue.popleft()]
        near = [r for r in current.inputs if r in pipelines] + readers.get(current.name, [])
        for other in sorted(near):
            if other not in seen and len(seen) < limit:
                seen[other] = None
                queue.append(other)
    return list(seen)


def _draw(client: Client, stages: list[PipelineInfo], current: str) -> tuple[Markup | None, str]:
    """The DAG of `stages` as SVG (None and why, when it cannot be drawn)."""
    lines = [
        "digraph pipelines {",
        '  graph [rankdir=LR, fontname=Helvetica, nodesep=0.3, ranksep=0.5, bgcolor="white"];',
        "  node [fontname=Helvetica, fontsize=10, style=filled, penwidth=1.2];",
        '  edge [color="#555555"];',
    ]
    urls: dict[str, str] = {}
    names = {p.name for p in stages}
    repos: set[str] = set()
    newest: dict[str, PipelineJobInfo] = {}
    for job in reversed(client.list_pipeline_jobs(limit=RECENT_JOBS)):  # one call, mostly
        newest[job.pipeline] = job
    for p in stages:
        if p.name in newest or p.last_job is None:
            last = [newest[p.name]] if p.name in newest else []
        else:
            last = client.list_pipeline_jobs(pipeline=p.name, limit=1)
        state = JobState(last[0].state).label if last else "no job yet"
        progress = f"\n{last[0].progress}" if last else ""
        fill = _FILL.get(state, "#e3ebfb" if last else "#f2f2f2")
        border = "3" if p.name == current else "1.2"
        label = f"{p.name}\n{p.state.value} · {state}{progress}"
        node = f"pipeline:{p.name}"
        lines.append(
            f'  {dot_str(node)} [label={dot_str(label)}, shape=box, style="rounded,filled",'
            f' fillcolor="{fill}", color="#c46a1b", penwidth={border}];'
        )
        urls[node] = link("pipelines", p.name)
        for repo in p.inputs:
            repos.add(repo)
            lines.append(f"  {dot_str('repo:' + repo)} -> {dot_str(node)};")
        repos.add(p.name)
        lines.append(f"  {dot_str(node)} -> {dot_str('repo:' + p.name)};")
    for repo in sorted(repos):
        node = f"repo:{repo}"
        label = repo + ("\noutput" if repo in names else "\nrepo")
        lines.append(
            f"  {dot_str(node)} [label={dot_str(label)}, shape=cylinder,"
            ' fillcolor="#cfe3f7", color="#2e78b7"];'
        )
        urls[node] = link("repos", repo)
    lines.append("}")
    try:
        return graphviz.svg(graphviz.with_urls("\n".join(lines), urls, {})), ""
    except KaonError as exc:
        return None, exc.message
