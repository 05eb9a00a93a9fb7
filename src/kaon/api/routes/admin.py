"""Health and maintenance."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon import __version__
from kaon.api.answers import gc_report, status_out
from kaon.api.deps import platform
from kaon.wire import GcReport, HealthOut, StatusOut
from kaon.wiring import Platform

router = APIRouter(prefix="/v1", tags=["admin"])
open_router = APIRouter(prefix="/v1", tags=["admin"])


@open_router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    return HealthOut(status="ok", version=__version__)


@router.get("/status", response_model=StatusOut)
def status(p: Platform = Depends(platform)) -> StatusOut:
    """This server and each engine behind it (database, store, executor, replicas), asked
    now: whether it answers, its version, its URL without secrets."""
    return status_out(__version__, p.cluster.url, p.health())


@router.post("/gc", response_model=GcReport)
def gc(p: Platform = Depends(platform)) -> GcReport:
    return gc_report(p.gc.collect())
