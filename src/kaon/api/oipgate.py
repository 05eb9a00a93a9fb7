"""Open Inference Protocol v2 routes on the gateway (shapes in kaon.api.oip):

    GET  /v2                                          server metadata
    GET  /v2/health/live | /v2/health/ready
    GET  /v2/models/<name>[/versions/<v>]            metadata
    GET  /v2/models/<name>[/versions/<v>]/ready
    POST /v2/models/<name>[/versions/<v>]/infer      JSON or binary tensors (oiptensors)

`<name>` is a release (its traffic picks the version), a `<release>-<version>` or a wave-1
name; `/versions/<v>` pins the version (its label or its model id): 404 when it has none.
A model's metadata lists its inputs and outputs (kaon.core.signatures): as its bundle declares
them (`signature.json`; an MLflow model's signature), else as learned from its first successful
request; stored per version in the database, so every server and a restarted one answer the
same, and cached here once found.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

from kaon.api.gatecore import GatewayCore
from kaon.api.oip import answer, learned, metadata, server_metadata
from kaon.api.replies import (
    JSON_TYPE,
    Receive,
    Scope,
    Send,
    TooLarge,
    error,
    json_reply,
    reply,
)
from kaon.runtime.oip import request_type
from kaon.runtime.oiptensors import header_size
from kaon.services.endpointrun import Choice, Route

_BINARY_TYPE = b"application/octet-stream"
_KNOWN_MAX = 4096  # versions whose signature is cached


class OipRoutes:
    def __init__(self, core: GatewayCore) -> None:
        self._core = core
        self._known: dict[str, dict[str, Any]] = {}  # version name -> its stored signature

    async def __call__(self, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        method = scope["method"]
        if parts in ([], [""]) and method == "GET":
            await json_reply(send, 200, server_metadata())
            return
        if parts[:1] == ["health"] and method == "GET":
            await json_reply(
                send, 200, {"live": True} if parts[1:] == ["live"] else {"ready": True}
            )
            return
        if len(parts) < 2 or parts[0] != "models" or not parts[1]:
            await error(send, 404, "unknown Open Inference Protocol path")
            return
        name, rest = parts[1], parts[2:]
        version: str | None = None
        if rest[:1] == ["versions"]:
            if len(rest) < 2 or not rest[1]:
                await error(send, 404, f"use /v2/models/{name}/versions/<version>/...")
                return
            version, rest = rest[1], rest[2:]
        choice = core.resolve(name, version=version)
        if choice is None:
            await core.unrouted(name, send, version=version)
            return
        route = choice.route
        if rest == ["ready"] and method == "GET":
            ready = bool(route.addresses)
            shown = None if route.auth else route  # a probe: no model id when guarded
            await json_reply(send, 200 if ready else 400, {"name": name, "ready": ready}, shown)
        elif route.auth and not await core.admitted(route, scope, receive, send):
            return
        elif not rest and method == "GET":
            await json_reply(send, 200, metadata(route, await self._signature(route)), route)
        elif rest == ["infer"] and method == "POST":
            await self._infer(choice, scope, receive, send)
        else:
            await error(send, 404, "unknown Open Inference Protocol path")

    async def _infer(self, choice: Choice, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        route = choice.route
        try:
            body = await core.body(scope, receive)
            encoding, length = _headers(scope)
            raw = _decoded(body, encoding, core.max_body)
            size = None if length is None else header_size(length, len(raw))
        except TooLarge:
            await error(send, 413, f"request body larger than {core.max_body} bytes", None, route)
            return
        except ValueError as exc:
            await error(send, 400, f"invalid inference request: {exc}", None, route)
            return
        # the bytes as they came: the replica parses them (kaon.runtime.oip)
        status, out, rid = await core.predict(choice, "oip", request_type(size), raw)
        if status == 400:  # what the replica found wrong in the request
            await error(send, 400, f"invalid inference request: {_said(out)}", None, route)
            return
        if status != 200:
            await reply(send, status, out, JSON_TYPE, route, rid)
            return
        done = answer(route, out)
        core.remember(rid, route, "oip", raw, done.body)  # as received, as answered
        first = None if route.name in self._known else learned(raw, length, done)
        if first is not None:  # known here at once; stored after the answer (it waits for none)
            self._keep(route, first)
        if done.header_length is None:
            await reply(send, 200, done.body, JSON_TYPE, route, rid)
        else:
            extra = [(b"inference-header-content-length", b"%d" % done.header_length)]
            await reply(send, 200, done.body, _BINARY_TYPE, route, rid, extra=extra)
        if first is not None:  # what is stored (declared, or learned first anywhere) wins
            loop = asyncio.get_running_loop()
            learn = core.platform.serving.learn_signature
            self._keep(route, await loop.run_in_executor(None, learn, route.name, first))

    async def _signature(self, route: Route) -> dict[str, Any] | None:
        """The version's stored signature (cached once found; asked again while it has none:
        another server may learn it)."""
        found = self._known.get(route.name)
        if found is None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(
                None, self._core.platform.serving.signature, route.name
            )
            if found is not None:
                self._keep(route, found)
        return found

    def _keep(self, route: Route, signature: dict[str, Any]) -> None:
        if len(self._known) >= _KNOWN_MAX:
            self._known.pop(next(iter(self._known)))
        self._known[route.name] = signature


def _headers(scope: Scope) -> tuple[bytes, str | None]:
    """The request's Content-Encoding and Inference-Header-Content-Length (None: JSON only),
    in one pass over its headers."""
    encoding, length = b"", b""
    for key, value in scope.get("headers", ()):
        if key == b"content-encoding":
            encoding = encoding or bytes(value)
        elif key == b"inference-header-content-length":
            length = length or bytes(value)
    return encoding, length.decode() or None


def _said(out: bytes) -> str:
    """The error of a replica's 400 ({"error": ...})."""
    try:
        return str(json.loads(out)["error"])
    except (ValueError, KeyError, TypeError):
        return out.decode("utf-8", "replace")


def _decoded(body: bytes, encoding: bytes, limit: int) -> bytes:
    """The body without its Content-Encoding (gzip or deflate, as tritonclient sends); at most
    `limit` bytes once decompressed (TooLarge past it)."""
    if not encoding or encoding == b"identity":
        return body
    if encoding not in (b"gzip", b"deflate"):
        raise ValueError(f"Content-Encoding {encoding.decode()!r} is not supported (gzip, deflate)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == b"gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"the body is not valid {encoding.decode()} data: {exc}") from None
    if len(out) > limit:
        raise TooLarge
    if not inflater.eof:
        raise ValueError(f"the body is not valid {encoding.decode()} data: it ends early")
    return out
