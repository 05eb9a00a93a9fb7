"""Tar streams one after the other on one byte stream (a spout's /pfs/out pipe): each is one
archive, ended by its end-of-archive marker; the zero padding after it is skipped.

Two writers may follow each other so closely that the reader sees one byte stream (the second
opened the pipe before the reader saw the first one's end), so archives are split at the tar
block level (512-byte headers and their data blocks), never by open/close. A gzip'd stream
(`tar -czf - … > /pfs/out`) is one archive up to the end of what the writer wrote.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import BinaryIO, cast

BLOCK = tarfile.BLOCKSIZE
_GZIP = b"\x1f\x8b"


class _Chunks:
    """A read-only file over an iterator of byte strings (what tarfile reads from)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buf += piece
        if size < 0:
            size = len(self._buf)
        out, self._buf = self._buf[:size], self._buf[size:]
        return out


class TarStreams:
    """`for archive in TarStreams(raw)`: a `tarfile.TarFile` (stream mode) per archive."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._back = b""

    def _read(self, size: int) -> bytes:
        data, self._back = self._back[:size], self._back[size:]
        while len(data) < size:
            more = self._raw.read(size - len(data))
            if not more:
                break
            data += more
        return data

    def __iter__(self) -> Iterator[tarfile.TarFile]:
        while True:
            first = self._next_header()
            if first is None:
                return
            if first.startswith(_GZIP):  # compressed: the rest of the stream is this archive
                rest = _Chunks(iter([first, *iter(lambda: self._raw.read(65536), b"")]))
                yield tarfile.open(fileobj=cast(BinaryIO, rest), mode="r|gz")  # noqa: SIM115 (the caller closes it)
                return
            blocks = _Chunks(self._blocks(first))
            yield tarfile.open(fileobj=cast(BinaryIO, blocks), mode="r|")  # noqa: SIM115
            blocks.read()  # to its end marker, whatever tarfile left of it

    def _next_header(self) -> bytes | None:
        """The first block of the next archive, skipping zero padding (None: the end)."""
        while True:
            block = self._read(BLOCK)
            if len(block) < BLOCK:
                return None if not block.strip(b"\0") else block
            if block.strip(b"\0"):
                return block

    def _blocks(self, header: bytes) -> Iterator[bytes]:
        """The blocks of one archive, its end marker included (then nothing more)."""
        while True:
            yield header
            if len(header) < BLOCK:  # cut short: tarfile says so
                return
            size = _size(header[124:136])
            if size is None:
                return  # not a tar header: tarfile refuses it from what it got
            left = (size + BLOCK - 1) // BLOCK * BLOCK
            while left > 0:
                data = self._read(min(left, 64 * BLOCK))
                if not data:
                    return
                left -= len(data)
                yield data
            header = self._read(BLOCK)
            if not header.strip(b"\0"):  # the end marker: tarfile stops at its first block
                yield header + b"\0" * (BLOCK - len(header)) + b"\0" * BLOCK
                return


def _size(field: bytes) -> int | None:
    """A header's size field: octal digits, or GNU's base-256 (None: neither)."""
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    try:
        return int(field.split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None
