"""Stream a folder as an uncompressed tar (bounded memory).

Small members are gathered into pieces of about PIECE bytes: each piece the response sends
costs a hop to the thread pool, and a folder of 20,000 small files would otherwise make
60,000 of them."""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator

from kaon.core.errors import CorruptObject
from kaon.core.tree import FileNode

BLOCK = 512
PIECE = 1024 * 1024


_MAX_OCTAL = 8**11  # sizes and times in 11 octal digits
_USTAR = b"ustar\x0000"


def header(name: str, size: int, mtime: int, mode: int = 0o644) -> bytes:
    """The tar header of a regular file: a plain ustar block for a short ASCII name
    (tarfile's own takes ~90 us, most of a small file's cost), else tarfile's PAX. The
    client keeps an executable bit of `mode` (kaon.client.download)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) > 100 or not name.isascii() or size >= _MAX_OCTAL or not 0 <= mtime < _MAX_OCTAL:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, mtime, mode
        return info.tobuf(format=tarfile.PAX_FORMAT)
    block = bytearray(BLOCK)
    block[0 : len(raw)] = raw
    block[100:108] = b"%07o\x00" % (mode & 0o7777)
    block[108:124] = b"0000000\x000000000\x00"  # uid, gid
    block[124:136] = b"%011o\x00" % size
    block[136:148] = b"%011o\x00" % mtime
    block[148:156] = b"        "  # the checksum counts its own field as spaces
    block[156] = ord("0")  # a regular file
    block[257:265] = _USTAR
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def tar_stream(
    files: Iterable[tuple[str, FileNode]], contents: Iterator[bytes], mtime: float
) -> Iterator[bytes]:
    """The tar of `files`; `contents` yields their chunks one file after the other."""
    out = bytearray()
    for name, node in files:
        out += header(name, node.size, int(mtime))
        left = node.size
        while left > 0:
            piece = next(contents, None)
            if piece is None or len(piece) > left:
                raise CorruptObject(f"content of {name!r} does not match its size")
            left -= len(piece)
            if len(piece) >= PIECE:
                if out:
                    yield bytes(out)
                    out.clear()
                yield piece
            else:
                out += piece
        out += b"\0" * ((-node.size) % BLOCK)
        if len(out) >= PIECE:
            yield bytes(out)
            out.clear()
    out += b"\0" * (BLOCK * 2)
    yield bytes(out)
