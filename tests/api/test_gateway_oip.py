"""The Open Inference Protocol v2 on the gateway, with the real Triton/KServe client
(`tritonclient[http]`) using its defaults (found from outside: its binary tensors were refused
with 400 "Extra data", `GET /v2` answered 404 and model metadata listed no inputs), and the
bad bodies a client can send, over a real server and a real endpoint."""

from __future__ import annotations

import gzip
import json
import struct
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as triton

from e2e.helpers import Kaon

from .gatewayed import call, deploy, train_model

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    k = Kaon(tmp_path_factory.mktemp("kaon-oip"))
    try:
        k.up()
        model, serve = train_model(k, tmp_path_factory.mktemp("bundles"), "oipws")
        endpoint = deploy(k, serve, model, "oipws", "--name", "digits", "--version", "v1")
        base = k.server()["url"]  # type: ignore[index]
        client = triton.InferenceServerClient(urlsplit(base).netloc)
        yield {
            "kaon": k,
            "model": model,
            "name": endpoint["release"] or "digits",
            "base": base,
            "client": client,
        }
        client.close()
    finally:
        k.shutdown()


def test_server_metadata_and_health_through_the_client(served: dict[str, Any]) -> None:
    client = served["client"]
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "kaon" and "binary_tensor_data" in meta["extensions"]
    assert client.is_model_ready("digits")


def test_infer_with_the_clients_defaults_binary_both_ways(served: dict[str, Any]) -> None:
    client = served["client"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    given = triton.InferInput("x", [2, 3], "FP32")
    given.set_data_from_numpy(x)  # binary_data=True: the client's default
    result = client.infer("digits", [given], request_id="r-1")
    got = result.as_numpy("result")
    assert got is not None and got.shape == (2, 3)
    assert np.array_equal(got, x * 2)
    response = result.get_response()
    assert response["id"] == "r-1" and response["model_version"] == served["model"]
    meta = client.get_model_metadata("digits")
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["outputs"] == [{"name": "result", "datatype": "FP64", "shape": [-1, 3]}]


def test_bytes_ints_json_outputs_versions_and_gzip(served: dict[str, Any]) -> None:
    client = served["client"]
    words = triton.InferInput("s", [2], "BYTES")
    words.set_data_from_numpy(np.array([b"ab", "c\u00e9".encode()], dtype=np.object_))
    got = client.infer("digits", [words]).as_numpy("result")
    assert got is not None and [v.decode() for v in got] == ["abab", "c\u00e9c\u00e9"]
    n = triton.InferInput("n", [3], "INT64")
    n.set_data_from_numpy(np.array([1, 2, 3], dtype=np.int64), binary_data=False)
    out = triton.InferRequestedOutput("result", binary_data=False)
    result = client.infer(
        "digits", [n], outputs=[out], model_version="v1", request_compression_algorithm="gzip"
    )
    doc = result.get_response()
    assert doc["outputs"][0]["data"] == [2, 4, 6] and doc["outputs"][0]["datatype"] == "INT64"
    with pytest.raises(triton.InferenceServerException, match=r"404|version"):
        client.infer("digits", [n], model_version="nope")


def _binary(header: dict[str, Any], data: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + data, {"Inference-Header-Content-Length": str(len(head))}


def test_bad_binary_bodies_are_clear_400s(served: dict[str, Any]) -> None:
    url = f"{served['base']}/v2/models/digits/infer"
    fp32 = {"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}
    body, headers = _binary({"inputs": [fp32]}, struct.pack("<2f", 1.0, 2.0))
    status, _, doc = call(url, raw=body, headers=headers)
    assert status == 200 and doc["outputs"][0]["data"] == [2.0, 4.0], doc
    cases = {
        "past the end": (body, {"Inference-Header-Content-Length": str(len(body) + 10)}),
        "needs 8 bytes, got 5": _binary(
            {"inputs": [{**fp32, "parameters": {"binary_data_size": 5}}]}, b"\0" * 5
        ),
        "holds 3 values, data has 2": (
            {"inputs": [{"name": "x", "shape": [3], "datatype": "INT64", "data": [1, 2]}]},
            {},
        ),
        "is not one of": (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP128", "data": [1]}]},
            {},
        ),
        "only 4 are left": _binary({"inputs": [fp32]}, b"\0" * 4),
        "unknown output 'probs'": (
            {
                "inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1]}],
                "outputs": [{"name": "probs"}],
            },
            {},
        ),
        "runs past the data": _binary(
            {
                "inputs": [
                    {
                        "name": "s",
                        "shape": [1],
                        "datatype": "BYTES",
                        "parameters": {"binary_data_size": 6},
                    }
                ]
            },
            struct.pack("<I", 9) + b"ab",
        ),
    }
    for said, (sent, extra) in cases.items():
        raw = sent if isinstance(sent, bytes) else json.dumps(sent).encode()
        status, _, doc = call(url, raw=raw, headers=extra)
        assert status == 400 and said in doc["error"], (said, status, doc)
    status, _, doc = call(
        url, raw=gzip.compress(b"x" * 10)[:-4], headers={"Content-Encoding": "gzip"}
    )
    assert status == 400 and "gzip" in doc["error"], doc


def test_learned_metadata_is_stored_and_answered_after_a_restart(served: dict[str, Any]) -> None:
    """Found from outside: the signature learned from the first request lived in one server's
    memory; a restarted server (or another of the platform) answered `inputs: []`. Last in
    this module: it restarts the server."""
    k = served["kaon"]
    base = served["base"]
    status, _, before = call(f"{base}/v2/models/digits", method="GET")
    assert status == 200 and before["inputs"], before  # learned by an earlier test's infer
    k.shutdown()
    k.up()
    base = k.server()["url"]
    deadline = time.monotonic() + 120
    while True:  # the endpoint comes back with the platform; its metadata needs no replica
        status, _, after = call(f"{base}/v2/models/digits", method="GET")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, after
    assert (
        after["inputs"] == before["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    )
    assert after["outputs"] == before["outputs"]
