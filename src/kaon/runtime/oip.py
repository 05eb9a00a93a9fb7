"""Open Inference Protocol v2 (KServe, MLServer, Triton) requests and answers, as a replica
takes them (stdlib only: copied into user environments). The gateway passes an inference
request's bytes through with the content type OIP_TYPE (`; header=N` when its first N bytes
are the JSON header of the binary tensor extension, kaon.runtime.oiptensors); the replica
parses it, calls predict() and answers `<N>\\n` + the JSON header {"id", "outputs"} of N bytes
+ the binary outputs (`\\n` + the JSON when none is binary), which the gateway completes with
the model's name and version.

A request's inputs become the payload `predict()` receives: one input → its rows (a [n, k]
tensor → n lists of k values), several → {name: rows}. MLServer's `content_type` parameters
choose the decoding: `np` (the default: numbers shaped as rows), `str` (BYTES as text),
`base64` (BYTES as base64 text), and `pd` on the request (several inputs as columns {name:
values}). The answer's outputs are named by the model: a dict {name: values} gives one output
per key, anything else one output `result`; its shape follows the values' nesting, its
datatype their types. Binary outputs when the request asks (`binary_data_output`, or
`binary_data` on an output it names)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from kaon.runtime import oipfast
from kaon.runtime.oiptensors import DATATYPES, attach_binary, encode, split_body

OIP_TYPE = "application/x-kaon-oip"  # between the gateway and a replica only
CONTENT_TYPES = ("np", "str", "base64", "pd")
_HEADER_PARAM = "; header="


def request_type(header_length: int | None) -> str:
    """The content type of a request passed to a replica (`header_length`: the size of the
    JSON header of a binary request, None for JSON only)."""
    return OIP_TYPE if header_length is None else f"{OIP_TYPE}{_HEADER_PARAM}{header_length}"


def is_oip(content_type: str) -> bool:
    return content_type.startswith(OIP_TYPE)


def header_length(content_type: str) -> str | None:
    """The `header=` of an OIP_TYPE content type (None: JSON only)."""
    _, found, size = content_type.partition(_HEADER_PARAM)
    return size if found else None


@dataclass(frozen=True)
class Inference:
    """A parsed inference request."""

    request: dict[str, Any]  # its JSON header
    payload: Any  # what predict() receives
    binary: frozenset[str]  # outputs asked for in binary ("*": every output)
    asked: tuple[str, ...]  # outputs it names (empty: all)


def parse(body: bytes, header_size: str | None, fast: bool = True) -> Inference:
    """Raises ValueError with what is wrong, in words. The common request takes the fast path
    (kaon.runtime.oipfast; its JSON header parsed once, kept in _COMMON) unless `fast` is
    False: the same payload either way."""
    if fast and header_size is not None:
        known = _known(body, header_size)
        if known is not None:
            return known
    request, data = split_body(body, header_size)
    common = oipfast.plan(request) if fast and data else None
    if common is not None:
        payload = oipfast.payload(common, data)
        if payload is not None:
            seen = _Seen(request, common, *_asked(request, _params(request, "request")))
            if len(_COMMON) >= _COMMON_MAX:
                _COMMON.clear()
            _COMMON[body[: len(body) - len(data)]] = seen
            return Inference(request, payload, seen.binary, seen.asked)
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
        given = item.get("parameters") or {}
        if not isinstance(given, dict):
            raise ValueError(f"inputs[{i}].parameters must be an object")
        codec = given.get("content_type", "np" if datatype != "BYTES" else "str")
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


class _Seen(NamedTuple):
    """A common request's JSON header, as parsed the first time."""

    request: dict[str, Any]
    plan: oipfast.Plan
    binary: frozenset[str]
    asked: tuple[str, ...]


_COMMON: dict[bytes, _Seen] = {}  # the JSON header of a common request → what it says
_COMMON_MAX = 256  # headers kept (cleared when full: request ids make each header new)


def _known(body: bytes, header_size: str) -> Inference | None:
    """The Inference of a common request whose JSON header was seen before, else None."""
    if not header_size.isdigit():
        return None
    n = int(header_size)
    seen = _COMMON.get(body[:n]) if n < len(body) else None
    if seen is None:
        return None
    payload = oipfast.payload(seen.plan, body[n:])
    return None if payload is None else Inference(seen.request, payload, seen.binary, seen.asked)


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
    """The datatype of JSON values (exact types: bool is not an int here)."""
    kinds = set(map(type, values))
    if not kinds:
        return "BYTES"
    if kinds == {bool}:
        return "BOOL"
    if kinds == {int}:
        return "INT64"
    if kinds <= {int, float}:
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


def common_answer(inference: Inference, result: Any) -> bytes | None:
    """answer() of the common answer (kaon.runtime.oipfast: lists of ints and finite floats,
    nothing else, so nothing JSON would change), else None."""
    return oipfast.answer(_id(inference), inference.binary, inference.asked, result)


def _id(inference: Inference) -> str:
    return str(inference.request.get("id", ""))


def answer(inference: Inference, result: Any, fast: bool = True) -> bytes:
    """The replica's answer for `result` (what predict() returned, as JSON gives it back):
    `<N>\\n`, the JSON header {"id", "outputs"} of N bytes, then the binary outputs; or `\\n`
    and the JSON when no output is binary. Raises
    ValueError when the request named outputs the model does not answer. The common answer
    takes the fast path (kaon.runtime.oipfast) unless `fast` is False: the same bytes."""
    common = common_answer(inference, result) if fast else None
    if common is not None:
        return common
    named = result if isinstance(result, dict) and result and "result" not in result else None
    if named is None and isinstance(result, dict) and "result" in result:
        result = result["result"]
    tensors = {str(k): v for k, v in named.items()} if named else {"result": result}
    unknown = [n for n in inference.asked if n not in tensors]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r}: this model answers {', '.join(tensors)}")
    outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, value in tensors.items():
        if inference.asked and name not in inference.asked:
            continue
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
    header = json.dumps({"id": _id(inference), "outputs": outputs}).encode()
    if not blobs:
        return b"\n" + header
    return b"%d\n%s%s" % (len(header), header, b"".join(blobs))
