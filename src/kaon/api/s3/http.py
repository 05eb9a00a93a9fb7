"""Raw ASGI plumbing of the S3 gateway: the parsed request, bodies in, responses out.

Bodies are streamed to a file as they arrive (aws-chunked decoded, every digest the client
sent checked), never held whole in memory; responses are XML documents, or an object's bytes
read chunk by chunk in worker threads.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

import anyio.to_thread

from kaon.core.errors import InvalidInput
from kaon.core.s3 import sigv4
from kaon.core.s3.awschunked import ChunkedDecoder
from kaon.core.s3.bodycheck import BodyCheck

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")
XML = b"application/xml"
MAX_XML = 2 * 1024 * 1024


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


@dataclass
class Request:
    method: str
    raw_path: str  # as sent (percent-encoded): what the client signed
    raw_query: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]  # lowercase names, repeated joined with ','; values UTF-8 decoded
    extra: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def from_scope(scope: Scope) -> Request:
        raw = scope.get("raw_path") or scope["path"].encode()
        raw_path = bytes(raw).decode("latin-1").split("?", 1)[0]
        path: str = scope["path"]
        bucket, _, key = path.lstrip("/").partition("/")
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            k = bytes(name).decode("latin-1").lower()
            v = _text(bytes(value))
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        raw_query = bytes(scope.get("query_string", b"")).decode("latin-1")
        return Request(
            scope["method"],
            raw_path,
            raw_query,
            bucket,
            key,
            dict(sigv4.query_pairs(raw_query)),
            headers,
        )

    @property
    def resource(self) -> str:
        return "/" + "/".join(p for p in (self.bucket, self.key) if p)


def _text(value: bytes) -> str:
    """A header value: UTF-8 as AWS SDKs send it (and sign it), else latin-1."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    content_type: bytes = XML,
    head: bool = False,
) -> None:
    out = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers or []]
    if body or not any(k == b"content-length" for k, _ in out):
        out.append((b"content-length", str(len(body)).encode()))
    if body:
        out.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def stream(
    send: Send, status: int, headers: list[tuple[str, str]], pieces: Iterator[bytes]
) -> None:
    """Send `pieces` (a blocking iterator, advanced in worker threads) as the body."""
    out = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": out})
    while True:
        piece = await anyio.to_thread.run_sync(next, pieces, None)
        if piece is None:
            break
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def read_small(receive: Receive, limit: int = MAX_XML) -> bytes:
    """A small body (an XML request) in memory."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise InvalidInput(f"request body larger than {limit} bytes", s3_code="MalformedXML")
        parts.append(piece)
        if not message.get("more_body"):
            return b"".join(parts)


async def drain(receive: Receive) -> None:
    """Read what is left of a body and drop it."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            return


async def receive_into(
    receive: Receive,
    req: Request,
    signing: sigv4.Verified | None,
    out: BinaryIO,
    md5: bool = False,
) -> BodyCheck:
    """Write the (decoded) body to `out`, checking signatures and digests; the check done."""
    payload = signing.payload_hash if signing else req.headers.get("x-amz-content-sha256", "")
    chunked = payload in sigv4.STREAMING or (  # a Content-Encoding alone may be the object's
        "aws-chunked" in req.headers.get("content-encoding", "")
        and "x-amz-decoded-content-length" in req.headers
    )
    decoder: ChunkedDecoder | None = None
    if chunked:
        signed = payload in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER)
        decoder = ChunkedDecoder(signing if signed and signing else None)
    check = BodyCheck(req.headers, "" if chunked else payload, md5=md5)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        data = message.get("body", b"")
        for piece in decoder.feed(data) if decoder else (data,):
            if piece:
                check.update(piece)
                out.write(piece)
        if not message.get("more_body"):
            break
    if decoder is not None:
        decoder.finish()
    check.verify(decoder.trailers if decoder else None)
    declared = req.headers.get("x-amz-decoded-content-length", "")
    if chunked and declared.isdigit() and int(declared) != check.size:
        raise InvalidInput(
            f"received {check.size} bytes, x-amz-decoded-content-length says {declared}",
            s3_code="InvalidArgument",
        )
    return check
