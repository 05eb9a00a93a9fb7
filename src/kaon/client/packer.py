"""PackBuilder: the packs an upload sends, built in place in one reused buffer per thread.

Chunks are read straight into the buffer (preadv for big files), compressed over themselves
when that helps, and framed; no pack-sized memory is allocated (and page-faulted in) per pack.
"""

from __future__ import annotations

import os
import threading

from kaon.core import chunking
from kaon.core.pack import HEADER, MAGIC, RAW

BUFFER_STEP = 4 * 1024 * 1024  # pack buffers grow in steps of this
Source = bytes | tuple[str, int, int]  # a chunk's bytes, or (file, offset, length)


class PackBuilder:
    def __init__(self) -> None:
        self._local = threading.local()

    def build(self, frames: list[tuple[str, Source]]) -> tuple[memoryview, int]:
        """The pack of `frames` (a view valid until this thread builds the next one) and the
        raw bytes it holds."""
        need = len(MAGIC) + sum(
            HEADER.size + (len(src) if isinstance(src, bytes) else src[2]) for _, src in frames
        )
        buffer: bytearray | None = getattr(self._local, "pack", None)
        if buffer is None or len(buffer) < need:
            buffer = self._local.pack = bytearray(-(-need // BUFFER_STEP) * BUFFER_STEP)
        view = memoryview(buffer)
        view[: len(MAGIC)] = MAGIC
        pos = len(MAGIC)
        handles: dict[str, int] = {}
        raw_total = 0
        try:
            for d, source in frames:
                start = pos + HEADER.size
                if isinstance(source, bytes):
                    n = len(source)
                    view[start : start + n] = source
                else:
                    path, offset, length = source
                    fd = handles.get(path)
                    if fd is None:
                        fd = handles[path] = os.open(path, os.O_RDONLY)
                    n = _pread_into(fd, view[start : start + length], offset)
                codec, stored = chunking.compress(view[start : start + n])
                if codec != RAW:  # smaller than the raw bytes: written over them
                    view[start : start + len(stored)] = stored
                HEADER.pack_into(view, pos, bytes.fromhex(d), codec, n, len(stored))
                pos = start + len(stored)
                raw_total += n
        finally:
            for fd in handles.values():
                os.close(fd)
        return view[:pos], raw_total


def _pread_into(fd: int, target: memoryview, offset: int) -> int:
    """Read up to len(target) bytes at `offset` straight into `target` (like os.pread)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [target], offset)
    os.lseek(fd, offset, os.SEEK_SET)  # fd is private to this call: no race on its offset
    return os.readv(fd, [target])
