"""Who may do what, decided once per request before any route runs (kaon.core.users).

The request's path names what it touches — a workspace (`/v1/workspaces/{name}/…`), a repo
(`/v1/repos/{repo}/…`: a workspace's internal repo, or a shared one), a job or an endpoint
(each in a workspace) — and its method what it does: GET/HEAD read, DELETE of a workspace
manages it, anything else writes. Listings filter what they return themselves
(`visible_workspaces`), and routes about users, tokens and keys check their own subjects.
"""

from __future__ import annotations

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
        p.users.check(who, action, workspace)
    elif "repo" in params:
        repo = str(params["repo"])
        if request.method == "DELETE" and path.rstrip("/") == f"/v1/repos/{repo}":
            action = Action.MANAGE
        p.users.check(who, action, p.workspaces.owner_of_repo(repo))
    elif "job" in params:
        p.users.check(who, action, p.training.get(str(params["job"])).workspace)
    elif "endpoint" in params:
        p.users.check(who, action, p.serving.get(str(params["endpoint"])).workspace)


def visible_workspaces(p: Platform, who: Principal) -> set[str]:
    """The workspaces `who` may see in a listing."""
    return set(p.users.visible(who, [w.name for w in p.workspaces.all()]))
