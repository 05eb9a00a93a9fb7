"""Health and maintenance."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon import __version__
from kaon.api.deps import platform
from kaon.api.schemas import GcOut, HealthOut
from kaon.app import Platform

router = APIRouter(prefix="/v1", tags=["admin"])
open_router = APIRouter(prefix="/v1", tags=["admin"])


@open_router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    return HealthOut(status="ok", version=__version__)


@router.post("/gc", response_model=GcOut)
def gc(p: Platform = Depends(platform)) -> GcOut:
    return GcOut(**p.gc.collect().__dict__)
