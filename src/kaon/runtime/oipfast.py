"""The common Open Inference Protocol request and answer, done quickly (stdlib only: copied
into user environments, as kaon.runtime.oip which calls it first).

The common request is what tritonclient sends by default for one tensor: one input, numeric
(INT*, UINT*, FP32, FP64), in the binary tensor extension, shaped as a vector or as rows
([n] or [n, k]), with no other parameter. The common answer is one output of numbers: a list
(or rows of equal length) of ints, or of ints and finite floats, which predict() returned as
is or under one key of a dict. Anything else, or anything wrong, gives None: the general path
(kaon.runtime.oip) then does it, and says what is wrong. Both give the same payloads and the
same answer bytes (tested per datatype); the fast path only skips the general checks of what
it does not take, and json.dumps for the fixed parts of the answer's header.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from itertools import chain
from typing import Any

# datatype → (array typecode, bytes per element): the numbers of the common request
_NUMERIC: dict[str, tuple[str, int]] = {
    "UINT8": ("B", 1),
    "UINT16": ("H", 2),
    "UINT32": ("I", 4),
    "UINT64": ("Q", 8),
    "INT8": ("b", 1),
    "INT16": ("h", 2),
    "INT32": ("i", 4),
    "INT64": ("q", 8),
    "FP32": ("f", 4),
    "FP64": ("d", 8),
}
_INPUT_KEYS = frozenset(("name", "shape", "datatype", "parameters"))
_LITTLE = sys.byteorder == "little"
_INT = frozenset((int,))
_NUMBERS = (frozenset((float,)), frozenset((int, float)))


def payload(request: dict[str, Any], data: bytes) -> Any:
    """What predict() receives for the common request (its input's `data` set, as the general
    path sets it), or None when `request` is not the common one."""
    if not _LITTLE or not data:
        return None
    inputs = request.get("inputs")
    if type(inputs) is not list or len(inputs) != 1:
        return None
    item = inputs[0]
    if type(item) is not dict or not item.keys() <= _INPUT_KEYS:
        return None
    params = item.get("parameters")
    if (
        type(params) is not dict
        or len(params) != 1
        or type(params.get("binary_data_size")) is not int
    ):
        return None
    datatype = item.get("datatype")
    fmt = _NUMERIC.get(datatype) if type(datatype) is str else None
    shape = item.get("shape")
    if fmt is None or type(shape) is not list or not 1 <= len(shape) <= 2:
        return None
    if not all(type(n) is int and n > 0 for n in shape):
        return None
    count = shape[0] if len(shape) == 1 else shape[0] * shape[1]
    if params["binary_data_size"] != len(data) or count * fmt[1] != len(data):
        return None
    table = request.get("parameters")
    if table is not None and (type(table) is not dict or "content_type" in table):
        return None
    packed: array[Any] = array(fmt[0])
    packed.frombytes(data)
    flat = packed.tolist()
    item["data"] = flat
    if len(shape) == 1:
        return flat
    width = shape[1]
    if shape[0] == 1:
        return [flat[:]]
    return [flat[i : i + width] for i in range(0, count, width)]


def answer(
    request_id: str, binary: frozenset[str], asked: tuple[str, ...], result: Any
) -> bytes | None:
    """The answer's bytes (as kaon.runtime.oip.answer frames them) when `result` is the
    common answer and the request asked for nothing else, else None."""
    name = "result"
    if type(result) is dict:
        if len(result) != 1:
            return None
        ((name, result),) = result.items()
        if type(name) is not str:
            return None
    if type(result) is not list or not result or (asked and asked != (name,)):
        return None
    if type(result[0]) is list:
        width = len(result[0])
        if not width or not all(type(row) is list and len(row) == width for row in result):
            return None
        flat = list(chain.from_iterable(result))
        shape = b"%d, %d" % (len(result), width)
    else:
        flat = result
        shape = b"%d" % len(result)
    kinds = frozenset(map(type, flat))
    if kinds == _INT:
        datatype = "INT64"
    elif kinds in _NUMBERS and all(map(math.isfinite, flat)):
        datatype = "FP64"
    else:
        return None
    rid = b'""' if not request_id else json.dumps(request_id).encode()
    head = b"%s%s%s%s], %s" % (_ID, rid, _named(name), shape, _DATATYPE[datatype])
    if "*" not in binary and name not in binary:
        return b'\n%s"data": %s}]}' % (head, json.dumps(flat).encode())
    try:
        blob = array("q" if datatype == "INT64" else "d", flat).tobytes()
    except OverflowError:
        return None  # an int past INT64: the general path says what to do
    header = b'%s"parameters": {"binary_data_size": %d}}]}' % (head, len(blob))
    return b"%d\n%s%s" % (len(header), header, blob)


_ID = b'{"id": '
_DATATYPE = {dt: b'"datatype": "%s", ' % dt.encode() for dt in ("INT64", "FP64")}
_NAMED: dict[str, bytes] = {}  # output name → the header's fixed part up to its shape


def _named(name: str) -> bytes:
    found = _NAMED.get(name)
    if found is None:
        if len(_NAMED) >= 1024:
            _NAMED.clear()
        found = b', "outputs": [{"name": %s, "shape": [' % json.dumps(name).encode()
        _NAMED[name] = found
    return found
