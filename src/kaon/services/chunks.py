"""ChunkStore: deduplicated, verified chunk storage in packs over any ObjectStore."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from kaon.core.errors import ChunkNotFound, InvalidInput
from kaon.core.ids import Digest, digest, new_pack_id
from kaon.core.pack import HEADER, MAGIC, decode_chunk, iter_frames, verify
from kaon.core.tree import ChunkRef
from kaon.ports.metadata import ChunkIndex, ChunkLocation, PackInfo
from kaon.ports.objectstore import ObjectStore
from kaon.services.chunkstream import StreamedRun
from kaon.services.leases import UploadLeases
from kaon.services.locks import SharedExclusiveLock
from kaon.services.objectkeys import pack_key

MAX_PACK = 256 * 1024 * 1024
RECOVERY_WINDOW = 3600.0  # the kernel writes dirty pages back within ~30 s; be generous
_LOCATE_BATCH = 512
_GAP = 64 * 1024  # bytes between two chunks read with one range read (frame headers)
_RUN = 8 * 1024 * 1024  # bytes of one range read at most; a longer run streams (not local)
_READ_AHEAD = 3  # reads under way beyond the one a reader consumes
_STREAMS_AHEAD = 1  # of them, streaming reads (each holds a connection and a queue)
_READERS_POOL = ThreadPoolExecutor(8, thread_name_prefix="kaon-read")  # shared by every reader


class LocalChunk(NamedTuple):
    """A stored chunk as a range of a local file (see ChunkStore.where)."""

    path: str
    offset: int
    stored_len: int
    raw_len: int
    codec: int


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
        leases: UploadLeases,
    ) -> None:
        self._objects = objects
        self._gc_lock = gc_lock
        self._index = index
        self._clock = clock
        self._leases = leases

    def missing(self, digests: Sequence[str], lease: str | None = None) -> list[Digest]:
        """The digests (validated, deduplicated, in input order) the store does not hold.

        With `lease` (kaon.services.leases) every digest asked about is pinned first: one the
        store holds stays there (gc spares it) until the upload commits or the lease expires."""
        wanted = list(dict.fromkeys(digest(d) for d in digests))
        if lease is None:
            absent = self._index.missing_chunks(wanted)
        else:
            with self._gc_lock.shared():  # pinned and looked up with no gc in between
                self._leases.hold(lease, wanted)
                absent = self._index.missing_chunks(wanted)
        return [d for d in wanted if d in absent]

    def store_pack(
        self, body: bytes | memoryview, file: str | None = None, lease: str | None = None
    ) -> PackReceipt:
        """Verify every frame of an uploaded pack, store it as one object, index its chunks
        (pinned under `lease` if given).

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
            self._leases.hold(lease, [f.digest for f in frames])
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

    def renew(self, lease: str) -> None:
        """The upload of `lease` goes on (kaon.services.leases)."""
        self._leases.hold(lease)

    def release(self, lease: str) -> None:
        """The upload of `lease` is committed or given up (kaon.services.leases)."""
        self._leases.release(lease)

    def store_frames(
        self,
        frames: Iterable[tuple[Digest, int, int, bytes | memoryview]],
        lease: str | None = None,
    ) -> PackReceipt:
        """Store chunks the server hashed itself (kaon.services.ingest) as one pack, streamed
        to the object store as `frames` (digest, codec, raw length, stored bytes) come, and
        not verified again.

        With `lease` (whose `missing` pinned the frames' digests) the pack's id is pinned
        too and gc is not held off while the frames stream in: `frames` may ask `missing`
        meanwhile (a shared hold of the gc lock would then wait behind a waiting gc)."""
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

        if lease is None:
            with self._gc_lock.shared():
                self._objects.put(pack_key(pack_id), body())
                self._index.add_pack(PackInfo(pack_id, size, self._clock()), where)
        else:
            self._leases.hold(lease, [Digest(pack_id)])  # gc spares the unindexed object
            self._objects.put(pack_key(pack_id), body())
            with self._gc_lock.shared():
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

    def read(self, chunks: Iterable[ChunkRef]) -> Iterator[bytes]:
        """The content of `chunks`, in order, one decoded chunk at a time.

        `chunks` may run across many files (a folder's archive): they are located
        _LOCATE_BATCH at a time, and chunks lying one after the other in a pack are read
        with one read (a folder of 20,000 small files: ~40 queries and a few hundred reads,
        not 20,000 of each). Up to _READ_AHEAD reads after the one being consumed are
        already under way on other threads (and decoded there): a remote store (S3) answers
        each read after a round trip, so one read at a time would leave the link idle.

        A run is read with range reads of _RUN bytes at most from a store of local files
        (parallel preads of the page cache or disk); from any other store a run longer than
        _RUN (most of a pack: a big file) is one streaming read (kaon.services.chunkstream),
        _STREAMS_AHEAD of them under way beyond the one consumed, and shorter runs (sparse
        reads) range reads."""
        pending: deque[_Source] = deque()
        try:
            for run in self._runs(chunks):
                for source in self._sources(run):  # each started when asked for
                    pending.append(source)
                    while (
                        len(pending) > _READ_AHEAD
                        or sum(isinstance(p, StreamedRun) for p in pending) > _STREAMS_AHEAD
                    ):
                        yield from _chunks_of(pending.popleft())
            while pending:
                yield from _chunks_of(pending.popleft())
        finally:
            for p in pending:
                p.cancel()

    def _sources(self, run: list[ChunkLocation]) -> Iterator[_Source]:
        """The reads of one run (chunks close together in one pack), started."""
        key = pack_key(run[0].pack)
        size = run[-1].offset + run[-1].stored_len - run[0].offset
        if size > _RUN and self._objects.local_file(key) is None:
            yield StreamedRun(self._objects, key, run)
            return
        part: list[ChunkLocation] = []
        for loc in run:
            if part and loc.offset + loc.stored_len - part[0].offset > _RUN:
                yield _READERS_POOL.submit(self._decoded, part)
                part = []
            part.append(loc)
        yield _READERS_POOL.submit(self._decoded, part)

    def _runs(self, chunks: Iterable[ChunkRef]) -> Iterator[list[ChunkLocation]]:
        """The locations of `chunks` in order, grouped into runs (see _follows)."""
        it = iter(chunks)
        run: list[ChunkLocation] = []
        while batch := list(itertools.islice(it, _LOCATE_BATCH)):
            where = self._index.locate(list(dict.fromkeys(c.digest for c in batch)))
            for ref in batch:
                loc = where.get(ref.digest)
                if loc is None:
                    raise ChunkNotFound(
                        f"chunk {ref.digest[:12]} is missing from the store "
                        "(was it reclaimed by gc while still referenced? please report)"
                    )
                if run and not _follows(run, loc):
                    yield run
                    run = []
                run.append(loc)
        if run:
            yield run

    def _decoded(self, run: list[ChunkLocation]) -> list[bytes]:
        return list(self._read_run(run))

    def where(self, chunks: Sequence[ChunkRef]) -> list[LocalChunk] | None:
        """Where each of `chunks` lies in a local file, in order (a client on this machine
        reads them there itself); None when the store does not keep packs as local files."""
        where = self._index.locate(list(dict.fromkeys(c.digest for c in chunks)))
        out: list[LocalChunk] = []
        for ref in chunks:
            loc = where.get(ref.digest)
            if loc is None:
                raise ChunkNotFound(f"chunk {ref.digest[:12]} is missing from the store")
            path = self._objects.local_file(pack_key(loc.pack))
            if path is None:
                return None
            out.append(LocalChunk(path, loc.offset, loc.stored_len, loc.raw_len, loc.codec))
        return out

    def _read_run(self, run: list[ChunkLocation]) -> Iterator[bytes]:
        """Chunks of one pack close to each other (see _follows): one range read."""
        if len(run) == 1:
            loc = run[0]
            stored = self._objects.get_range(pack_key(loc.pack), loc.offset, loc.stored_len)
            yield decode_chunk(loc.codec, loc.raw_len, stored)
            return
        start = run[0].offset
        end = max(loc.offset + loc.stored_len for loc in run)
        view = memoryview(self._objects.get_range(pack_key(run[0].pack), start, end - start))
        for loc in run:
            at = loc.offset - start
            yield decode_chunk(loc.codec, loc.raw_len, view[at : at + loc.stored_len])


def _follows(run: list[ChunkLocation], loc: ChunkLocation) -> bool:
    """Whether `loc` may join `run`: a chunk of the same pack, at most _GAP bytes after the
    run's last one (the frame headers between them). Chunks of any size join: a big file's
    chunks lie one after the other in its packs, and one read of many chunks costs one round
    trip where a read per chunk costs one each (S3)."""
    last = run[-1]
    end = last.offset + last.stored_len
    return loc.pack == last.pack and end <= loc.offset <= end + _GAP


_Source = Future[list[bytes]] | StreamedRun


def _chunks_of(source: _Source) -> Iterator[bytes]:
    if isinstance(source, StreamedRun):
        return source.chunks()
    return iter(source.result())
