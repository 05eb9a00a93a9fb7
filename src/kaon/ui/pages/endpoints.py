"""Endpoints: versions and traffic, replicas and health, rates over time, the try-it form, feedback (H6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
