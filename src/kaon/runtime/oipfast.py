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
from typing import Any, NamedTuple

from kaon.runtime.oiptensors import FIXED

# datatype → (array typecode, bytes per element): the numbers of the common request
_NUMERIC: dict[str, tuple[str, int]] = {k: v for k, v in FIXED.items() if k not in ("BOOL", "FP16")}
_INPUT_KEYS = frozenset(("name", "shape", "datatype", "parameters"))
_LITTLE = sys.byteorder == "little"
_INT = frozenset((int,))
_NUMBERS = (frozenset((float,)), frozenset((int, float)))


class Plan(NamedTuple):
    """How the common request's binary data becomes its payload."""

    typecode: str  # of its numbers (array)
    shape: tuple[int, ...]  # [n] or [n, k]
    size: int  # bytes of binary data


def plan(request: dict[str, Any]) -> Plan | None:
    """The Plan of the common request, or None when `request` is not the common one."""
    if not _LITTLE:
        return None
    inputs = request.get("inputs")
    if type(inputs) is not list or len(inputs) != 1:
        return None
    item = inputs[0]
    if type(item) is not dict or not item.keys() <= _INPUT_KEYS:
        return None
    params = item.get("parameters")
    if type(params) is not dict or len(params) != 1:
        return None
    size = params.get("binary_data_size")
    datatype = item.get("datatype")
    fmt = _NUMERIC.get(datatype) if type(datatype) is str else None
    shape = item.get("shape")
    if fmt is None or type(size) is not int or type(shape) is not list or len(shape) not in (1, 2):
        return None
    if not all(type(n) is int and n > 0 for n in shape):
        return None
    if math.prod(shape) * fmt[1] != size:
        return None
    table = request.get("parameters")
    if table is not None and (type(table) is not dict or "content_type" in table):
        return None
    return Plan(fmt[0], tuple(shape), size)


def payload(common: Plan, data: bytes) -> Any:
    """What predict() receives: `data` (the bytes after the JSON header) as `common` says,
    or None when it is not as many bytes as the request declares (the general path says so)."""
    if len(data) != common.size:
        return None
    packed: array[Any] = array(common.typecode)
    packed.frombytes(data)
    flat = packed.tolist()
    if len(common.shape) == 1:
        return flat
    rows, width = common.shape
    if rows == 1:
        return [flat]
    return [flat[i : i + width] for i in range(0, rows * width, width)]


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
    elif kinds in _NUMBERS and _finite(flat):
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


def _finite(numbers: list[Any]) -> bool:
    try:
        return all(map(math.isfinite, numbers))
    except OverflowError:  # an int past a float's range: the general path says what it does
        return False


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
