"""The SeldonMessage codec (kaon.api.seldon): what predict receives for each data kind, what
the answer looks like for each result, and the bad bodies refused in Seldon's shape."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kaon.api.seldon import SeldonError, decode, encode, failure, reshape, truth_value

META = {"puid": "p1", "requestPath": {"petset": "m1"}, "tags": {"model_version": "c517ec"}}


def payload(message: Any) -> tuple[str, str, Any]:
    request = decode(json.dumps(message).encode())
    body = request.body if request.content_type != "application/json" else json.loads(request.body)
    return request.kind, request.content_type, body


def test_each_data_kind_becomes_what_predict_receives() -> None:
    assert payload({"data": {"names": [], "ndarray": [[1, 2], [3, 4]]}}) == (
        "ndarray",
        "application/json",
        [[1, 2], [3, 4]],
    )
    tensor = {"data": {"names": ["a", "b"], "tensor": {"shape": [2, 1, 2], "values": [1, 2, 3, 4]}}}
    assert payload(tensor) == ("tensor", "application/json", [[[1, 2]], [[3, 4]]])
    assert payload({"strData": "hello"}) == ("strData", "application/json", "hello")
    assert payload({"jsonData": {"x": [1]}}) == ("jsonData", "application/json", {"x": [1]})
    raw = base64.b64encode(b"\x00\xffjpeg").decode()
    assert payload({"binData": raw, "meta": {}}) == (
        "binData",
        "application/octet-stream",
        b"\x00\xffjpeg",
    )
    assert decode(json.dumps(tensor).encode()).names == ("a", "b")


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"meta": {}}, "got none"),
        ({"strData": "a", "jsonData": 1}, "strData and jsonData"),
        ({"data": {"names": []}}, "exactly one of ndarray or tensor"),
        ({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}}, "has 3 values"),
        ({"data": {"tftensor": {}}}, "tftensor is not supported"),
        ({"binData": "not base64!"}, "not valid base64"),
        ({"customData": {}}, "customData is not supported"),
        ([1, 2], "JSON object"),
        ({"data": {"ndarray": 5}}, "must be a (nested) list"),
    ],
)
def test_bad_messages_say_what_is_wrong(message: Any, says: str) -> None:
    with pytest.raises(SeldonError) as caught:
        decode(json.dumps(message).encode())
    assert says in str(caught.value)


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(SeldonError, match="not JSON"):
        decode(b"\xff not json")


def test_answers_take_the_request_kind_when_the_result_fits() -> None:
    nd = json.loads(encode(b"[[2,4]]", "ndarray", META))
    assert nd == {"data": {"names": [], "ndarray": [[2, 4]]}, "meta": META}
    kaos = json.loads(encode(b'{"result": [[2, 4]]}', "ndarray", META))
    assert kaos["data"]["ndarray"] == [[2, 4]]
    tensor = json.loads(encode(b"[[1,2,3],[4,5,6]]", "tensor", META))
    assert tensor["data"]["tensor"] == {"shape": [2, 3], "values": [1, 2, 3, 4, 5, 6]}
    assert json.loads(encode(b'"HI"', "strData", META))["strData"] == "HI"
    assert json.loads(encode(b'{"a": 1}', "jsonData", META))["jsonData"] == {"a": 1}
    assert json.loads(encode(b"[1]", "jsonData", META))["jsonData"] == [1]
    binary = json.loads(encode(b'"bytes"', "binData", META))["binData"]
    assert base64.b64decode(binary) == b"bytes"


def test_answers_that_do_not_fit_fall_back_by_type() -> None:
    assert json.loads(encode(b'{"a": 1}', "ndarray", META))["jsonData"] == {"a": 1}
    assert json.loads(encode(b'"label"', "tensor", META))["strData"] == "label"
    ragged = json.loads(encode(b"[[1],[2,3]]", "tensor", META))
    assert ragged["data"]["ndarray"] == [[1], [2, 3]]
    assert json.loads(encode(b"[1,2]", "strData", META))["data"]["ndarray"] == [1, 2]
    assert json.loads(encode(b"7", "ndarray", META))["jsonData"] == 7


def test_failure_is_seldons_status_shape() -> None:
    doc = json.loads(failure(400, "bad"))
    assert doc == {
        "status": {"code": 400, "info": "bad", "reason": "BAD_DATA", "status": "FAILURE"}
    }


def test_truth_is_stored_as_predict_would_have_received_it() -> None:
    assert truth_value({"data": {"ndarray": [[1]]}}) == [[1]]
    assert truth_value({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}) == [[1, 2]]
    assert truth_value({"strData": "cat"}) == "cat"
    assert truth_value(None) is None
    assert reshape([1, 2, 3, 4, 5, 6], [3, 2]) == [[1, 2], [3, 4], [5, 6]]
