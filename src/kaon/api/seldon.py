"""Seldon Core's protocol (v0.1 / v1.0 REST, what `seldon_core.seldon_client.SeldonClient`
speaks): a SeldonMessage request decoded into what `predict(data, ctx)` receives, the result
encoded back into a SeldonMessage of the request's kind, and Seldon's error shape.

    data.ndarray        -> the nested lists as sent
    data.tensor         -> {shape, values} reshaped to nested lists (row-major)
    data.names          -> not passed to predict (docs/serving.md "Seldon protocol")
    strData             -> a str
    jsonData            -> the JSON value
    binData (base64)    -> bytes

The answer takes the request's kind when the result fits it (a list for ndarray/tensor, a
str for strData/binData, anything for jsonData), else: a list -> data.ndarray, a str ->
strData, anything else -> jsonData. A result `{"result": X}` (kaon's kaos convention) is X.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

JSON_TYPE = "application/json"
BYTES_TYPE = "application/octet-stream"
KINDS = ("ndarray", "tensor", "strData", "jsonData", "binData")
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class SeldonError(ValueError):
    """A request the protocol cannot take: answered 400 in Seldon's error shape."""


@dataclass(frozen=True)
class SeldonRequest:
    kind: str  # one of KINDS
    content_type: str  # how the payload goes to the replica
    body: bytes  # the payload predict receives, encoded for the replica
    names: tuple[str, ...] = ()


def decode(raw: bytes) -> SeldonRequest:
    """The predict payload of a SeldonMessage body. Raises SeldonError."""
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise SeldonError("the body is not JSON: send a SeldonMessage") from None
    if not isinstance(message, dict):
        raise SeldonError(f"a SeldonMessage is a JSON object, not a {type(message).__name__}")
    given = [k for k in ("data", "strData", "jsonData", "binData") if k in message]
    if "customData" in message:
        raise SeldonError("customData is not supported: send data, strData, jsonData or binData")
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise SeldonError(
            "a SeldonMessage needs exactly one of data.ndarray, data.tensor, strData, jsonData "
            f"or binData (got {what})"
        )
    key = given[0]
    value = message[key]
    if key == "strData":
        if not isinstance(value, str):
            raise SeldonError("strData must be a string")
        return SeldonRequest("strData", JSON_TYPE, _COMPACT.encode(value).encode())
    if key == "jsonData":
        return SeldonRequest("jsonData", JSON_TYPE, _COMPACT.encode(value).encode())
    if key == "binData":
        if not isinstance(value, str):
            raise SeldonError("binData must be a base64 string")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SeldonError("binData is not valid base64") from None
        return SeldonRequest("binData", BYTES_TYPE, data)
    return _data(value)


def _data(data: Any) -> SeldonRequest:
    if not isinstance(data, dict):
        raise SeldonError('"data" must be an object {"names", "ndarray" | "tensor"}')
    names = data.get("names") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SeldonError("data.names must be a list of strings")
    if "tftensor" in data:
        raise SeldonError("data.tftensor is not supported: send data.ndarray or data.tensor")
    if ("ndarray" in data) == ("tensor" in data):
        raise SeldonError("data needs exactly one of ndarray or tensor")
    if "ndarray" in data:
        rows = data["ndarray"]
        if not isinstance(rows, list):
            raise SeldonError("data.ndarray must be a (nested) list")
        return SeldonRequest("ndarray", JSON_TYPE, _COMPACT.encode(rows).encode(), tuple(names))
    tensor = data["tensor"]
    if not isinstance(tensor, dict):
        raise SeldonError('data.tensor must be an object {"shape", "values"}')
    shape, values = tensor.get("shape", []), tensor.get("values", [])
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise SeldonError("data.tensor.shape must be a list of non-negative integers")
    if not isinstance(values, list):
        raise SeldonError("data.tensor.values must be a list of numbers")
    if math.prod(shape) != len(values):
        raise SeldonError(
            f"data.tensor has {len(values)} values but its shape {shape} needs {math.prod(shape)}"
        )
    nested = reshape(values, shape)
    return SeldonRequest("tensor", JSON_TYPE, _COMPACT.encode(nested).encode(), tuple(names))


def reshape(values: list[Any], shape: list[int]) -> Any:
    """Flat row-major `values` as nested lists of `shape` (a scalar for shape [])."""
    if not shape:
        return values[0] if values else []
    if len(shape) == 1:
        return list(values)
    step = len(values) // shape[0] if shape[0] else 0
    return [reshape(values[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _shape(value: Any) -> list[int] | None:
    """The shape of a rectangular nested list of numbers, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return []
    if not isinstance(value, list) or not value:
        return [0] if isinstance(value, list) else None
    inner = _shape(value[0])
    if inner is None:
        return None
    for item in value[1:]:
        if _shape(item) != inner:
            return None
    return [len(value), *inner]


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in _flat(item)]
    return [value]


def encode(out: bytes, kind: str, meta: dict[str, Any]) -> bytes:
    """The SeldonMessage answering a request of `kind` whose predict returned the JSON `out`."""
    stripped = out.lstrip()
    if kind == "ndarray" and stripped[:1] == b"[":  # the hot path: no re-parse
        return b'{"data":{"names":[],"ndarray":%s},"meta":%s}' % (
            stripped,
            _COMPACT.encode(meta).encode(),
        )
    result = json.loads(out)
    if isinstance(result, dict) and len(result) == 1 and "result" in result:
        result = result["result"]
    message: dict[str, Any]
    if kind == "jsonData":
        message = {"jsonData": result}
    elif kind == "binData" and isinstance(result, str):
        message = {"binData": base64.b64encode(result.encode()).decode()}
    elif kind == "tensor" and isinstance(result, list) and (shape := _shape(result)):
        message = {"data": {"names": [], "tensor": {"shape": shape, "values": _flat(result)}}}
    elif isinstance(result, list):
        message = {"data": {"names": [], "ndarray": result}}
    elif isinstance(result, str):
        message = {"strData": result}
    else:
        message = {"jsonData": result}
    message["meta"] = meta
    return _COMPACT.encode(message).encode()


def failure(code: int, info: str) -> bytes:
    """Seldon's error shape (a SeldonMessage with only a status), which its client parses."""
    reason = {400: "BAD_DATA", 404: "NOT_FOUND", 409: "CONFLICT", 413: "TOO_LARGE"}
    status = {
        "code": code,
        "info": info,
        "reason": reason.get(code, "MICROSERVICE_ERROR"),
        "status": "FAILURE",
    }
    return _COMPACT.encode({"status": status}).encode()


def truth_value(message: Any) -> Any:
    """Feedback's `truth` (a SeldonMessage) as the value predict would have received."""
    if not isinstance(message, dict):
        return message
    try:
        request = decode(_COMPACT.encode(message).encode())
    except SeldonError:
        return message
    if request.content_type == BYTES_TYPE:
        return message.get("binData")  # kept as sent (base64): feedback records are JSON
    return json.loads(request.body)
