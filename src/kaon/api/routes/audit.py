"""The audit log: writes and permission changes, newest first (kaon.api.audit records them)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from kaon.api.deps import platform, principal
from kaon.app import Platform
from kaon.core.audit import AuditQuery
from kaon.core.users import Principal

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_LIMIT = 10_000


class AuditEntryOut(BaseModel):
    id: int = Field(description="increasing with the order entries were written")
    at: float = Field(description="when it was answered, Unix seconds")
    user: str = Field(description='who asked ("" when authentication failed)')
    action: str = Field(description='"POST /v1/workspaces/{name}/train", "S3 PutObject", …')
    target: str = Field(description="the concrete path, or S3 bucket/key")
    workspace: str | None = Field(description="the workspace it touched (null: none, shared)")
    status: int = Field(description="the HTTP status it answered")
    detail: str = Field(description="a JSON object: client address, job, query, ids")


@router.get("", response_model=list[AuditEntryOut])
def audit(
    user: str | None = Query(None, description="only this user's entries"),
    workspace: str | None = Query(None, description="only entries of this workspace"),
    action: str | None = Query(None, description="only actions containing this text"),
    since: float | None = Query(None, ge=0, allow_inf_nan=False, description="Unix seconds"),
    until: float | None = Query(None, ge=0, allow_inf_nan=False, description="Unix seconds"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> list[AuditEntryOut]:
    """Writes and permission changes, newest first. An admin sees every entry; any other
    user the entries of the workspaces they own and their own."""
    query = AuditQuery(user, workspace.lower() if workspace else None, action, since, until, limit)
    return [AuditEntryOut(**e.__dict__) for e in p.audit.entries(who, query)]
