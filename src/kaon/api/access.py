"""Who may do what, decided once per request before any route runs (kaon.core.users).

The request's path names what it touches — a workspace (`/v1/workspaces/{name}/…`), a repo
(`/v1/repos/{repo}/…`: a workspace's internal repo, or a shared one), a job or an endpoint
(each in a workspace), a pipeline (global, like a shared repo) — and its method what it does: GET/HEAD read, DELETE of a workspace
manages it, anything else writes. Listings filter what they return themselves
(`visible_workspaces`), and routes about users, tokens and keys check their own subjects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request

from kaon.core.errors import Forbidden, NotFound
from kaon.core.jobs import workspace_name
from kaon.core.provenance import Graph, Node, NodeKind
from kaon.core.users import Action, Principal
from kaon.wiring import Platform

_READS = frozenset({"GET", "HEAD"})
_ADMIN_PATHS = frozenset({"/v1/gc"})
_PIPELINE_PATHS = ("/v1/pipelines", "/v1/pipeline-jobs", "/v1/commit-sets/")
_MEMBERS = re.compile(r"^/v1/workspaces/[^/]+/members(/|$)")


def authorize(request: Request, p: Platform, who: Principal) -> None:
    params = request.path_params
    path = request.url.path
    action = Action.READ if request.method in _READS else Action.WRITE
    if path in _ADMIN_PATHS:
        if not who.admin or who.job is not None:
            raise Forbidden(f"{who.describe()} is not an admin: only admins run {path}")
        return
    if path == "/v1/repos" and action is Action.WRITE:  # a new shared repo
        p.users.check(who, action, None)
    if path == "/v1/workspaces" and action is Action.WRITE and who.job is not None:
        raise Forbidden(f"{who.describe()} may not create workspaces (a job's token)")
    if "name" in params and path.startswith("/v1/workspaces/"):
        raw = str(params["name"])
        workspace = workspace_name(raw)  # as the routes read it: `FA` is workspace `fa`
        if request.method == "DELETE" and path.rstrip("/") == f"/v1/workspaces/{raw}":
            action = Action.MANAGE
        if _MEMBERS.search(path) and action is Action.WRITE:
            action = Action.MANAGE
        if action is Action.MANAGE and who.job is not None:
            raise Forbidden(f"{who.describe()} may not share or delete workspaces (a job's token)")
        request.state.workspace = workspace  # for the audit log (kaon.api.audit)
        p.users.check(who, action, workspace)
    elif "repo" in params:
        repo = str(params["repo"])
        if request.method == "DELETE" and path.rstrip("/") == f"/v1/repos/{repo}":
            action = Action.MANAGE
        request.state.workspace = p.workspaces.owner_of_repo(repo)
        p.users.check(who, action, request.state.workspace)
    elif "job" in params:
        request.state.workspace = p.training.get(str(params["job"])).workspace
        p.users.check(who, action, request.state.workspace)
    elif "endpoint" in params:
        request.state.workspace = p.serving.get(str(params["endpoint"])).workspace
        p.users.check(who, action, request.state.workspace)
    elif "pipeline" in params or path.startswith(_PIPELINE_PATHS):
        request.state.workspace = None  # pipelines are global, like shared repos
        p.users.check(who, action, None)


def workspace_of(p: Platform, path: str, params: Mapping[str, Any]) -> str | None:
    """The workspace a request's path names, as `authorize` finds it (None: none, or a
    shared repo); NotFound when the job or endpoint it names does not exist."""
    if "name" in params and path.startswith("/v1/workspaces/"):
        return str(params["name"])
    if "repo" in params:
        return p.workspaces.owner_of_repo(str(params["repo"]))
    if "job" in params:
        return p.training.get(str(params["job"])).workspace
    if "endpoint" in params:
        return p.serving.get(str(params["endpoint"])).workspace
    return None


def visible_workspaces(p: Platform, who: Principal, names: Sequence[str] | None = None) -> set[str]:
    """The workspaces `who` may see in a listing (of `names`, when the caller listed them)."""
    names = [w.name for w in p.workspaces.all()] if names is None else names
    return set(p.users.visible(who, names))


def hidden_repos(
    p: Platform, who: Principal, names: Sequence[str] | None = None, shown: set[str] | None = None
) -> set[str]:
    """The internal repos of the workspaces `who` has no role in (listings leave them out);
    `names` (every workspace) and `shown` (visible_workspaces) when the caller has them."""
    names = [w.name for w in p.workspaces.all()] if names is None else names
    shown = visible_workspaces(p, who, names) if shown is None else shown
    return {r for w in names if w not in shown for r in p.workspaces.repos(w)}


# Nodes that belong to no workspace by themselves: kept when next to a node the caller sees.
_FLOATING = frozenset({NodeKind.PARAMS, NodeKind.ENVIRONMENT, NodeKind.FEEDBACK})


def visible_graph(p: Platform, who: Principal, graph: Graph) -> Graph:
    """`graph` without the nodes of workspaces `who` may not read (data and code of their
    repos, their jobs, models and endpoints) and without what only those nodes connected."""
    names = [w.name for w in p.workspaces.all()]  # one read for both
    shown = visible_workspaces(p, who, names)
    hidden = hidden_repos(p, who, names, shown)

    # an admin not narrowed to a workspace reads every workspace, and what a gone one left
    everything = who.admin and who.workspace is None
    jobs: dict[str, str] = {}  # the workspace of every job of the graph: one read for all
    if not everything:
        keys = {n.attrs.get("job", "") for n in graph.nodes if n.kind is NodeKind.JOB}
        jobs = p.training.workspaces_of(sorted(keys - {""}))  # a job node's full job id
    endpoints: dict[str, str | None] = {}  # one lookup per endpoint (a few per graph)

    def owner(kind: NodeKind, key: str) -> str | None:
        """The workspace of a job or endpoint; None when it is gone."""
        if kind is NodeKind.JOB:
            return jobs.get(key)
        if key not in endpoints:
            try:
                endpoints[key] = p.serving.get(key).workspace
            except NotFound:
                endpoints[key] = None
        return endpoints[key]

    def readable(node: Node) -> bool:
        if node.kind is NodeKind.MODEL:
            return node.id.split(":", 1)[1].split("/", 1)[0] in shown
        if node.kind is NodeKind.NOTEBOOK:
            return node.attrs.get("workspace", "") in shown
        if node.kind is NodeKind.JOB and "pipeline" in node.attrs:
            return True  # pipelines are global, like shared repos
        if node.kind in (NodeKind.JOB, NodeKind.ENDPOINT):
            if everything:  # no lookup: thousands of jobs downstream of a busy commit
                return True
            key = node.attrs.get("job", "") if node.kind is NodeKind.JOB else node.label
            workspace = owner(node.kind, key)
            return workspace is not None and workspace in shown  # gone: only an admin sees it
        return node.attrs.get("repo", "") not in hidden

    kept = {n.id for n in graph.nodes if n.kind not in _FLOATING and readable(n)}
    for edge in graph.edges:  # parameters, environments, feedback next to what is kept
        for near, far in ((edge.src, edge.dst), (edge.dst, edge.src)):
            if near in kept and graph.node(far).kind in _FLOATING:
                kept.add(far)
    if len(kept) == len(graph):
        return graph
    return Graph(
        [n for n in graph.nodes if n.id in kept],
        [e for e in graph.edges if e.src in kept and e.dst in kept],
    )
