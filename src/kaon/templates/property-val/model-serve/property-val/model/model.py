"""Serve the property-val template model (gradient boosting on house features).

kaon calls `load_ctx(model_dir)` once and `predict(payload, ctx)` per request. The payload
is a JSON object of features (`{"LotArea": 8450, "OverallQual": 7, ..., "Neighborhood":
"CollgCr"}`), a list of such objects, or `{"instances": [...]}`; raw bytes are parsed as
JSON. Every feature the model was trained on must be present (extra keys are ignored);
numbers may be given as numbers or numeric strings, null means missing, and an unseen
category counts as missing.

The answer is `{"result": [price, ...]}`, one predicted SalePrice per object.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np


def load_ctx(model_dir: str) -> dict:
    with open(Path(model_dir) / "model.pkl", "rb") as f:
        bundle = pickle.load(f)
    return {
        "model": bundle["model"],
        "features": list(bundle["features"]),
        "categorical": set(bundle["categorical"]),
    }


def predict(payload: Any, ctx: dict) -> dict:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            payload = json.loads(bytes(payload))
        except ValueError as exc:
            raise ValueError(f"payload is not JSON: {exc}") from exc
    if isinstance(payload, dict) and "instances" in payload:
        payload = payload["instances"]
    records = [payload] if isinstance(payload, dict) else payload
    if not isinstance(records, list) or not records:
        raise ValueError("expected a JSON object of features or a non-empty list of them")
    x = np.empty((len(records), len(ctx["features"])), dtype=object)
    x[:] = [_row(i, record, ctx) for i, record in enumerate(records)]
    return {"result": [round(float(p), 2) for p in ctx["model"].predict(x)]}


def _row(i: int, record: Any, ctx: dict) -> list:
    if not isinstance(record, dict):
        raise ValueError(f"item {i}: expected a JSON object of features")
    missing = [f for f in ctx["features"] if f not in record]
    if missing:
        raise ValueError(f"item {i}: missing features {missing}")
    return [
        _category(record[f]) if f in ctx["categorical"] else _number(i, f, record[f])
        for f in ctx["features"]
    ]


def _category(value: Any) -> Any:
    return np.nan if value is None else str(value)


def _number(i: int, name: str, value: Any) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise ValueError(f"item {i}: {name} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"item {i}: {name} must be a number, got {value!r}") from None
