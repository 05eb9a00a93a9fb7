"""StreamedRun: the chunks of a long run of one pack, read with one streaming GET.

A reader that needs most of a pack (a big file's chunks lie one after the other in its
packs) reads the run with `ObjectStore.get_stream` instead of a range read per 8 MiB: one
request per pack, which a remote store answers at its streaming speed (and moto, which copies
the whole object for every ranged GET, once instead of eight times). The run is read on a
thread of its own, started at once, so it streams while the reader consumes what came before
it; the chunks it decodes are handed over through a queue of QUEUED chunks at most, so the
run never holds more than QUEUED chunks and one piece of the stream, whatever its length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Final

from kaon.core.errors import CorruptObject
from kaon.core.pack import decode_chunk
from kaon.ports.metadata import ChunkLocation
from kaon.ports.objectstore import ObjectStore

QUEUED = 8  # decoded chunks a run hands over ahead of its reader (8 MiB on average)
_END: Final = object()


class StreamedRun:
    """The chunks of `run` (one pack, in offset order) from one streaming read of `key`."""

    def __init__(self, objects: ObjectStore, key: str, run: list[ChunkLocation]) -> None:
        self._objects = objects
        self._key = key
        self._run = run
        self._queue: queue.Queue[object] = queue.Queue(QUEUED)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="kaon-stream", daemon=True)
        self._thread.start()

    def chunks(self) -> Iterator[bytes]:
        """The decoded chunks in order; the read's failure is raised here. Closing this
        iterator early stops the read."""
        try:
            for _ in self._run:
                item = self._queue.get()
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, bytes)
                yield item
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the read (its thread ends after its current piece)."""
        self._stop.set()
        while True:  # a thread blocked on a full queue gets its place, then sees the stop
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def _produce(self) -> None:
        start = self._run[0].offset
        end = max(loc.offset + loc.stored_len for loc in self._run)
        try:
            pieces = self._objects.get_stream(self._key, start, end - start)
            try:
                for loc, stored in framed(pieces, start, self._run, self._key):
                    if self._stop.is_set():
                        return
                    self._queue.put(decode_chunk(loc.codec, loc.raw_len, stored))
            finally:
                pieces.close()  # ends the read (a remote store's connection) early
        except Exception as exc:  # noqa: BLE001 - handed to the reader, raised there
            if not self._stop.is_set():
                self._queue.put(exc)


def framed(
    pieces: Iterable[bytes], start: int, run: list[ChunkLocation], key: str
) -> Iterator[tuple[ChunkLocation, bytes]]:
    """Each location of `run` with its stored bytes, cut from `pieces` (the object's bytes
    from `start` on, in pieces of any size); the bytes between two chunks are skipped."""
    it = iter(pieces)
    buf = bytearray()
    at = start  # the object's offset of buf[0]
    for loc in run:
        lo = loc.offset - at
        while len(buf) < lo + loc.stored_len:
            piece = next(it, None)
            if piece is None:
                raise CorruptObject(
                    f"object {key!r} ends at byte {at + len(buf)}: its chunk "
                    f"{loc.digest[:12]} was indexed at {loc.offset}+{loc.stored_len}"
                )
            buf += piece
        with memoryview(buf) as view:
            stored = bytes(view[lo : lo + loc.stored_len])
        del buf[: lo + loc.stored_len]
        at = loc.offset + loc.stored_len
        yield loc, stored
