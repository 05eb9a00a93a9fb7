"""Pack format: many chunks in one object, so small files do not cost one object each.

    pack  := MAGIC frame*
    frame := digest(32) codec(1) raw_len(u32 BE) stored_len(u32 BE) stored_bytes

The client builds packs of the chunks the server lacks and the server verifies every frame
(decompress, BLAKE3) before it stores the pack as is and indexes its chunks.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

import blake3
import zstandard

from kaon.core import zstd
from kaon.core.errors import CorruptObject, InvalidInput
from kaon.core.ids import Digest

MAGIC = b"KPK1"
HEADER = struct.Struct(">32sBII")
RAW = 0
ZSTD = 1
MAX_CHUNK = 16 * 1024 * 1024
_PARALLEL_HASH = 256 * 1024  # chunks at least this big are hashed on several threads


class Frame(NamedTuple):  # a tuple: 20,000 frames of a small-file pack are made per upload
    digest: Digest
    codec: int
    raw_len: int
    offset: int  # of the stored bytes inside the pack
    stored_len: int


def encode_frame(digest: Digest, codec: int, raw_len: int, stored: bytes | memoryview) -> bytes:
    return HEADER.pack(bytes.fromhex(digest), codec, raw_len, len(stored))


def iter_frames(pack: bytes | memoryview) -> Iterator[Frame]:
    """Parse (but do not verify) the frames of a pack held in memory."""
    view = memoryview(pack)
    if bytes(view[:4]) != MAGIC:
        raise InvalidInput("not a kaon pack: bad magic bytes")
    pos = 4
    while pos < len(view):
        if pos + HEADER.size > len(view):
            raise InvalidInput("truncated pack: incomplete frame header")
        raw_digest, codec, raw_len, stored_len = HEADER.unpack_from(view, pos)
        pos += HEADER.size
        if codec not in (RAW, ZSTD) or raw_len > MAX_CHUNK or stored_len > MAX_CHUNK:
            raise InvalidInput("corrupt pack: bad frame header")
        if pos + stored_len > len(view):
            raise InvalidInput("truncated pack: incomplete chunk")
        yield Frame(Digest(raw_digest.hex()), codec, raw_len, pos, stored_len)
        pos += stored_len


def decode_chunk(codec: int, raw_len: int, stored: bytes | memoryview) -> bytes:
    """The raw bytes of a stored chunk; CorruptObject when they cannot be decoded."""
    if codec == RAW:
        return bytes(stored)
    try:
        # a frame declaring another size is corrupt: never inflate it (decompression bomb)
        declared = zstandard.frame_content_size(stored)
        if declared not in (-1, raw_len):
            raise CorruptObject(
                f"compressed chunk declares {declared} bytes where {raw_len} were expected"
            )
        return bytes(zstd.decompressor().decompress(stored, max_output_size=raw_len))
    except zstandard.ZstdError as exc:
        raise CorruptObject(f"compressed chunk cannot be decoded: {exc}") from exc


def verify(frame: Frame, stored: bytes | memoryview) -> None:
    # a raw frame is hashed in place, without a copy
    data = stored if frame.codec == RAW else decode_chunk(frame.codec, frame.raw_len, stored)
    threads = blake3.blake3.AUTO if len(data) >= _PARALLEL_HASH else 1  # ~2x on 1 MiB chunks
    if (
        len(data) != frame.raw_len
        or blake3.blake3(data, max_threads=threads).hexdigest() != frame.digest
    ):
        raise CorruptObject(f"chunk {frame.digest[:12]} does not match its digest")
