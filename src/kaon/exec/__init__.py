"""Compute backends: environments (uv) and processes (local, later Ray)."""
