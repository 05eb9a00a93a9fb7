"""The gateway's raw ASGI vocabulary: the types, reading a request body within a limit, and
JSON replies carrying the model id, version and request id headers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kaon.services.endpointrun import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DRAIN_LIMIT = 64 * 1024 * 1024  # larger bodies get their 413 before they are read
JSON_TYPE = b"application/json"


class TooLarge(Exception):
    pass


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request's body; TooLarge (after reading it to the end, so the client sees the
    answer, unless it declares more than DRAIN_LIMIT) when it is over `limit` bytes."""
    declared = header(scope, b"content-length")
    if declared.isdigit() and int(declared) > DRAIN_LIMIT:
        raise TooLarge  # not worth reading: the connection is closed after the answer
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            if size > limit:  # read to the end, so the client sees the 413
                raise TooLarge
            return b"".join(chunks)


def header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return b""


def version_of(route: Route) -> str:
    """The version label an answer carries (X-Kaon-Version, Seldon's meta): "1" for an
    endpoint deployed before versions existed (as its feedback records it)."""
    return route.version or "1"


def err_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def error(
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    route: Route | None = None,
) -> None:
    """An error answer; with `route` (the version chosen) it carries its headers."""
    await reply(send, status, err_body(message), JSON_TYPE, route, extra=extra)


async def json_reply(send: Send, status: int, doc: Any, route: Route | None = None) -> None:
    await reply(send, status, json.dumps(doc).encode(), JSON_TYPE, route)


async def reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    route: Route | None = None,
    request_id: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    if route is not None:
        headers.append((b"x-kaon-model-id", (route.model_id or "").encode()))
        headers.append((b"x-kaon-version", version_of(route).encode()))
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
