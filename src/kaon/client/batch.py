"""A put's chunks on their way to the server: batches of them to ask "which do you lack"
about, and where each chunk's bytes are (cut from a local file while it is read, or found
again by digest when the server turns out to lack a chunk the stat cache knew)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from kaon.client.localfiles import LocalFile, changed, read_small, unreadable
from kaon.client.packer import Source
from kaon.core import chunking

BATCH_BYTES = 16 * 1024 * 1024
BATCH_CHUNKS = 8192


@dataclass
class Batch:
    order: list[str] = field(default_factory=list)
    small: dict[str, bytes] = field(default_factory=dict)
    located: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    nbytes: int = 0

    def add(
        self, d: str, size: int, data: bytes | None, where: tuple[str, int, int] | None
    ) -> None:
        if d in self.small or d in self.located:
            return
        self.order.append(d)
        if data is not None:
            self.small[d] = data
        elif where is not None:
            self.located[d] = where
        self.nbytes += size

    def full(self) -> bool:
        return self.nbytes >= BATCH_BYTES or len(self.order) >= BATCH_CHUNKS

    def clear(self) -> None:
        self.order.clear()
        self.small.clear()
        self.located.clear()
        self.nbytes = 0


def cut(f: LocalFile) -> Iterable[tuple[str, int, bytes | None, tuple[str, int, int] | None]]:
    """(digest, length, bytes of a small file or None, (path, offset, length) or None) per
    chunk of `f`, checked to be unchanged since it was planned."""
    if f.key.size <= chunking.MIN_SIZE:
        data = read_small(f)
        yield chunking.hash_chunk(data), len(data), data, None
        return
    try:
        with open(f.local, "rb") as stream:
            offset = 0
            for piece in chunking.cut(stream):
                yield (
                    chunking.hash_chunk(piece),
                    len(piece),
                    None,
                    (f.local, offset, len(piece)),
                )
                offset += len(piece)
        st = os.stat(f.local)  # noqa: PTH116 - plain strings on the hot path
    except (FileNotFoundError, PermissionError) as exc:
        raise unreadable(f, exc) from None
    if (st.st_size, st.st_mtime_ns, st.st_ino) != (f.key.size, f.key.mtime_ns, f.key.inode):
        raise changed(f)


def locate(digests: list[str], owners: dict[str, LocalFile]) -> dict[str, Source]:
    """Sources of chunks known only by digest: each owner file is cut ONCE for all its
    wanted chunks (not once per chunk: that re-read a 1 GiB file ~850 times after gc)."""
    wanted: dict[LocalFile, set[str]] = {}
    for d in digests:
        wanted.setdefault(owners[d], set()).add(d)
    found: dict[str, Source] = {}
    for f, want in wanted.items():
        left = len(want)
        for cd, _n, data, where in cut(f):
            source = data if data is not None else where
            if cd in want and cd not in found and source is not None:
                found[cd] = source
                left -= 1
                if not left:
                    break
    return found
