"""Local folders in and out of the store, on the server side.

`commit_folder` commits a folder (a job's model output, its logs) exactly like `kaon put file -r`
would: chunked, hashed, packed, deduplicated, one atomic commit. `checkout` writes a commit's
files into a folder (a job's working copy of its code and data), streaming chunk by chunk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from kaon.core import chunking
from kaon.core.commit import Commit
from kaon.core.errors import InvalidBundle
from kaon.core.ids import Digest
from kaon.core.tree import ChunkRef
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService, Put
from kaon.services.files import FileService
from kaon.services.ingest import FileIngest
from kaon.services.leases import new_lease

PACK_TARGET = 16 * 1024 * 1024


def list_folder(root: Path) -> list[tuple[str, Path]]:
    """(relative posix path, file) for every regular file under `root`, sorted. Symlinks
    are refused: a bundle must not point outside itself."""
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *filenames]:
            full = Path(dirpath) / name
            if full.is_symlink():
                raise InvalidBundle(
                    f"{full}: symbolic links are not allowed in a bundle (copy the file in instead)"
                )
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if stat.S_ISREG(full.stat().st_mode):
                out.append((full.relative_to(root).as_posix(), full))
    return out


class _Packer:
    """Small files' chunks gathered into packs (stored without verifying again: the server
    hashed these bytes itself)."""

    def __init__(self, chunks: ChunkStore, lease: str) -> None:
        self._chunks = chunks
        self._lease = lease
        self._frames: dict[Digest, tuple[int, int, bytes | memoryview]] = {}
        self._size = 0

    def add(self, data: bytes) -> ChunkRef:
        d = chunking.hash_chunk(data)
        if d not in self._frames:
            codec, stored = chunking.compress(data)
            self._frames[d] = (codec, len(data), stored)
            self._size += len(stored)
            if self._size >= PACK_TARGET:
                self.flush()
        return ChunkRef(d, len(data))

    def flush(self) -> None:
        wanted = list(self._frames)
        missing = set(self._chunks.missing(wanted, self._lease)) if wanted else set()
        frames = [(d, *frame) for d, frame in self._frames.items() if d in missing]
        if frames:
            self._chunks.store_frames(frames, self._lease)
        self._frames.clear()
        self._size = 0


def store_files(
    chunks: ChunkStore,
    files: Iterable[tuple[str, Path]],
    prefix: str = "",
    lease: str | None = None,
) -> list[Put]:
    """Chunk, pack and store `files` ((repo path, local file)) under `prefix`; the puts that
    commit them (nothing is visible until a commit uses them). Big files go through
    FileIngest (read and cut once, written as they come); small ones share packs."""
    lease = lease or new_lease()  # without one: spared by gc for leases.TTL, then its own
    packer = _Packer(chunks, lease)
    puts: list[Put] = []
    for rel, local in files:
        path = f"{prefix.rstrip('/')}/{rel}"
        with open(local, "rb", buffering=0) as fh:
            if os.fstat(fh.fileno()).st_size <= chunking.MIN_SIZE:
                data = fh.readall()
                refs = (packer.add(data),) if data else ()
                puts.append(Put(path, len(data), refs))
            else:
                puts.append(store_stream(chunks, path, fh, lease))
    packer.flush()
    return puts


def store_stream(chunks: ChunkStore, path: str, stream: BinaryIO, lease: str | None = None) -> Put:
    """Chunk and store one stream of any length (a multipart upload's parts, read in turn)
    as the content of `path`; its chunks are pinned under `lease` (a new one, left to expire,
    without: kaon.services.leases) until the commit that uses them."""
    done = FileIngest(chunks).ingest(stream, lease=lease or new_lease())
    return Put(path, done.consumed, tuple(done.chunks))


def commit_folder(
    chunks: ChunkStore,
    commits: CommitService,
    repo: str,
    branch: str,
    files: Iterable[tuple[str, Path]],
    *,
    prefix: str = "",
    replace: bool = False,
    message: str = "",
    author: str = "",
) -> Commit:
    """Commit `files` ((repo path, local file)) under `prefix` as ONE commit; with `replace`,
    the branch holds exactly these files afterwards."""
    lease = new_lease()
    try:
        puts = store_files(chunks, files, prefix, lease)
        deletes = ["/"] if replace else []
        return commits.commit(repo, branch, puts, deletes, message=message, author=author)
    finally:
        chunks.release(lease)


def checkout(files: FileService, commit: Commit, path: str, dest: Path) -> int:
    """Write every file of `commit` at or below `path` into `dest`; returns bytes written."""
    total = 0
    dest.mkdir(parents=True, exist_ok=True)
    for rel, node in files.walk(commit, path):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for piece in files.content(node):
                out.write(piece)
                total += len(piece)
    return total
