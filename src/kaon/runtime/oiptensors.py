"""The Open Inference Protocol's binary tensor data extension (KServe v2 / Triton), stdlib only
(copied into user environments: replicas decode and encode it, kaon.runtime.oip).

A request may carry its tensors as raw bytes after its JSON: the JSON header is the first
`Inference-Header-Content-Length` bytes of the body, and each input with
`parameters.binary_data_size` takes that many bytes of what follows, in input order. Numbers
are little-endian in row-major order; BYTES elements are each a 4-byte little-endian length
then the bytes; BOOL is one byte each. An answer is binary the same way when the request asks
(`parameters.binary_data_output`, or an output's `parameters.binary_data`).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from typing import Any

# datatype → (array typecode or struct format, bytes per element); BYTES is variable
FIXED: dict[str, tuple[str, int]] = {
    "BOOL": ("B", 1),
    "UINT8": ("B", 1),
    "UINT16": ("H", 2),
    "UINT32": ("I", 4),
    "UINT64": ("Q", 8),
    "INT8": ("b", 1),
    "INT16": ("h", 2),
    "INT32": ("i", 4),
    "INT64": ("q", 8),
    "FP16": ("e", 2),
    "FP32": ("f", 4),
    "FP64": ("d", 8),
}
DATATYPES = (*FIXED, "BYTES")
_SWAP = sys.byteorder != "little"


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON header of a request body and the binary data after it. Raises ValueError."""
    if header_length is None:
        return _object(_json(body, "the body")), b""
    n = header_size(header_length, len(body))
    return _object(_json(body[:n], f"the JSON header (the first {n} bytes)")), body[n:]


def header_size(header_length: str, body_size: int) -> int:
    """The Inference-Header-Content-Length of a body of `body_size` bytes, as a number of
    bytes within it. Raises ValueError."""
    try:
        n = int(header_length)
    except ValueError:
        raise ValueError(
            f"Inference-Header-Content-Length {header_length!r} is not a number of bytes"
        ) from None
    if not 0 <= n <= body_size:
        raise ValueError(
            f"Inference-Header-Content-Length {n} is past the end of the body ({body_size} bytes)"
        )
    return n


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None


def _object(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError('expected a JSON object {"inputs": [...]}')
    return doc


def attach_binary(inputs: list[Any], data: bytes) -> None:
    """Give each input with `parameters.binary_data_size` its values read from `data` (in
    input order) as a flat `data` list. Raises ValueError on sizes or bytes that do not fit."""
    offset = 0
    for i, item in enumerate(inputs):
        if not isinstance(item, dict):
            continue
        params = item.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is None:
            continue
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"inputs[{i}].parameters.binary_data_size must be a byte count")
        if offset + size > len(data):
            raise ValueError(
                f"inputs[{i}] ({item.get('name', '?')}) declares {size} bytes of binary data "
                f"but only {len(data) - offset} are left in the body"
            )
        if "data" in item:
            raise ValueError(f"inputs[{i}] has both data and binary_data_size: send one")
        shape = _shape(item, i)
        item["data"] = decode(str(item.get("datatype", "")), data[offset : offset + size], shape, i)
        offset += size
    if offset != len(data):
        raise ValueError(
            f"{len(data) - offset} bytes of binary data after the inputs' binary_data_size"
        )


def _shape(item: dict[str, Any], i: int) -> list[int]:
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"inputs[{i}].shape must be a list of non-negative integers")
    return shape


def decode(datatype: str, raw: bytes, shape: list[int], i: int = 0) -> list[Any]:
    """Flat values of one binary tensor. Raises ValueError when the bytes do not match."""
    count = math.prod(shape)
    if datatype == "BYTES":
        values = _decode_bytes(raw, i)
        if len(values) != count:
            raise ValueError(
                f"inputs[{i}]: shape {shape} holds {count} elements but the BYTES data has "
                f"{len(values)}"
            )
        return values
    if datatype not in FIXED:
        raise ValueError(f"inputs[{i}]: datatype {datatype!r} is not one of {', '.join(DATATYPES)}")
    code, width = FIXED[datatype]
    if len(raw) != count * width:
        raise ValueError(
            f"inputs[{i}]: shape {shape} of {datatype} needs {count * width} bytes, got {len(raw)}"
        )
    if code == "e":
        return list(struct.unpack(f"<{count}e", raw))
    packed: array[Any] = array(code)
    packed.frombytes(raw)
    if _SWAP:
        packed.byteswap()
    if datatype == "BOOL":
        return [bool(v) for v in packed]
    return list(packed.tolist())


def _decode_bytes(raw: bytes, i: int) -> list[Any]:
    out: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise ValueError(f"inputs[{i}]: BYTES data ends inside an element's 4-byte length")
        (n,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + n > len(raw):
            raise ValueError(f"inputs[{i}]: a BYTES element of {n} bytes runs past the data")
        chunk = raw[offset : offset + n]
        offset += n
        try:
            out.append(chunk.decode())
        except UnicodeDecodeError:
            out.append(chunk.decode("latin-1"))  # not text: one char per byte, nothing lost
    return out


def encode(datatype: str, values: list[Any]) -> bytes:
    """The binary form of flat `values` of `datatype` (an answer's output)."""
    if datatype == "BYTES":
        parts = []
        for v in values:
            b = v if isinstance(v, bytes) else (v if isinstance(v, str) else json.dumps(v)).encode()
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    code, _ = FIXED[datatype]
    if code == "e":
        return struct.pack(f"<{len(values)}e", *values)
    packed = array(code, [int(v) for v in values] if code not in "fd" else values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()
