"""Pipelines: the DAG with each stage's last job and progress, jobs per global id, datums with logs (H6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
