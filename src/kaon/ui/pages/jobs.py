"""Jobs: the live list, one job (inputs, state timeline, logs that follow, build logs, environment, outputs), searches' trials table and charts, kill (H5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
