"""Reading a tar stream (a folder's archive) member by member, fast.

tarfile's stream mode costs ~60 us a member in Python, most of the time of a get of 20,000
small files; this reader parses what the server writes (ustar headers, PAX records for long
or non-ASCII names) and GNU long names, in ~5 us a member. Other members (links, devices)
are reported with their type so the caller can skip them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from kaon.core.errors import CorruptObject

BLOCK = 512
REGULAR = (b"0", b"\0", b"7")
DIRECTORY = b"5"
_PAX, _PAX_GLOBAL, _GNU_LONGNAME = b"x", b"g", b"L"
_META_LIMIT = 1024 * 1024  # bytes of a PAX record block or a long name at most


class Member(NamedTuple):
    name: str
    size: int
    mode: int
    kind: bytes  # the typeflag: REGULAR, DIRECTORY, or another one to skip


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256 (GNU) for big values
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise CorruptObject(f"corrupt archive: bad number {field!r} in a tar header") from None


def _checked(header: bytes) -> None:
    stored = _number(header[148:156])
    if sum(header) - sum(header[148:156]) + 8 * 32 != stored:
        raise CorruptObject("corrupt archive: a tar header's checksum does not match")


def _pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def members(stream: BinaryIO) -> Iterator[Member]:
    """The members of the tar in `stream`. The caller reads exactly `size` bytes of a member
    it takes (skip(stream, size) for one it does not) before asking for the next; this
    reader skips the padding."""
    pending: dict[str, str] = {}
    while True:
        header = stream.read(BLOCK)
        if len(header) < BLOCK:
            raise CorruptObject("truncated archive: the stream ended inside a tar header")
        if not any(header):
            return  # the end-of-archive blocks
        _checked(header)
        kind = header[156:157]
        size = _number(header[124:136])
        if kind in (_PAX, _PAX_GLOBAL, _GNU_LONGNAME):
            if size > _META_LIMIT:
                raise CorruptObject(f"corrupt archive: {size} bytes of tar metadata")
            data = _read_exactly(stream, size)
            _skip_padding(stream, size)
            if kind == _PAX:
                pending.update(_pax(data))
            elif kind == _GNU_LONGNAME:
                pending["path"] = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        name = header[0:100].split(b"\0", 1)[0]
        if header[257:262] == b"ustar" and header[345]:
            name = header[345:500].split(b"\0", 1)[0] + b"/" + name
        path = pending.pop("path", None) or name.decode("utf-8", "surrogateescape")
        if "size" in pending:
            size = int(pending.pop("size"))
        pending.clear()
        yield Member(path, size, _number(header[100:108]), kind)
        _skip_padding(stream, size)


def skip(stream: BinaryIO, size: int) -> None:
    """Pass over `size` bytes of a member's content."""
    while size > 0:
        piece = stream.read(min(size, 1024 * 1024))
        if not piece:
            raise CorruptObject("truncated archive: the stream ended inside a member")
        size -= len(piece)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise CorruptObject("truncated archive: the stream ended inside a member")
    return data


def _skip_padding(stream: BinaryIO, size: int) -> None:
    pad = -size % BLOCK
    if pad and len(stream.read(pad)) < pad:
        raise CorruptObject("truncated archive: the stream ended inside a member's padding")
