"""Upload: chunk and hash locally, ask the server which chunks it lacks, send only those in
packs, then record every file as ONE commit (restic/casync habits).

Memory stays bounded: big files are cut by content-defined chunking while streaming and only
(offset, length) of each chunk is remembered; chunk bytes are re-read (page cache) only for
the chunks the server lacks, a batch at a time, compressed and sent by two worker threads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaon.client.client import Client
from kaon.client.models import CommitInfo, TransferStats
from kaon.client.statcache import StatCache, StatKey
from kaon.core import chunking
from kaon.core.errors import InvalidInput, MissingChunks
from kaon.core.pack import HEADER, MAGIC

BATCH_BYTES = 64 * 1024 * 1024
BATCH_CHUNKS = 8192
PACK_BYTES = 32 * 1024 * 1024
MAX_INFLIGHT = 2
Progress = Callable[[int], None]


@dataclass(frozen=True)
class LocalFile:
    local: Path
    remote: str
    key: StatKey


@dataclass
class _Batch:
    order: list[str] = field(default_factory=list)
    small: dict[str, bytes] = field(default_factory=dict)
    located: dict[str, tuple[Path, int, int]] = field(default_factory=dict)
    nbytes: int = 0

    def add(
        self, d: str, size: int, data: bytes | None, where: tuple[Path, int, int] | None
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


def stat_key(path: Path) -> StatKey:
    st = path.stat()
    return StatKey(str(path.absolute()), st.st_size, st.st_mtime_ns, st.st_ino)


def plan(local: Path, remote: str, recursive: bool) -> list[LocalFile]:
    """The files to upload: `local` itself, or every file below it with -r."""
    if not local.exists() and not local.is_symlink():
        raise InvalidInput(f"{local}: no such file or directory")
    if local.is_dir():
        if not recursive:
            raise InvalidInput(f"{local} is a directory: add -r to put it recursively")
        out: list[LocalFile] = []
        for root, dirs, names in os.walk(local):
            dirs.sort()
            for name in sorted(names):
                p = Path(root) / name
                if p.is_file():
                    rel = p.relative_to(local).as_posix()
                    out.append(LocalFile(p, remote.rstrip("/") + "/" + rel, stat_key(p)))
        return out
    if not local.is_file():
        raise InvalidInput(f"{local} is not a regular file")
    return [LocalFile(local, remote, stat_key(local))]


class Uploader:
    def __init__(
        self, client: Client, cache: StatCache | None, progress: Progress | None = None
    ) -> None:
        self._client = client
        self._cache = cache
        self._progress = progress or (lambda n: None)
        self._pool = ThreadPoolExecutor(MAX_INFLIGHT, thread_name_prefix="kaon-upload")
        self._inflight: list[Future[int]] = []
        self._chunks = self._new_chunks = self._new_bytes = self._sent = 0

    def put(
        self, repo: str, branch: str, files: list[LocalFile], message: str = ""
    ) -> tuple[CommitInfo, TransferStats]:
        started = time.time()
        hits = self._cache.lookup([f.key for f in files]) if self._cache else {}
        learned: list[tuple[StatKey, list[tuple[str, int]]]] = []
        puts: list[dict[str, Any]] = []
        owners: dict[str, LocalFile] = {}
        batch = _Batch()
        try:
            for f in files:
                chunks = hits.get(f.key.path)
                if chunks is None:
                    chunks = self._read(f, batch)
                    learned.append((f.key, chunks))
                else:
                    for d, n in chunks:
                        batch.add(d, n, None, None)
                    self._progress(f.key.size)
                for d, _ in chunks:
                    owners.setdefault(d, f)
                self._chunks += len(chunks)
                puts.append({"path": f.remote, "size": f.key.size, "chunks": chunks})
                if batch.full():
                    self._flush(batch, owners)
                    batch = _Batch()
            self._flush(batch, owners)
            self._drain()
            if self._cache:
                self._cache.store(learned)
            commit = self._commit(repo, branch, puts, owners, message, started)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        stats = TransferStats(
            files=len(files),
            bytes=sum(f.key.size for f in files),
            chunks=self._chunks,
            new_chunks=self._new_chunks,
            new_bytes=self._new_bytes,
            sent_bytes=self._sent,
            cached_files=len(files) - len(learned),
            seconds=time.time() - started,
        )
        return commit, stats

    def _commit(
        self,
        repo: str,
        branch: str,
        puts: list[dict[str, Any]],
        owners: dict[str, LocalFile],
        message: str,
        started: float,
    ) -> CommitInfo:
        for attempt in range(3):
            try:
                return self._client.commit(repo, branch, puts, message=message, started=started)
            except MissingChunks as exc:  # reclaimed by a concurrent gc: send them again
                if attempt == 2:
                    raise
                batch = _Batch()
                for d in exc.details.get("missing", []):
                    f = owners[d]
                    for cd, n, data, where in self._cut(f):
                        if cd == d:
                            batch.add(cd, n, data, where)
                self._flush(batch, owners, known_missing=True)
                self._drain()
        raise AssertionError("unreachable")

    def _cut(
        self, f: LocalFile
    ) -> Iterable[tuple[str, int, bytes | None, tuple[Path, int, int] | None]]:
        try:
            with f.local.open("rb") as stream:
                if f.key.size <= chunking.MIN_SIZE:
                    data = stream.read()
                    yield chunking.hash_chunk(data), len(data), data, None
                else:
                    offset = 0
                    for piece in chunking.cut(stream):
                        yield (
                            chunking.hash_chunk(piece),
                            len(piece),
                            None,
                            (f.local, offset, len(piece)),
                        )
                        offset += len(piece)
        except FileNotFoundError:
            raise InvalidInput(
                f"{f.local}: the file vanished during the upload; nothing was committed"
            ) from None
        except PermissionError:
            raise InvalidInput(f"{f.local}: permission denied; nothing was committed") from None
        if stat_key(f.local) != f.key:
            raise InvalidInput(
                f"{f.local} changed during the upload; nothing was committed: try again"
            )

    def _read(self, f: LocalFile, batch: _Batch) -> list[tuple[str, int]]:
        chunks: list[tuple[str, int]] = []
        for d, n, data, where in self._cut(f):
            chunks.append((d, n))
            if n:  # an empty file has no chunk to send (its empty bytes are falsy in _flush)
                batch.add(d, n, data, where)
            self._progress(n)
        if f.key.size == 0:
            return []
        return chunks

    def _flush(
        self, batch: _Batch, owners: dict[str, LocalFile], known_missing: bool = False
    ) -> None:
        if not batch.order:
            return
        missing = batch.order if known_missing else self._client.missing_chunks(batch.order)
        frames: list[tuple[str, bytes | tuple[Path, int, int]]] = []
        size = 0
        for d in missing:
            source: bytes | tuple[Path, int, int] | None = batch.small.get(d) or batch.located.get(
                d
            )
            if source is None:  # known from the stat cache but not on the server: read again
                for cd, _n, data, where in self._cut(owners[d]):
                    if cd == d:
                        source = data if data is not None else where
                        break
                if source is None:
                    raise InvalidInput(
                        f"{owners[d].local} changed during the upload; nothing was committed"
                    )
            frames.append((d, source))
            size += len(source) if isinstance(source, bytes) else source[2]
            if size >= PACK_BYTES:
                self._submit(frames)
                frames, size = [], 0
        if frames:
            self._submit(frames)

    def _submit(self, frames: list[tuple[str, bytes | tuple[Path, int, int]]]) -> None:
        while len(self._inflight) >= MAX_INFLIGHT:
            self._inflight.pop(0).result()
        self._inflight.append(self._pool.submit(self._send, frames))

    def _drain(self) -> None:
        while self._inflight:
            self._inflight.pop(0).result()

    def _send(self, frames: list[tuple[str, bytes | tuple[Path, int, int]]]) -> int:
        body = bytearray(MAGIC)
        handles: dict[Path, int] = {}
        raw_total = 0
        try:
            for d, source in frames:
                if isinstance(source, bytes):
                    data: bytes = source
                else:
                    path, offset, length = source
                    fd = handles.get(path)
                    if fd is None:
                        fd = handles[path] = os.open(path, os.O_RDONLY)
                    data = os.pread(fd, length, offset)
                codec, stored = chunking.compress(data)
                body += HEADER.pack(bytes.fromhex(d), codec, len(data), len(stored))
                body += stored
                raw_total += len(data)
        finally:
            for fd in handles.values():
                os.close(fd)
        self._client.upload_pack(bytes(body))
        self._new_chunks += len(frames)
        self._new_bytes += raw_total
        self._sent += len(body)
        return len(body)
