"""A workspace's members: who has which role (owner, editor, viewer). Reading needs a role in
the workspace; changing needs MANAGE (its owners, admins): kaon.api.access."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.answers import member_info
from kaon.api.deps import platform
from kaon.core.users import Role
from kaon.wire import MemberInfo
from kaon.wire.requests import MemberIn
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/workspaces/{name}/members", tags=["workspaces"])


def _members(p: Platform, name: str) -> list[MemberInfo]:
    return [member_info(name, user, role.value) for user, role in p.users.members(name)]


@router.get("", response_model=list[MemberInfo])
def members(name: str, p: Platform = Depends(platform)) -> list[MemberInfo]:
    """Who has a role in workspace `name` (admins reach every workspace without one)."""
    return _members(p, p.workspaces.get(name).name)


@router.put("/{user}", response_model=MemberInfo)
def share(name: str, user: str, body: MemberIn, p: Platform = Depends(platform)) -> MemberInfo:
    """Give `user` a role in the workspace (replacing the one they had)."""
    ws = p.workspaces.get(name).name
    role = Role.parse(body.role)
    p.users.share(ws, user, role)
    return member_info(ws, p.users.get(user).name, role.value)


@router.delete("/{user}", status_code=204)
def unshare(name: str, user: str, p: Platform = Depends(platform)) -> None:
    """Take `user`'s role in the workspace away (never its last owner's)."""
    p.users.unshare(p.workspaces.get(name).name, user)
