"""ChunkStore: deduplicated, verified chunk storage in packs over any ObjectStore."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from kaon.core.errors import ChunkNotFound, InvalidInput
from kaon.core.ids import Digest, digest, new_pack_id
from kaon.core.pack import HEADER, MAGIC, decode_chunk, iter_frames, verify
from kaon.core.tree import ChunkRef
from kaon.ports.metadata import ChunkIndex, ChunkLocation, PackInfo
from kaon.ports.objectstore import ObjectStore
from kaon.services.keys import pack_key
from kaon.services.locks import SharedExclusiveLock

MAX_PACK = 256 * 1024 * 1024
RECOVERY_WINDOW = 3600.0  # the kernel writes dirty pages back within ~30 s; be generous
_LOCATE_BATCH = 512


@dataclass(frozen=True)
class PackReceipt:
    pack: str
    chunks: int
    bytes: int


class ChunkStore:
    def __init__(
        self,
        objects: ObjectStore,
        index: ChunkIndex,
        gc_lock: SharedExclusiveLock,
        clock: Callable[[], float],
    ) -> None:
        self._objects = objects
        self._gc_lock = gc_lock
        self._index = index
        self._clock = clock

    def missing(self, digests: Sequence[str]) -> list[Digest]:
        """The digests (validated, deduplicated, in input order) the store does not hold."""
        wanted = list(dict.fromkeys(digest(d) for d in digests))
        absent = self._index.missing_chunks(wanted)
        return [d for d in wanted if d in absent]

    def store_pack(self, body: bytes | memoryview, file: str | None = None) -> PackReceipt:
        """Verify every frame of an uploaded pack, store it as one object, index its chunks.

        With `file` (a local file holding exactly `body`, see kaon.store.drop) the store takes
        the file over instead of writing `body` again."""
        if len(body) > MAX_PACK:
            raise InvalidInput(f"pack too large: {len(body)} bytes (limit {MAX_PACK})")
        view = memoryview(body)
        frames = list(iter_frames(view))
        if not frames:
            raise InvalidInput("empty pack: send at least one chunk")
        for frame in frames:
            verify(frame, view[frame.offset : frame.offset + frame.stored_len])
        pack_id = new_pack_id()
        with self._gc_lock.shared():
            if file is None:
                self._objects.put(pack_key(pack_id), view)
            else:
                self._objects.put_file(pack_key(pack_id), file)
            self._index.add_pack(
                PackInfo(pack_id, len(view), self._clock()),
                [
                    ChunkLocation(f.digest, pack_id, f.offset, f.stored_len, f.raw_len, f.codec)
                    for f in frames
                ],
            )
        return PackReceipt(pack_id, len(frames), len(view))

    def store_frames(
        self, frames: Iterable[tuple[Digest, int, int, bytes | memoryview]]
    ) -> PackReceipt:
        """Store chunks the server hashed itself (kaon.services.ingest) as one pack, streamed
        to the object store as `frames` (digest, codec, raw length, stored bytes) come, and
        not verified again."""
        pack_id = new_pack_id()
        where: list[ChunkLocation] = []
        size = len(MAGIC)

        def body() -> Iterator[bytes | memoryview]:
            nonlocal size
            yield MAGIC
            for d, codec, raw_len, stored in frames:
                yield HEADER.pack(bytes.fromhex(d), codec, raw_len, len(stored))
                yield stored
                offset = size + HEADER.size
                where.append(ChunkLocation(d, pack_id, offset, len(stored), raw_len, codec))
                size = offset + len(stored)

        with self._gc_lock.shared():
            self._objects.put(pack_key(pack_id), body())
            self._index.add_pack(PackInfo(pack_id, size, self._clock()), where)
        return PackReceipt(pack_id, len(where), size)

    def recover(self, window: float = RECOVERY_WINDOW) -> list[str]:
        """At start-up: drop the index of recent packs that a power loss left missing or
        truncated. Packs are made durable by the write barrier before any commit can
        reference them, so only uncommitted uploads can be affected; returns the dropped ids."""
        dropped: list[str] = []
        since = self._clock() - window
        for pack in self._index.list_packs():
            if pack.created < since:
                continue
            sizes = [o.size for o in self._objects.list(pack_key(pack.id))]
            if sizes != [pack.size]:
                self._index.drop_pack(pack.id)
                dropped.append(pack.id)
        return dropped

    def read(self, chunks: Sequence[ChunkRef]) -> Iterator[bytes]:
        """The content of `chunks`, in order, one decoded chunk at a time."""
        for start in range(0, len(chunks), _LOCATE_BATCH):
            batch = chunks[start : start + _LOCATE_BATCH]
            where = self._index.locate(list(dict.fromkeys(c.digest for c in batch)))
            for ref in batch:
                loc = where.get(ref.digest)
                if loc is None:
                    raise ChunkNotFound(
                        f"chunk {ref.digest[:12]} is missing from the store "
                        "(was it reclaimed by gc while still referenced? please report)"
                    )
                stored = self._objects.get_range(pack_key(loc.pack), loc.offset, loc.stored_len)
                yield decode_chunk(loc.codec, loc.raw_len, stored)
