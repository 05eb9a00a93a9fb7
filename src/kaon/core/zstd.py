"""zstd contexts, one per thread and level, reused.

A compression context at level 3 holds ~1-2 MiB: made per call (per tree saved, per chunk
read), each one page-faulted fresh memory in, which on this kind of VM costs ~10 µs a page after
heavy I/O. A 20,000-file commit saving 101 trees spent 0.2 s there instead of 0.07 s.
"""

from __future__ import annotations

import threading

import zstandard

_LOCAL = threading.local()


def compressor(level: int) -> zstandard.ZstdCompressor:
    """This thread's compressor for `level` (a context is not safe to share between threads)."""
    found: dict[int, zstandard.ZstdCompressor] | None = getattr(_LOCAL, "compressors", None)
    if found is None:
        found = _LOCAL.compressors = {}
    context = found.get(level)
    if context is None:
        context = found[level] = zstandard.ZstdCompressor(level=level)
    return context


def decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompressor."""
    context: zstandard.ZstdDecompressor | None = getattr(_LOCAL, "decompressor", None)
    if context is None:
        context = _LOCAL.decompressor = zstandard.ZstdDecompressor()
    return context
