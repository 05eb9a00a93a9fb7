"""Repos: branches, commits (paged), the file browser at any commit with previews, diff, one file's history (H4)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
