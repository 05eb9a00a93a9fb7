"""Open Inference Protocol v2 routes on the gateway (shapes in kaon.api.oip):

    GET  /v2                                          server metadata
    GET  /v2/health/live | /v2/health/ready
    GET  /v2/models/<name>[/versions/<v>]            metadata
    GET  /v2/models/<name>[/versions/<v>]/ready
    POST /v2/models/<name>[/versions/<v>]/infer      JSON or binary tensors (oiptensors)

`<name>` is a release (its traffic picks the version), a `<release>-<version>` or a wave-1
name; `/versions/<v>` pins the version (its label or its model id): 404 when it has none.
A model's metadata lists its inputs and outputs as learned from its first successful request
(kept per version in this server's memory until it restarts).
"""

from __future__ import annotations

import json
import zlib

from kaon.api.gatecore import GatewayCore
from kaon.api.oip import Signature, answer, metadata, parse, server_metadata
from kaon.api.replies import (
    JSON_TYPE,
    Receive,
    Scope,
    Send,
    TooLarge,
    error,
    header,
    json_reply,
    reply,
)
from kaon.services.endpointrun import Choice, Route

_BINARY_TYPE = b"application/octet-stream"
_LEARNED_MAX = 4096  # versions whose signature is kept


class OipRoutes:
    def __init__(self, core: GatewayCore) -> None:
        self._core = core
        self._learned: dict[tuple[str, str], Signature] = {}

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
            await json_reply(send, 200, metadata(route, self._learned.get(_key(route))), route)
        elif rest == ["infer"] and method == "POST":
            await self._infer(choice, scope, receive, send)
        else:
            await error(send, 404, "unknown Open Inference Protocol path")

    async def _infer(self, choice: Choice, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        route = choice.route
        try:
            body = await core.body(scope, receive)
            raw = _decoded(body, header(scope, b"content-encoding"), core.max_body)
            length = header(scope, b"inference-header-content-length").decode() or None
            inference = parse(raw, length)
        except TooLarge:
            await error(send, 413, f"request body larger than {core.max_body} bytes", None, route)
            return
        except ValueError as exc:
            await error(send, 400, f"invalid inference request: {exc}", None, route)
            return
        payload = json.dumps(inference.payload).encode()
        status, out, rid = await core.predict(choice, "oip", "application/json", payload)
        if status != 200:
            await reply(send, status, out, JSON_TYPE, route, rid)
            return
        try:
            done = answer(route, inference, json.loads(out))
        except ValueError as exc:
            await error(send, 400, f"invalid inference request: {exc}", None, route)
            return
        if _key(route) not in self._learned:
            self._learn(route, Signature(inference.inputs(), done.signature()))
        core.remember(rid, route, "oip", raw, done.body)  # as received, as answered
        if done.header_length is None:
            await reply(send, 200, done.body, JSON_TYPE, route, rid)
        else:
            extra = [(b"inference-header-content-length", str(done.header_length).encode())]
            await reply(send, 200, done.body, _BINARY_TYPE, route, rid, extra=extra)

    def _learn(self, route: Route, signature: Signature) -> None:
        if len(self._learned) >= _LEARNED_MAX:
            self._learned.pop(next(iter(self._learned)))
        self._learned[_key(route)] = signature


def _key(route: Route) -> tuple[str, str]:
    return route.name, route.model_id or route.version


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
