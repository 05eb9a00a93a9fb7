"""Models: metrics, files, the job that made them, the endpoints serving them; compare two or more (H5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
