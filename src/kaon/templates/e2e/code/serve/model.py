"""Serve the e2e template's digit classifier (an SVC on 8x8 images, pixel values 0-16).

kaon calls `load_ctx(model_dir)` once (model.pkl is beside this file) and `predict(payload,
ctx)` per request. The payload is one image or a batch: 64 numbers, an 8x8 grid, a list of
either (Seldon's `data.ndarray` or `data.tensor` arrive as such nested lists), or kaon's JSON
`{"pixels": <any of those>}`. The answer is one digit per image: `[3, 7]`.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np


def load_ctx(model_dir: str) -> dict[str, Any]:
    return {"model": pickle.loads((Path(model_dir) / "model.pkl").read_bytes())}


def predict(payload: Any, ctx: dict[str, Any]) -> list[int]:
    if isinstance(payload, dict):
        payload = payload.get("pixels", payload.get("ndarray"))
    if isinstance(payload, (bytes, bytearray, str)) or payload is None:
        raise ValueError("send images as JSON numbers: 64 values (0-16) per image, or 8x8 grids")
    rows = np.asarray(payload, dtype=np.float64)
    if rows.size == 0 or rows.size % 64:
        raise ValueError(f"expected 64 pixel values per image, got {rows.size} values")
    return [int(d) for d in ctx["model"].predict(rows.reshape(-1, 64))]
