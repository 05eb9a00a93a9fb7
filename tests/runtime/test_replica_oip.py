"""A replica takes Open Inference Protocol v2 requests itself (JSON or binary tensors), so the
gateway passes their bytes through (found by benchmarks/serve.py: the gateway decoded binary
tensors and re-encoded them as JSON for the replica, and the answer back, ~110 µs of its CPU
per request: OIP binary at 0.63x kaon's own /invocations). A real replica process, over its
Unix socket, with a plain module and a batching one."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.runtime.oip import OIP_TYPE, request_type
from kaon.runtime.protocol import read_frame, write_frame

PLAIN = """
def predict(payload, ctx):
    if isinstance(payload, dict):
        return {k: [[v * 2 for v in row] for row in rows] for k, rows in payload.items()}
    return [[v * 2 for v in row] for row in payload] if isinstance(payload[0], list) else payload
"""

BATCHING = """
def predict(payload, ctx):
    return predict_batch([payload], ctx)[0]

def predict_batch(payloads, ctx):
    return [[[v + 1 for v in row] for row in p] for p in payloads]
"""


def _replica(tmp_path: Path, source: str) -> Iterator[str]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "model.py").write_text(source)
    path = str(tmp_path / "r.sock")
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kaon.runtime.replica", "--socket", path, "--code", str(code),
         "--module", "model", "--model-dir", str(tmp_path)],
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        while not Path(path).exists():
            assert proc.poll() is None, "the replica exited"
            time.sleep(0.05)
        yield path
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[str]:
    yield from _replica(tmp_path, PLAIN)


@pytest.fixture
def batching(tmp_path: Path) -> Iterator[str]:
    yield from _replica(tmp_path, BATCHING)


def _call(path: str, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        write_frame(sock, header, body)
        return read_frame(sock)


def _binary(values: list[float]) -> tuple[bytes, int]:
    tensor = {
        "name": "x",
        "shape": [1, len(values)],
        "datatype": "FP64",
        "parameters": {"binary_data_size": 8 * len(values)},
    }
    head = json.dumps({"id": "r-7", "inputs": [tensor], "parameters": {"binary_data_output": True}})
    return head.encode() + struct.pack(f"<{len(values)}d", *values), len(head)


def _answer(out: bytes) -> tuple[dict[str, Any], bytes]:
    """The replica's OIP answer: its JSON header's length (none when no output is binary), a
    newline, the header, the binary outputs."""
    size, _, rest = out.partition(b"\n")
    n = int(size) if size else len(rest)
    return json.loads(rest[:n]), rest[n:]


def test_binary_tensors_in_binary_tensors_out(plain: str) -> None:
    body, n = _binary([1.0, 2.5])
    reply, out = _call(plain, {"op": "predict", "id": "a", "content_type": request_type(n)}, body)
    assert reply["status"] == 200, reply
    doc, data = _answer(out)
    assert doc == {
        "id": "r-7",
        "outputs": [
            {
                "name": "result",
                "shape": [1, 2],
                "datatype": "FP64",
                "parameters": {"binary_data_size": 16},
            }
        ],
    }
    assert struct.unpack("<2d", data) == (2.0, 5.0)


def test_json_tensors_and_named_outputs(plain: str) -> None:
    request = {
        "inputs": [
            {"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]},
            {"name": "b", "shape": [1, 1], "datatype": "INT64", "data": [[3]]},
        ]
    }
    header = {"op": "predict", "id": "a", "content_type": request_type(None)}
    reply, out = _call(plain, header, json.dumps(request).encode())
    assert reply["status"] == 200, reply
    doc, data = _answer(out)
    assert data == b""
    assert doc["outputs"] == [
        {"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [2, 4]},
        {"name": "b", "shape": [1, 1], "datatype": "INT64", "data": [6]},
    ]


def test_bad_requests_are_400s_saying_what(plain: str) -> None:
    body, n = _binary([1.0, 2.5])
    cases = {
        "only 12 are left": (body[:-4], n),
        "is not JSON": (b"x" + body[1:], n),
        "past the end of the body": (body, len(body) + 1),
    }
    for said, (sent, size) in cases.items():
        header = {"op": "predict", "id": "a", "content_type": request_type(size)}
        reply, out = _call(plain, header, sent)
        assert reply["status"] == 400 and said in reply["error"], (said, reply)
        assert out == b""
    unknown = {
        "inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1]}],
        "outputs": [{"name": "probs"}],
    }
    header = {"op": "predict", "id": "a", "content_type": OIP_TYPE}
    reply, _ = _call(plain, header, json.dumps(unknown).encode())
    assert reply["status"] == 400 and "unknown output 'probs'" in reply["error"], reply


def test_a_batch_of_oip_and_json_parts(batching: str) -> None:
    body, n = _binary([1.0, 2.0])
    parts = [
        (request_type(n), body),
        ("application/json", b"[[1, 2]]"),
        (request_type(n), body[:-1]),
    ]
    header = {
        "op": "batch",
        "id": "b",
        "parts": [{"content_type": c, "size": len(b)} for c, b in parts],
    }
    reply, out = _call(batching, header, b"".join(b for _, b in parts))
    assert reply["status"] == 200, reply
    first, second, third = reply["parts"]
    assert first["status"] == 200 and second["status"] == 200
    assert third["status"] == 400 and "bytes" in third["error"], third
    doc, data = _answer(out[: first["size"]])
    assert doc["outputs"][0]["shape"] == [1, 2] and struct.unpack("<2d", data) == (2.0, 3.0)
    assert json.loads(out[first["size"] :]) == [[2, 3]]
