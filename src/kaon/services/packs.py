"""PackIntake: packs a client hands over whole, and big files of the server's own machine.

A pack arrives over HTTP (streamed into a file of the server's in the drop folder, a piece at
a time: `incoming`), or is left in the drop folder by a client on this machine and named in
one small request (`store_dropped`); either way every frame is verified and the file is moved
into the object store (ChunkStore.store_pack). A client that proves it runs on this machine
(it read the drop folder's token, kaon.ports.drop) may also have the server chunk a big file
of its own by path (`ingest_local`, kaon.services.ingest) or read stored chunks from the
store's files itself (`check_local`, then FileService.where).
"""

from __future__ import annotations

import mmap
import os
from types import TracebackType

from kaon.core.errors import InvalidInput
from kaon.ports.drop import DropFolder
from kaon.services.buffers import BufferPool
from kaon.services.chunks import ChunkStore, PackReceipt
from kaon.services.ingest import FileIngest, Ingested


class IncomingPack:
    """A pack being received into a file of the server's: `write` its pieces (from a worker
    thread: they block on the disk), then `store` it; closing removes the file (gone already
    once stored: moved into the object store)."""

    def __init__(self, drop: DropFolder, chunks: ChunkStore) -> None:
        self._drop = drop
        self._chunks = chunks
        self.path, self._fd = drop.receive()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.size += len(data)

    def store(self, lease: str | None = None) -> PackReceipt:
        """Verify and store the pack received (mapped, not read into memory)."""
        self._close_fd()
        if self.size == 0:
            raise InvalidInput("the pack is empty")
        with open(self.path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), self.size, access=mmap.ACCESS_READ)
        return self._chunks.store_pack(memoryview(mapped), file=self.path, lease=lease)

    def close(self) -> None:
        self._close_fd()
        self._drop.discard(self.path)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> IncomingPack:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PackIntake:
    def __init__(self, drop: DropFolder, chunks: ChunkStore, ingest: FileIngest) -> None:
        self._drop = drop
        self._chunks = chunks
        self._ingest = ingest
        self._buffers = BufferPool()

    def recover(self) -> int:
        """At start-up: remove the packs a stop interrupted (no client waits for them any
        more); bytes freed."""
        return self._drop.clean_temp(0.0)

    def drop_dir(self) -> str:
        """Where a client on this machine may leave packs (and read the token to send back)."""
        return self._drop.info.dir

    def check_local(self, token: str) -> None:
        """PermissionDenied unless `token` is the drop folder's: the client runs on this
        machine, as the platform's user."""
        self._drop.check(token)

    def incoming(self) -> IncomingPack:
        """A file of the server's own for a pack that arrives over HTTP."""
        return IncomingPack(self._drop, self._chunks)

    def store_dropped(self, token: str, name: str, lease: str | None = None) -> PackReceipt:
        """Verify and store the pack a client of this machine left in the drop folder."""
        self._drop.check(token)
        claimed = self._drop.claim(name)
        try:
            with self._buffers.borrow(claimed.size) as buffer:
                view = self._drop.read_into(claimed, buffer)
                return self._chunks.store_pack(view, file=claimed.path, lease=lease)
        finally:
            self._drop.discard(claimed.path)  # gone already once stored (moved into the store)

    def ingest_local(
        self,
        token: str,
        path: str,
        seen: tuple[int, int, int],
        start: int,
        limit: int | None = None,
        lease: str | None = None,
    ) -> Ingested:
        """Chunk and store the file of this machine at `path` from `start`, for up to about
        `limit` bytes, if it is still the one the client saw (`seen`: size, mtime_ns, inode)
        before and after it was read."""
        self._drop.check(token)
        size = seen[0]
        if start < 0 or start > size:
            raise InvalidInput(f"start {start} is outside the file (size {size})")
        with self._drop.open_client_file(path, *seen) as f:
            f.seek(start)
            done = self._ingest.ingest(f, limit, lease)
            self._drop.check_unchanged(f, path, *seen)
        return done
