"""The audit log: writes and permission changes, newest first (kaon.api.audit records them)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from kaon.api.answers import audit_record
from kaon.api.deps import platform, principal
from kaon.core.audit import AuditQuery
from kaon.core.users import Principal
from kaon.wire import AuditRecord
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_LIMIT = 10_000


@router.get("", response_model=list[AuditRecord])
def audit(
    user: str | None = Query(None, description="only this user's entries"),
    workspace: str | None = Query(None, description="only entries of this workspace"),
    action: str | None = Query(None, description="only actions containing this text"),
    since: float | None = Query(None, ge=0, allow_inf_nan=False, description="Unix seconds"),
    until: float | None = Query(None, ge=0, allow_inf_nan=False, description="Unix seconds"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> list[AuditRecord]:
    """Writes and permission changes, newest first. An admin sees every entry; any other
    user the entries of the workspaces they own and their own."""
    query = AuditQuery(user, workspace.lower() if workspace else None, action, since, until, limit)
    return [audit_record(e) for e in p.audit.entries(who, query)]
