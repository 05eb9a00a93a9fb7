"""Workspaces and their bundles."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.access import visible_workspaces
from kaon.api.deps import platform, principal
from kaon.api.schemas import BundleIn, BundleOut, WorkspaceCreate, WorkspaceOut
from kaon.app import Platform
from kaon.core.jobs import Bundle
from kaon.core.users import Principal
from kaon.core.workspaces import Workspace

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


def _out(p: Platform, ws: Workspace, who: Principal) -> WorkspaceOut:
    role = p.users.role(who, ws.name)
    return WorkspaceOut(
        role=role.value if role is not None else ("admin" if who.admin else ""),
        name=ws.name,
        created=ws.created,
        author=ws.author,
        repos=p.workspaces.repos(ws.name),
        current=ws.current,
        jobs=len(p.training.jobs(ws.name)),
    )


def bundle_out(b: Bundle) -> BundleOut:
    return BundleOut(**b.to_dict())


@router.get("", response_model=list[WorkspaceOut])
def list_workspaces(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[WorkspaceOut]:
    """The workspaces the caller has a role in (an admin: all)."""
    mine = visible_workspaces(p, who)
    return [_out(p, ws, who) for ws in p.workspaces.all() if ws.name in mine]


@router.post("", response_model=WorkspaceOut, status_code=201)
def create_workspace(
    body: WorkspaceCreate, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> WorkspaceOut:
    """Create a workspace; the caller becomes its owner."""
    return _out(p, p.lifecycle.create(body.name, who), who)


@router.get("/{name}", response_model=WorkspaceOut)
def get_workspace(
    name: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> WorkspaceOut:
    return _out(p, p.workspaces.get(name), who)


@router.delete("/{name}", status_code=204)
def kill_workspace(name: str, p: Platform = Depends(platform)) -> None:
    """Kill the workspace's running jobs, then delete its repos, jobs and models."""
    p.lifecycle.kill(name)


@router.post("/{name}/bundles", response_model=BundleOut)
def set_bundle(
    name: str, body: BundleIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> BundleOut:
    """Check the folder put to a bundle branch and name it (`/mnist:e23a2`); the caller is
    its author."""
    bundle = p.workspaces.bundle(name, body.kind, body.branch, body.ref or body.branch, who.user)
    return bundle_out(bundle)
