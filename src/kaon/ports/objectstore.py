"""ObjectStore: bytes by key. Local filesystem, memory, any S3-compatible store.

Keys are '/'-separated ASCII strings ('packs/ab/ab12...', 'trees/..'). A put is atomic: a reader
sees the whole object or no object; an interrupted put leaves nothing under the key. A put is
durable (survives a power loss) once a later `sync()` returns: the services call it once before
each commit becomes visible instead of paying a flush per object. Hashing, chunking, packing and
dedup live above this port, written once.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from kaon.core.backends import BackendHealth

STREAM_PIECE = 1 << 20  # bytes of one piece of get_stream at most


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes | memoryview | Iterable[bytes | memoryview]) -> None:
        """Store `data` under `key` atomically (replaces an existing object); durable after
        the next `sync()`. An iterable is streamed: each piece is used (copied or written)
        before the next is asked for, so its producer may reuse the piece's memory then."""
        ...

    def put_file(self, key: str, path: str) -> None:
        """Store the content of the local file `path` under `key`, consuming the file: a store
        on the same filesystem moves it into place (no copy), others copy it then delete it.
        Atomic, and durable after the next `sync()`, like `put`; NotFound when `path` is absent."""
        ...

    def get(self, key: str) -> bytes:
        """The whole object; raises kaon.core.errors.NotFound when absent."""
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset`; raises NotFound when absent."""
        ...

    def get_stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        """`length` bytes from `offset` (fewer if the object ends first), as pieces of at most
        STREAM_PIECE bytes read from the store as they are consumed: one request on a remote
        store however long the range, never more than a piece held. NotFound when absent
        (from the first piece on); closing the iterator ends the read."""
        ...

    def has(self, key: str) -> bool: ...

    def local_file(self, key: str) -> str | None:
        """The path of the file holding the object when the store keeps each object as a
        plain file on this machine (a client on this machine may read it there, see
        kaon.client.download); None for any other store."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; deleting an absent key is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in no particular order."""
        ...

    def sync(self) -> None:
        """A write barrier: every put that returned before this call is durable when it returns."""
        ...

    def health(self) -> BackendHealth:
        """Whether the store answers now (its URL without secrets, its version). Never raises: a failure is
        ok=False with a one-line `detail` (what failed, what to do)."""
        ...
