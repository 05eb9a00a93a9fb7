"""Open Inference Protocol v2 (KServe, MLServer, Triton): request and response shapes.

A request's inputs become the payload `predict()` receives: one input → its rows (a [n, k]
tensor → n lists of k values), several → {name: rows}. Inputs come as JSON `data` or as the
binary tensor extension (kaon.api.oiptensors); MLServer's `content_type` parameters choose
the decoding: `np` (the default: numbers shaped as rows), `str` (BYTES as text), `base64`
(BYTES as base64 text), and `pd` on the request (several inputs as columns {name: values}).
The answer's outputs are named by the model: a dict {name: values} gives one output per key,
anything else one output `result`; its shape follows the values' nesting, its datatype their
types. Binary outputs when the request asks (`binary_data_output`, or `binary_data` on an
output it names)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

import kaon
from kaon.api.oiptensors import DATATYPES, attach_binary, encode, split_body
from kaon.services.endpointrun import Route

EXTENSIONS = ["binary_tensor_data", "parameters"]
CONTENT_TYPES = ("np", "str", "base64", "pd")


def server_metadata() -> dict[str, Any]:
    return {"name": "kaon", "version": kaon.__version__, "extensions": EXTENSIONS}


def metadata(route: Route, signature: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model metadata of `route`'s version; `signature` (kaon.core.signatures) gives its
    inputs and outputs (empty lists while it has none)."""
    sig = signature or {}
    doc = {
        "name": route.name,
        "versions": [route.model_id]
        if route.model_id
        else [route.version]
        if route.version
        else [],
        "platform": "kaon",
        "inputs": sig.get("inputs", []),
        "outputs": sig.get("outputs", []),
    }
    if sig.get("parameters"):
        doc["parameters"] = sig["parameters"]
    return doc


def learned(inference: Inference, done: Answer) -> dict[str, Any]:
    """The signature a successful request shows: its inputs, the answer's outputs."""
    return {"inputs": inference.inputs(), "outputs": done.signature()}


@dataclass(frozen=True)
class Inference:
    """A parsed inference request."""

    request: dict[str, Any]  # its JSON header
    payload: Any  # what predict() receives
    binary: frozenset[str]  # outputs asked for in binary ("*": every output)
    asked: tuple[str, ...]  # outputs it names (empty: all)

    def inputs(self) -> list[dict[str, Any]]:
        """Its inputs, as metadata ({name, datatype, shape} with any batch size)."""
        return [
            {
                "name": str(item.get("name") or f"input-{i}"),
                "datatype": item["datatype"],
                "shape": [-1, *item["shape"][1:]],
            }
            for i, item in enumerate(self.request["inputs"])
        ]


def parse(body: bytes, header_length: str | None) -> Inference:
    """Raises ValueError with what is wrong, in words."""
    request, data = split_body(body, header_length)
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ValueError('expected {"inputs": [{"name", "shape", "datatype", "data"}]}')
    attach_binary(inputs, data)
    params = _params(request, "request")
    table = params.get("content_type") == "pd"
    out: dict[str, Any] = {}
    for i, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("data"), list):
            raise ValueError(f"inputs[{i}] needs name, shape, datatype and a data list")
        name = str(item.get("name") or f"input-{i}")
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"inputs[{i}].shape must be a list of non-negative integers")
        datatype = str(item.get("datatype", ""))
        if datatype not in DATATYPES:
            raise ValueError(
                f"inputs[{i}].datatype {datatype!r} is not one of {', '.join(DATATYPES)}"
            )
        flat = _flatten(item["data"])
        if math.prod(shape) != len(flat):
            raise ValueError(
                f"inputs[{i}] ({name}): shape {shape} holds {math.prod(shape)} values, "
                f"data has {len(flat)}"
            )
        codec = _params(item, f"inputs[{i}]").get(
            "content_type", "np" if datatype != "BYTES" else "str"
        )
        if codec not in CONTENT_TYPES:
            raise ValueError(
                f"inputs[{i}].parameters.content_type {codec!r} is not one of {', '.join(CONTENT_TYPES)}"
            )
        if codec == "base64":
            try:
                flat = [base64.b64decode(v, validate=True).decode("latin-1") for v in flat]
            except (ValueError, TypeError):
                raise ValueError(f"inputs[{i}] ({name}): a value is not base64") from None
        out[name] = flat if table else _rows(flat, shape)
    binary, asked = _asked(request, params)
    payload = out if table or len(out) > 1 else next(iter(out.values()))
    return Inference(request, payload, binary, asked)


def _params(doc: dict[str, Any], where: str) -> dict[str, Any]:
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise ValueError(f"{where}.parameters must be an object")
    return params


def _asked(
    request: dict[str, Any], params: dict[str, Any]
) -> tuple[frozenset[str], tuple[str, ...]]:
    binary: set[str] = {"*"} if params.get("binary_data_output") else set()
    asked: list[str] = []
    outputs = request.get("outputs") or []
    if not isinstance(outputs, list):
        raise ValueError("outputs must be a list of {name, parameters}")
    for i, item in enumerate(outputs):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"outputs[{i}] needs a name")
        asked.append(item["name"])
        if _params(item, f"outputs[{i}]").get("binary_data"):
            binary.add(item["name"])
    return frozenset(binary), tuple(asked)


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists as one flat list (OIP data is flat or nested alike: the first value tells)."""
    if not data or not isinstance(data[0], list):
        return data
    flat: list[Any] = []
    for v in data:
        flat.extend(_flatten(v) if isinstance(v, list) else [v])
    return flat


def _rows(flat: list[Any], shape: list[int]) -> Any:
    """Flat `flat` shaped as `shape`: [n, k] gives n rows of k values, [n, h, w] n rows of h
    lists of w values; a vector stays flat."""
    if len(shape) < 2:
        return flat
    if shape[0] == 0:
        return []
    width = len(flat) // shape[0]
    return [_rows(flat[i * width : (i + 1) * width], shape[1:]) for i in range(shape[0])]


def _datatype(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "BOOL"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _shape(value: Any) -> list[int]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape or [1]


@dataclass(frozen=True)
class Answer:
    body: bytes
    header_length: int | None  # set when binary outputs follow the JSON
    outputs: list[dict[str, Any]]  # its outputs' name, shape, datatype

    def signature(self) -> list[dict[str, Any]]:
        """Its outputs, as metadata (any batch size)."""
        return [
            {"name": o["name"], "datatype": o["datatype"], "shape": [-1, *o["shape"][1:]]}
            for o in self.outputs
        ]


def answer(route: Route, inference: Inference, result: Any) -> Answer:
    """The inference response for `result` (what predict() returned). Raises ValueError when
    the request named outputs the model does not answer."""
    named = result if isinstance(result, dict) and result and "result" not in result else None
    if named is None and isinstance(result, dict) and "result" in result:
        result = result["result"]
    tensors = {str(k): v for k, v in named.items()} if named else {"result": result}
    unknown = [n for n in inference.asked if n not in tensors]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r}: this model answers {', '.join(tensors)}")
    chosen = [n for n in tensors if not inference.asked or n in inference.asked]
    outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in chosen:
        value = tensors[name]
        shape = _shape(value) if isinstance(value, list) else [1]
        flat = _flatten(value) if isinstance(value, list) else [value]
        datatype = _datatype(flat)
        out: dict[str, Any] = {"name": name, "shape": shape, "datatype": datatype}
        if "*" in inference.binary or name in inference.binary:
            blob = encode(datatype, flat)
            out["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            out["data"] = flat
        outputs.append(out)
    doc = {
        "model_name": route.name,
        "model_version": route.model_id or route.version or "",
        "id": str(inference.request.get("id", "")),
        "outputs": outputs,
    }
    header = json.dumps(doc).encode()
    if not blobs:
        return Answer(header, None, outputs)
    return Answer(header + b"".join(blobs), len(header), outputs)
