"""Open Inference Protocol v2 (KServe, MLServer, Triton) on the gateway: metadata, and the
answer of an inference request. The request itself is parsed by the replica
(kaon.runtime.oip): the gateway checks the binary header's length and passes the bytes
through; the replica answers `{"id", "outputs"}` (+ binary outputs) and the gateway adds the
model's name and version in front."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import kaon
from kaon.runtime.oiptensors import split_body
from kaon.services.endpointrun import Route

EXTENSIONS = ["binary_tensor_data", "parameters"]


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


class Answer(NamedTuple):
    body: bytes
    header_length: int | None  # set when binary outputs follow the JSON

    def header(self) -> dict[str, Any]:
        end = len(self.body) if self.header_length is None else self.header_length
        doc: dict[str, Any] = json.loads(self.body[:end])
        return doc


def answer(route: Route, replied: bytes) -> Answer:
    """The inference response from the replica's answer (kaon.runtime.oip.answer): its JSON
    header with the model's name and version first."""
    size, _, rest = replied.partition(b"\n")
    prefix = _PREFIXES.get((route.name, route.model_id, route.version))
    if prefix is None:
        prefix = _prefix(route.name, route.model_id or route.version or "")
        if len(_PREFIXES) >= 4096:
            _PREFIXES.clear()
        _PREFIXES[(route.name, route.model_id, route.version)] = prefix
    return Answer(prefix + rest[1:], len(prefix) - 1 + int(size) if size else None)


_PREFIXES: dict[tuple[str, str | None, str], bytes] = {}  # (name, model id, version) → prefix


def _prefix(name: str, version: str) -> bytes:
    return b'{"model_name": %s, "model_version": %s, ' % (
        json.dumps(name).encode(),
        json.dumps(version).encode(),
    )


def learned(request: bytes, header_length: str | None, done: Answer) -> dict[str, Any]:
    """The signature a successful request shows: its inputs, the answer's outputs (each with
    any batch size)."""
    inputs = split_body(request, header_length)[0]["inputs"]
    return {
        "inputs": [
            {
                "name": str(item.get("name") or f"input-{i}"),
                "datatype": item["datatype"],
                "shape": [-1, *item["shape"][1:]],
            }
            for i, item in enumerate(inputs)
        ],
        "outputs": [
            {"name": o["name"], "datatype": o["datatype"], "shape": [-1, *o["shape"][1:]]}
            for o in done.header()["outputs"]
        ],
    }
