"""Provenance: the graph drawn with Graphviz's SVG, pan and zoom, click a node to open it (H6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
