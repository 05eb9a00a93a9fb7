"""A workspace's members: who has which role (owner, editor, viewer). Reading needs a role in
the workspace; changing needs MANAGE (its owners, admins): kaon.api.access."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.deps import platform
from kaon.api.userschemas import MemberIn, MemberOut
from kaon.app import Platform
from kaon.core.users import Role

router = APIRouter(prefix="/v1/workspaces/{name}/members", tags=["workspaces"])


def _members(p: Platform, name: str) -> list[MemberOut]:
    return [
        MemberOut(workspace=name, user=user, role=role.value)
        for user, role in p.users.members(name)
    ]


@router.get("", response_model=list[MemberOut])
def members(name: str, p: Platform = Depends(platform)) -> list[MemberOut]:
    """Who has a role in workspace `name` (admins reach every workspace without one)."""
    return _members(p, p.workspaces.get(name).name)


@router.put("/{user}", response_model=MemberOut)
def share(name: str, user: str, body: MemberIn, p: Platform = Depends(platform)) -> MemberOut:
    """Give `user` a role in the workspace (replacing the one they had)."""
    ws = p.workspaces.get(name).name
    role = Role.parse(body.role)
    p.users.share(ws, user, role)
    return MemberOut(workspace=ws, user=p.users.get(user).name, role=role.value)


@router.delete("/{user}", status_code=204)
def unshare(name: str, user: str, p: Platform = Depends(platform)) -> None:
    """Take `user`'s role in the workspace away (never its last owner's)."""
    p.users.unshare(p.workspaces.get(name).name, user)
