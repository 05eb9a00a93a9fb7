"""Content-defined chunking (FastCDC) and chunk encoding, written once for every client and server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import BinaryIO

import blake3
import pyfastcdc
import zstandard

from kaon.core.ids import Digest
from kaon.core.pack import RAW, ZSTD

MIN_SIZE = 256 * 1024
AVG_SIZE = 1024 * 1024
MAX_SIZE = 4 * 1024 * 1024
_CDC = pyfastcdc.FastCDC(avg_size=AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)
_COMPRESSIBLE = 0.95
_LOCAL = threading.local()  # a compressor per thread and level: contexts are costly to make


def cut(stream: BinaryIO) -> Iterator[memoryview]:
    """Cut a binary stream into content-defined chunks (streamed, bounded memory)."""
    for chunk in _CDC.cut_stream(stream):
        yield chunk.data


def hash_chunk(data: bytes | memoryview) -> Digest:
    return Digest(blake3.blake3(data).hexdigest())


def compress(data: bytes | memoryview, level: int = 1) -> tuple[int, bytes | memoryview]:
    """(codec, stored bytes): zstd when it saves at least 5%, raw otherwise."""
    compressors: dict[int, zstandard.ZstdCompressor] | None = getattr(_LOCAL, "zstd", None)
    if compressors is None:
        compressors = _LOCAL.zstd = {}
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = zstandard.ZstdCompressor(level=level)
    packed = compressor.compress(data)
    if len(packed) < len(data) * _COMPRESSIBLE:
        return ZSTD, packed
    return RAW, data
