"""Who may do what, decided once per request before any route runs (kaon.core.users).

The request's path names what it touches — a workspace (`/v1/workspaces/{name}/…`), a repo
(`/v1/repos/{repo}/…`: a workspace's internal repo, or a shared one), a job or an endpoint
(each in a workspace) — and its method what it does: GET/HEAD read, DELETE of a workspace
manages it, anything else writes. Listings filter what they return themselves
(`visible_workspaces`), and routes about users, tokens and keys check their own subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from kaon.app import Platform
from kaon.core.errors import Forbidden
from kaon.core.users import Action, Principal

_READS = frozenset({"GET", "HEAD"})
_ADMIN_PATHS = frozenset({"/v1/gc"})


def authorize(request: Request, p: Platform, who: Principal) -> None:
    params = request.path_params
    path = request.url.path
    action = Action.READ if request.method in _READS else Action.WRITE
    if path in _ADMIN_PATHS:
        if not who.admin or who.job is not None:
            raise Forbidden(f"{who.describe()} is not an admin: only admins run {path}")
        return
    if path == "/v1/workspaces" and action is Action.WRITE and who.job is not None:
        raise Forbidden(f"{who.describe()} may not create workspaces (a job's token)")
    if "name" in params and path.startswith("/v1/workspaces/"):
        workspace = str(params["name"])
        if request.method == "DELETE" and path.rstrip("/") == f"/v1/workspaces/{workspace}":
            action = Action.MANAGE
        if path.endswith("/members") and action is Action.WRITE:
            action = Action.MANAGE
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


def visible_workspaces(p: Platform, who: Principal) -> set[str]:
    """The workspaces `who` may see in a listing."""
    return set(p.users.visible(who, [w.name for w in p.workspaces.all()]))
