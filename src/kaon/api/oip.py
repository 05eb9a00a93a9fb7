"""Open Inference Protocol v2 (KServe, MLServer, Triton): request and response shapes."""

from __future__ import annotations

import math
from typing import Any

from kaon.services.endpointrun import Route


def metadata(route: Route) -> dict[str, Any]:
    return {
        "name": route.name,
        "versions": [route.model_id] if route.model_id else [],
        "platform": "kaon",
        "inputs": [],
        "outputs": [{"name": "result", "datatype": "BYTES", "shape": [-1]}],
    }


def _rows(data: list[Any], shape: list[int]) -> Any:
    """Flat (or nested) `data` shaped as `shape`: [n, k] gives n rows of k values."""
    flat = data
    if flat and isinstance(flat[0], list):
        return flat  # already nested
    if len(shape) >= 2 and shape[0] > 0 and math.prod(shape) == len(flat):
        width = len(flat) // shape[0]
        return [flat[i * width : (i + 1) * width] for i in range(shape[0])]
    return flat


def infer_payload(request: Any) -> Any:
    """The predict payload of an inference request: the rows of its one input, or
    {name: rows} for several inputs. Raises ValueError on a malformed request."""
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise ValueError('expected {"inputs": [{"name", "shape", "datatype", "data"}]}')
    inputs = request["inputs"]
    if not inputs:
        raise ValueError("no inputs")
    out: dict[str, Any] = {}
    for i, item in enumerate(inputs):
        if not isinstance(item, dict) or "data" not in item or not isinstance(item["data"], list):
            raise ValueError(f"inputs[{i}] needs name, shape, datatype and a data list")
        shape = item.get("shape") or [len(item["data"])]
        if not isinstance(shape, list) or not all(isinstance(n, int) for n in shape):
            raise ValueError(f"inputs[{i}].shape must be a list of integers")
        out[str(item.get("name", f"input-{i}"))] = _rows(item["data"], shape)
    return next(iter(out.values())) if len(out) == 1 else out


def _datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def infer_response(route: Route, request: dict[str, Any], result: Any) -> dict[str, Any]:
    if isinstance(result, dict) and "result" in result:
        result = result["result"]
    values = result if isinstance(result, list) else [result]
    return {
        "model_name": route.name,
        "model_version": route.model_id or "",
        "id": str(request.get("id", "")),
        "outputs": [
            {
                "name": "result",
                "shape": [len(values)],
                "datatype": _datatype(values),
                "data": values,
            }
        ],
    }
