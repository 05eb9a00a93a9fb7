"""The fast path of the common OIP request and answer (kaon.runtime.oipfast, taken first by
kaon.runtime.oip.parse and .answer) gives what the general path gives, bytes for bytes, for
every datatype it takes; anything else falls back to the general path (its payloads, its
answers, its errors). Found by benchmarks/serve.py: OIP v2 binary at 0.93x /invocations, the
replica's general decode and answer building ~30 µs of its CPU per request."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from kaon.runtime import oip, oipfast

FORMATS = {
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP32": "f",
    "FP64": "d",
}


def _body(
    datatype: str,
    shape: list[int],
    values: list[Any],
    fmt: str | None = None,
    **request: Any,
) -> tuple[bytes, str]:
    raw = struct.pack(f"<{len(values)}{fmt or FORMATS[datatype]}", *values)
    tensor = {
        "name": "x",
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": len(raw)},
    }
    header = json.dumps({"inputs": [tensor], **request}).encode()
    return header + raw, str(len(header))


def _same(fast: oip.Inference, general: oip.Inference) -> None:
    assert fast.payload == general.payload
    assert (fast.binary, fast.asked) == (general.binary, general.asked)
    assert fast.request.get("id") == general.request.get("id")


def _both(body: bytes, size: str) -> tuple[oip.Inference, oip.Inference]:
    """The fast path's Inference (the header's first parse, then the one kept) and the
    general path's."""
    first = oip.parse(body, size)
    again = oip.parse(body, size)
    general = oip.parse(body, size, fast=False)
    _same(first, general)
    return again, general


@pytest.mark.parametrize("datatype", list(FORMATS))
@pytest.mark.parametrize("shape", [[6], [1, 6], [3, 2], [2, 3]])
def test_each_datatype_and_shape_parses_as_the_general_path(
    datatype: str, shape: list[int]
) -> None:
    values: list[Any] = [1.5, -2.25, 0.0, 3.0, 100.0, 7.5] if datatype[:2] == "FP" else []
    if not values:
        values = [0, 1, 2, 3, 100, 127] if datatype[0] == "U" else [-128, -1, 0, 1, 2, 127]
    body, size = _body(datatype, shape, values, binary_data_output=True)
    header = json.loads(body[: int(size)])
    assert oipfast.plan(header) is not None  # the fast path takes it
    fast, general = _both(body, size)
    _same(fast, general)
    width = shape[-1]
    rows = [values[i : i + width] for i in range(0, len(values), width)]
    assert fast.payload == (values if len(shape) == 1 else rows)


def test_the_benchmarks_request_rows_and_outputs_asked() -> None:
    body, size = _body(
        "FP64",
        [1, 4],
        [0.0, 1.0, 16.0, 3.5],
        id="req-7",
        outputs=[{"name": "result", "parameters": {"binary_data": True}}],
    )
    fast, general = _both(body, size)
    _same(fast, general)
    assert fast.payload == [[0.0, 1.0, 16.0, 3.5]]
    assert fast.request["id"] == "req-7"
    assert (fast.binary, fast.asked) == (frozenset({"result"}), ("result",))


@pytest.mark.parametrize(
    "change",
    [
        {"datatype": "BOOL"},  # not numbers
        {"datatype": "FP16"},
        {"shape": [1, 1, 4]},  # three dimensions
        {"shape": [0, 4]},  # no rows
        {"name": "x", "extra": 1},  # a key the fast path does not know
        {"parameters": {"binary_data_size": 32, "content_type": "np"}},
    ],
)
def test_other_inputs_fall_back_to_the_general_path(change: dict[str, Any]) -> None:
    raw = struct.pack("<4d", 1.0, 2.0, 3.0, 4.0)
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP64"}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    tensor |= change
    header = json.dumps({"inputs": [tensor]}).encode()
    assert oipfast.plan(json.loads(header)) is None
    _same_parse(header + raw, str(len(header)))


@pytest.mark.parametrize(
    "request_",
    [
        {"parameters": {"content_type": "pd"}},  # columns
        {"parameters": {"content_type": "np"}},
        {"parameters": "no"},  # the general path's error
        {"outputs": "no"},
    ],
)
def test_request_parameters_fall_back_to_the_general_path(request_: dict[str, Any]) -> None:
    _same_parse(*_body("FP64", [2, 2], [1.0, 2.0, 3.0, 4.0], **request_))


def _same_parse(body: bytes, size: str) -> None:
    """The fast and the general path agree: the same Inference, or the same error."""
    try:
        general = oip.parse(body, size, fast=False)
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            oip.parse(body, size)
        assert str(caught.value) == str(exc)
    else:
        assert oip.parse(body, size) == general
        assert oip.parse(body, size) == general  # a second time: nothing kept from the first


def test_bytes_that_do_not_fit_still_say_what_is_wrong() -> None:
    body, size = _body("FP64", [1, 4], [1.0, 2.0, 3.0, 4.0])
    oip.parse(body, size)  # its header is now known: what follows it is still checked
    for cut in (body[:-8], body + b"\0" * 8):  # too few, too many bytes for the shape
        with pytest.raises(ValueError) as fast:
            oip.parse(cut, size)
        with pytest.raises(ValueError) as general:
            oip.parse(cut, size, fast=False)
        assert str(fast.value) == str(general.value)


def _inference(binary: bool, asked: tuple[str, ...] = (), rid: str = "") -> oip.Inference:
    request: dict[str, Any] = {"id": rid} if rid else {}
    return oip.Inference(request, None, frozenset({"*"} if binary else ()), asked)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize(
    "result",
    [
        {"result": [3]},  # the mnist template's answer (INT64)
        {"result": [3, 1, 4, 1, 5]},
        [0.25, 1.5, -3.0],  # FP64
        [1, 2.5],  # ints and floats: FP64
        [[0.1, 0.9], [0.7, 0.3]],  # rows (predict_proba)
        [[1, 2, 3]],
        {"label": [7, 8]},  # named by the model
        {'évaluation "q"': [1.0]},  # a name JSON escapes
        [2**63 - 1, -(2**63)],
    ],
)
def test_each_common_answer_is_the_general_paths_bytes(binary: bool, result: Any) -> None:
    for inference in (_inference(binary), _inference(binary, rid='r-"1" é')):
        rid = str(inference.request.get("id", ""))
        fast = oipfast.answer(rid, inference.binary, inference.asked, result)
        assert fast is not None  # the fast path takes it
        assert fast == oip.answer(inference, result, fast=False)
        assert oip.answer(inference, result) == fast


def test_an_output_asked_by_name_takes_the_fast_path() -> None:
    named = oip.Inference({}, None, frozenset({"label"}), ("label",))
    result = {"label": [7]}
    assert oipfast.answer("", named.binary, named.asked, result) is not None
    assert oip.answer(named, result) == oip.answer(named, result, fast=False)


@pytest.mark.parametrize(
    "result",
    [
        [True, False],  # BOOL
        ["a", "b"],  # BYTES
        [1, None],
        [],
        [[]],
        [[1, 2], [3]],  # ragged
        [[1, 2], 3],
        [[[1]]],  # three dimensions
        [float("nan")],
        [2**63],  # past INT64: the general path's error (binary)
        [10**400, 1.5],  # past a float's range
        {"a": [1], "b": [2]},  # two outputs
        {"result": [1], "extra": [2]},
        {},
        5,
        "text",
    ],
)
@pytest.mark.parametrize("binary", [True, False])
def test_other_answers_fall_back_to_the_general_path(result: Any, binary: bool) -> None:
    inference = _inference(binary)
    common = oipfast.answer("", inference.binary, inference.asked, result)
    if binary or result != [2**63]:  # an int past INT64 is fine in JSON
        assert common is None
    try:
        general = oip.answer(inference, result, fast=False)
    except (ValueError, OverflowError) as exc:
        with pytest.raises(type(exc)) as caught:
            oip.answer(inference, result)
        assert str(caught.value) == str(exc)
    else:
        assert oip.answer(inference, result) == general


def test_an_unknown_output_asked_is_the_general_paths_error() -> None:
    inference = oip.Inference({}, None, frozenset({"*"}), ("nope",))
    assert oipfast.answer("", inference.binary, inference.asked, {"result": [1]}) is None
    with pytest.raises(ValueError, match="unknown output 'nope'"):
        oip.answer(inference, {"result": [1]})
