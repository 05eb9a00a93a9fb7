"""The replica protocol: frames over real socket pairs, sync and asyncio, and bad frames."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import struct
import threading

import pytest

from kaon.runtime.protocol import (
    MAX_FRAME,
    ProtocolError,
    encode,
    read_frame,
    read_message,
    write_frame,
    write_message,
)

HEADER = {"op": "predict", "id": "r1", "content_type": "application/json", "note": "héllo"}


def frame(header: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(header)) + header + struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("body", [b"", b'{"x":[1,2,3]}', bytes(range(256)) * 1024])
def test_sync_round_trip_over_a_socket(body: bytes) -> None:
    left, right = socket.socketpair()
    with left, right:
        writer = threading.Thread(target=write_frame, args=(left, HEADER, body))
        writer.start()  # a big body fills the socket's buffer before anyone reads
        assert read_frame(right) == (HEADER, body)
        writer.join()
        write_frame(left, {"op": "ping"})
        assert read_frame(right) == ({"op": "ping"}, b"")
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(EOFError):
            read_frame(right)


def test_sync_round_trip_over_a_file() -> None:
    buffer = io.BytesIO()
    write_frame(buffer, HEADER, b"abc")
    raw = buffer.getvalue()
    assert raw == encode(HEADER, b"abc")
    (size,) = struct.unpack(">I", raw[:4])
    assert json.loads(raw[4 : 4 + size].decode("utf-8")) == HEADER
    assert raw[4 + size :] == struct.pack(">I", 3) + b"abc"
    buffer.seek(0)
    assert read_frame(buffer) == (HEADER, b"abc")
    with pytest.raises(EOFError):
        read_frame(buffer)


def test_async_round_trip() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: written without copying, read in many pieces

    async def scenario() -> list[tuple[dict[str, object], bytes]]:
        left, right = socket.socketpair()
        reader, right_writer = await asyncio.open_connection(sock=right)
        _, writer = await asyncio.open_connection(sock=left)

        async def send() -> None:
            await write_message(writer, HEADER, b"payload")
            await write_message(writer, {"op": "batch", "id": "b"}, big)
            await write_message(writer, {"op": "ping"})
            writer.close()

        sending = asyncio.create_task(send())
        got = [await read_message(reader) for _ in range(3)]
        await sending
        with pytest.raises(EOFError):
            await read_message(reader)
        right_writer.close()
        return got

    got = asyncio.run(scenario())
    assert got == [(HEADER, b"payload"), ({"op": "batch", "id": "b"}, big), ({"op": "ping"}, b"")]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (frame(b"{not json", b""), "not UTF-8 JSON"),
        (frame(b"\xff\xfe", b""), "not UTF-8 JSON"),
        (frame(b"[1, 2]", b""), "JSON list, not an object"),
        (frame(b'{"op": "ping"}', b"abc")[:-1], "cut off after 2 of 3 bytes"),
        (b"\x00\x00", "cut off after 2 of 4 bytes"),
        (struct.pack(">I", MAX_FRAME + 1), "exceeds"),
        (struct.pack(">I", 2) + b"{}" + struct.pack(">I", MAX_FRAME), "exceeds"),
    ],
)
def test_malformed_frames(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        read_frame(io.BytesIO(raw))

    async def read_async() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        await read_message(reader)

    with pytest.raises(ProtocolError, match=message):
        asyncio.run(read_async())


def test_size_limit_on_both_sides() -> None:
    with pytest.raises(ProtocolError, match="exceeds 100 bytes"):
        encode({"op": "predict"}, b"x" * 100, max_size=100)
    with pytest.raises(ProtocolError, match="exceeds 100 bytes"):
        write_frame(io.BytesIO(), {"op": "predict"}, b"x" * 100, max_size=100)
    raw = encode({"op": "predict"}, b"x" * 100)
    with pytest.raises(ProtocolError, match="exceeds 100 bytes"):
        read_frame(io.BytesIO(raw), max_size=100)
    assert read_frame(io.BytesIO(raw), max_size=200) == ({"op": "predict"}, b"x" * 100)
