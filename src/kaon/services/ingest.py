"""FileIngest: the server chunks, hashes and packs a stream itself, in one pass.

For a client on the server's own machine (it proves it by reading the drop folder's token,
see kaon.store.drop) a big file is not cut by the client, copied, then verified again by the
server: the server reads it once. The reading thread cuts (FastCDC) and hashes (BLAKE3); a
writer thread looks the chunks up and streams the ones the store lacks into packs
(ChunkStore.store_frames; the local store writes big objects with O_DIRECT). Nothing is
verified again: the server hashed those bytes itself. ~0.8 s of CPU per GiB instead of ~1.7 s
for client cut + kernel copy + server verification.

The disk is the limit, so the writer's only job is to keep it busy: it does no hashing (that
put it behind the disk whenever it hashed a block), and it does not stop at pack boundaries
(see `_PackWriter.run`).

`ingest` may stop after `limit` bytes at a chunk boundary; cutting again from that offset gives
the same chunks as one pass would (a content-defined cut depends only on the bytes since the
previous cut), so a client walks a huge file in steps and shows progress between them.
"""

from __future__ import annotations

import mmap
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from kaon.core import chunking
from kaon.core.ids import Digest
from kaon.core.memory import huge_buffer
from kaon.core.tree import ChunkRef
from kaon.services.chunks import ChunkStore

PACK_TARGET = 64 * 1024 * 1024
BLOCK = 16 * 1024 * 1024  # bytes read at a time; at least twice chunking.MAX_SIZE
BLOCKS = 4  # blocks circulating between the reading and the writing thread (64 MiB)
_DONE = None


@dataclass(frozen=True)
class Ingested:
    chunks: list[ChunkRef]
    consumed: int  # bytes of the stream the chunks cover
    new_chunks: int  # chunks the store did not hold yet
    new_bytes: int  # their raw bytes


class FileIngest:
    def __init__(self, chunks: ChunkStore) -> None:
        self._chunks = chunks

    def ingest(
        self, stream: BinaryIO, limit: int | None = None, lease: str | None = None
    ) -> Ingested:
        """Chunks of `stream` from its current position, storing the ones the store lacks;
        stops at the first chunk boundary at or after `limit` bytes. Every chunk is pinned
        under `lease` (kaon.services.leases) if given.

        This thread reads, cuts and hashes blocks; the writer looks up and stores the
        chunks straight from the blocks. BLOCKS buffers circulate
        between the two, so memory stays bounded and nothing is copied but a block's
        unfinished last chunk, carried to the start of the next."""
        writer = _PackWriter(self._chunks, lease)
        thread = threading.Thread(target=writer.run, name="kaon-ingest", daemon=True)
        thread.start()
        consumed = 0
        spare = _take_carry()  # a fresh bytes object per block cost page faults each time
        carry = memoryview(spare)[:0]
        try:
            while True:
                block = writer.free_block()
                view = memoryview(block)
                n = len(carry)
                view[:n] = carry
                eof = False
                while n < BLOCK:
                    got = stream.readinto(view[n:])  # type: ignore[attr-defined]
                    if not got:
                        eof = True
                        break
                    n += got
                lengths = chunking.cut_lengths(view[:n]) if n else []
                if not eof and lengths:  # the last one may go on in the next block
                    tail = lengths.pop()
                    carry = memoryview(spare)[:tail]
                    carry[:] = view[n - tail : n]
                if limit is not None:
                    lengths, stop = _up_to(lengths, limit - consumed)
                    eof = eof or stop
                consumed += sum(lengths)
                writer.put(block, lengths, _digests(view, lengths))
                if eof:
                    break
        finally:
            writer.put_done()
            thread.join()
            writer.release_blocks()
            carry.release()
            _give_carry(spare)
        writer.raise_failure()
        return Ingested(writer.refs, consumed, writer.new_chunks, writer.new_bytes)


_SPARE_BLOCKS: list[mmap.mmap] = []  # kept between ingests: no page faults the next time
_BLOCKS_LOCK = threading.Lock()


def _take_blocks() -> list[mmap.mmap]:
    with _BLOCKS_LOCK:
        taken = _SPARE_BLOCKS[-BLOCKS:]
        del _SPARE_BLOCKS[-BLOCKS:]
    return taken + [huge_buffer(BLOCK) for _ in range(BLOCKS - len(taken))]


def _digests(view: memoryview, lengths: list[int]) -> list[Digest]:
    """The digests of the chunks of `lengths` in `view`, hashed on every core: the other
    one mostly waits for the disk."""
    digests = []
    offset = 0
    for n in lengths:
        digests.append(chunking.hash_chunk(view[offset : offset + n]))
        offset += n
    return digests


_SPARE_CARRIES: list[mmap.mmap] = []


def _take_carry() -> mmap.mmap:
    """A buffer for a block's unfinished last chunk (at most chunking.MAX_SIZE bytes)."""
    with _BLOCKS_LOCK:
        if _SPARE_CARRIES:
            return _SPARE_CARRIES.pop()
    return huge_buffer(chunking.MAX_SIZE)


def _give_carry(buffer: mmap.mmap) -> None:
    with _BLOCKS_LOCK:
        if len(_SPARE_CARRIES) < 2:
            _SPARE_CARRIES.append(buffer)


def _up_to(lengths: list[int], budget: int) -> tuple[list[int], bool]:
    """The first chunks of `lengths` up to the one that reaches `budget` bytes; whether the
    budget was reached."""
    total = 0
    for i, n in enumerate(lengths):
        total += n
        if total >= budget:
            return lengths[: i + 1], True
    return lengths, False


Frame = tuple[Digest, int, int, "bytes | memoryview"]


class _PackWriter:
    """The writing thread: the chunks the store lacks, streamed into packs of PACK_TARGET."""

    def __init__(self, chunks: ChunkStore, lease: str | None) -> None:
        self._chunks = chunks
        self._lease = lease
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._blocks = _take_blocks()
        for block in self._blocks:
            self._free.put(block)
        self._queue: queue.Queue[tuple[mmap.mmap, list[int], list[Digest]] | None] = queue.Queue()
        self._block: mmap.mmap | None = None  # the block being written
        self._wanted: list[tuple[Digest, memoryview]] = []  # its chunks still to store
        self._failure: BaseException | None = None
        self._ended = False
        self._seen: set[Digest] = set()
        self.refs: list[ChunkRef] = []  # every chunk, in stream order
        self.new_chunks = self.new_bytes = 0

    def free_block(self) -> mmap.mmap:
        """A block to read into (waits while the writer is BLOCKS behind)."""
        while True:
            self.raise_failure()  # stop reading: nothing more can be stored
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue

    def put(self, block: mmap.mmap, lengths: list[int], digests: list[Digest]) -> None:
        self._queue.put((block, lengths, digests))

    def release_blocks(self) -> None:
        """Give the blocks back for the next ingest (once the writer has stopped)."""
        with _BLOCKS_LOCK:
            if len(_SPARE_BLOCKS) < 2 * BLOCKS:
                _SPARE_BLOCKS.extend(self._blocks)

    def put_done(self) -> None:
        self._queue.put(_DONE)

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        """Pack after pack: each is written by a thread of its own, and the next one starts
        as soon as it has taken its frames, while it still waits for its last writes, then
        is renamed and indexed. Stopping between packs would leave the disk idle ~10 ms each
        time (16 times per GiB of 64 MiB packs)."""
        packs: list[threading.Thread] = []
        try:
            while self._failure is None and (first := self._next_missing()) is not None:
                taken = threading.Event()
                pack = threading.Thread(
                    target=self._store, args=(first, taken), name="kaon-pack", daemon=True
                )
                pack.start()
                packs.append(pack)
                taken.wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._fail(exc)
        finally:
            for pack in packs:
                pack.join()
        if self._failure is not None:
            while not self._ended:  # unblock the reader until it stops
                self._ended = self._queue.get() is _DONE

    def _store(self, first: Frame, taken: threading.Event) -> None:
        try:
            self._chunks.store_frames(self._frames(first, taken), self._lease)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._fail(exc)  # backends raise kaon errors already (StorageFull...)
        finally:
            taken.set()

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc

    def _next_missing(self) -> Frame | None:
        """The next chunk the store lacks, as a frame (its bytes a view into its block);
        None at the end. Each block is looked up at once (one query, not one per chunk), and
        goes back to the reader once its frames are taken: the store consumes
        each frame before it asks for the next."""
        while not self._wanted:
            if self._ended:
                return None
            if self._block is not None:
                self._free.put(self._block)
                self._block = None
            item = self._queue.get()
            if item is None:
                self._ended = True
                return None
            self._take(*item)
        d, chunk = self._wanted.pop()
        codec, stored = chunking.compress(chunk)
        self.new_chunks += 1
        self.new_bytes += len(chunk)
        return d, codec, len(chunk), stored

    def _take(self, block: mmap.mmap, lengths: list[int], digests: list[Digest]) -> None:
        self._block = block
        view = memoryview(block)
        fresh: dict[Digest, memoryview] = {}
        offset = 0
        for n, d in zip(lengths, digests, strict=True):
            chunk = view[offset : offset + n]
            offset += n
            self.refs.append(ChunkRef(d, n))
            if d not in self._seen:
                self._seen.add(d)
                fresh[d] = chunk
        missing = set(self._chunks.missing(list(fresh), self._lease)) if fresh else set()
        self._wanted = [(d, c) for d, c in fresh.items() if d in missing]
        self._wanted.reverse()  # popped from the end, in stream order

    def _frames(self, first: Frame, taken: threading.Event) -> Iterator[Frame]:
        """The frames of one pack: `first`, then missing chunks up to PACK_TARGET bytes;
        `taken` is set once the store has consumed them all."""
        try:
            yield first
            size = len(first[3])
            while (
                size < PACK_TARGET
                and self._failure is None  # an earlier pack failed: the ingest stops
                and (frame := self._next_missing()) is not None
            ):
                yield frame
                size += len(frame[3])
        finally:
            taken.set()
