"""The framed protocol between the gateway and a replica over a Unix stream socket.

A frame is a 4-byte big-endian header length, the header (a UTF-8 JSON object), a 4-byte
big-endian body length, then the body bytes. One request at a time per connection: the gateway
pools connections, a replica serves many connections at once.

Requests (gateway → replica):
  {"op": "predict", "id": str, "content_type": str} + the payload
  {"op": "batch", "id": str, "parts": [{"content_type": str, "size": int}, ...]}
      + the payloads, concatenated
  {"op": "ping"} + empty body

Responses (replica → gateway):
  predict: {"id", "status": int, "content_type": "application/json", "error": str (only
      when status != 200)} + the JSON of the result (empty when status != 200); for a request
      of content type `application/x-kaon-oip` (an Open Inference Protocol request the gateway
      passed through, kaon.runtime.oip) the body is that protocol's answer, framed as
      kaon.runtime.oip.answer says, and a 400 says what is wrong with the request
  batch: {"id", "status": 200, "parts": [{"status", "size", "error"?}, ...]}
      + the JSON results, concatenated
  ping: {"status": 200, "ready": true, "batch": bool, "pid": int} + empty body
  a request the replica cannot take (unknown op, parts that do not match the body, results
      over the size limit): {"id", "status": 400 or 500, "error": str} + empty body
A malformed frame closes the connection without a response.

stdlib only: this module is copied into user environments (see kaon.runtime).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any, BinaryIO

MAX_FRAME = 64 << 20  # bytes of header + body in one frame
JSON_TYPE = "application/json"

_SMALL = 1 << 16  # bodies below this size are copied behind the header and sent in one write
_LENGTH = struct.Struct(">I")
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class ProtocolError(ValueError):
    """A frame that cannot be read: bad lengths, bad header, or cut off in the middle."""


def encode(header: dict[str, Any], body: bytes = b"", max_size: int = MAX_FRAME) -> bytes:
    """The bytes of one frame (header and body copied into one buffer: meant for small
    bodies; `write_*` send large bodies without copying them)."""
    return _prefix(header, body, max_size) + body


def _prefix(header: dict[str, Any], body: bytes, max_size: int) -> bytes:
    raw = _COMPACT.encode(header).encode()
    if len(raw) + len(body) > max_size:
        raise ProtocolError(f"frame of {len(raw) + len(body)} bytes exceeds {max_size} bytes")
    return b"".join((_LENGTH.pack(len(raw)), raw, _LENGTH.pack(len(body))))


def _header_length(raw: bytes, max_size: int) -> int:
    size: int = _LENGTH.unpack(raw)[0]
    if size > max_size:
        raise ProtocolError(f"header of {size} bytes exceeds {max_size} bytes")
    return size


def _body_length(raw: bytes, header_size: int, max_size: int) -> int:
    size: int = _LENGTH.unpack(raw)[0]
    if header_size + size > max_size:
        raise ProtocolError(f"frame of {header_size + size} bytes exceeds {max_size} bytes")
    return size


def _header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"header is a JSON {type(header).__name__}, not an object")
    return header


# -- sync: a socket or a binary file ---------------------------------------------------------


def write_frame(
    out: socket.socket | BinaryIO,
    header: dict[str, Any],
    body: bytes = b"",
    max_size: int = MAX_FRAME,
) -> None:
    """Send one frame on a connected socket or write it to a binary file (flushed)."""
    prefix = _prefix(header, body, max_size)
    if isinstance(out, socket.socket):
        if len(body) < _SMALL:
            out.sendall(prefix + body)
        else:
            out.sendall(prefix)
            out.sendall(body)
        return
    out.write(prefix)
    out.write(body)
    out.flush()


def read_frame(
    src: socket.socket | BinaryIO, max_size: int = MAX_FRAME
) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a socket or a binary file.

    Raises EOFError when the stream ends before the frame starts, ProtocolError when it ends
    inside the frame or the frame is malformed."""
    first = _read_exact(src, 4, at_start=True)
    header_size = _header_length(first, max_size)
    rest = _read_exact(src, header_size + 4)
    body_size = _body_length(rest[header_size:], header_size, max_size)
    return _header(rest[:header_size]), _read_exact(src, body_size)


def _read_exact(src: socket.socket | BinaryIO, size: int, at_start: bool = False) -> bytes:
    if size == 0:
        return b""
    buffer = bytearray()
    while len(buffer) < size:
        if isinstance(src, socket.socket):
            chunk = src.recv(min(size - len(buffer), 1 << 20))
        else:
            chunk = src.read(size - len(buffer))
        if not chunk:
            if at_start and not buffer:
                raise EOFError("connection closed")
            raise ProtocolError(f"frame cut off after {len(buffer)} of {size} bytes")
        buffer += chunk
    return bytes(buffer)


# -- asyncio ---------------------------------------------------------------------------------


async def write_message(
    writer: asyncio.StreamWriter,
    header: dict[str, Any],
    body: bytes = b"",
    max_size: int = MAX_FRAME,
) -> None:
    """Send one frame and wait until the transport's buffer drains."""
    prefix = _prefix(header, body, max_size)
    if len(body) < _SMALL:
        writer.write(prefix + body)  # one write, one syscall for the common small reply
    else:
        writer.writelines((prefix, body))
    await writer.drain()


async def read_message(
    reader: asyncio.StreamReader, max_size: int = MAX_FRAME
) -> tuple[dict[str, Any], bytes]:
    """Read one frame. Raises EOFError when the stream ends before the frame starts,
    ProtocolError when it ends inside the frame or the frame is malformed."""
    try:
        first = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise EOFError("connection closed") from None
        raise ProtocolError(f"frame cut off after {len(exc.partial)} of 4 bytes") from None
    header_size = _header_length(first, max_size)
    try:
        rest = await reader.readexactly(header_size + 4)
        body_size = _body_length(rest[header_size:], header_size, max_size)
        body = await reader.readexactly(body_size) if body_size else b""
    except asyncio.IncompleteReadError as exc:
        cut = len(exc.partial)
        raise ProtocolError(f"frame cut off after {cut} of {exc.expected} bytes") from None
    return _header(rest[:header_size]), body
