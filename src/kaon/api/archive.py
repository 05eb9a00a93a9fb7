"""Stream a folder as an uncompressed tar, one file at a time (bounded memory)."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterable, Iterator

from kaon.core.tree import FileNode

BLOCK = 512


def tar_stream(
    files: Iterable[tuple[str, FileNode]],
    content: Callable[[FileNode], Iterable[bytes]],
    mtime: float,
) -> Iterator[bytes]:
    for name, node in files:
        info = tarfile.TarInfo(name)
        info.size = node.size
        info.mtime = int(mtime)
        info.mode = 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        yield from content(node)
        pad = (-node.size) % BLOCK
        if pad:
            yield b"\0" * pad
    yield b"\0" * (BLOCK * 2)
