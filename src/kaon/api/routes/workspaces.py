"""Workspaces and their bundles."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.access import visible_workspaces
from kaon.api.answers import bundle_info, workspace_info
from kaon.api.deps import platform, principal
from kaon.core.users import Principal
from kaon.core.workspaces import Workspace
from kaon.wire import BundleInfo, WorkspaceInfo
from kaon.wire.requests import BundleIn, WorkspaceCreate
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


def _out(p: Platform, ws: Workspace, who: Principal) -> WorkspaceInfo:
    role = p.users.role(who, ws.name)
    return workspace_info(
        ws,
        role.value if role is not None else ("admin" if who.admin else ""),
        p.workspaces.repos(ws.name),
        len(p.training.jobs(ws.name)),
    )


@router.get("", response_model=list[WorkspaceInfo])
def list_workspaces(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[WorkspaceInfo]:
    """The workspaces the caller has a role in (an admin: all)."""
    mine = visible_workspaces(p, who)
    return [_out(p, ws, who) for ws in p.workspaces.all() if ws.name in mine]


@router.post("", response_model=WorkspaceInfo, status_code=201)
def create_workspace(
    body: WorkspaceCreate, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> WorkspaceInfo:
    """Create a workspace; the caller becomes its owner."""
    return _out(p, p.lifecycle.create(body.name, who), who)


@router.get("/{name}", response_model=WorkspaceInfo)
def get_workspace(
    name: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> WorkspaceInfo:
    return _out(p, p.workspaces.get(name), who)


@router.delete("/{name}", status_code=204)
def kill_workspace(name: str, p: Platform = Depends(platform)) -> None:
    """Kill the workspace's running jobs, then delete its repos, jobs and models."""
    p.lifecycle.kill(name)


@router.post("/{name}/bundles", response_model=BundleInfo)
def set_bundle(
    name: str, body: BundleIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> BundleInfo:
    """Check the folder put to a bundle branch and name it (`/mnist:e23a2`); the caller is
    its author."""
    bundle = p.workspaces.bundle(name, body.kind, body.branch, body.ref or body.branch, who.user)
    return bundle_info(bundle)
