"""MemoryObjectStore: the reference ObjectStore, a dict behind a lock.

Used by unit tests of the services and as the behaviour every other backend must match (see
kaon.testing.contracts.objects, run by tests/contract/test_object_store.py). Objects are
immutable bytes, so readers never copy under the lock and a put becomes visible all at once.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput, NotFound
from kaon.ports.objectstore import STREAM_PIECE, ObjectInfo
from kaon.store import validate_key, validate_prefix


class MemoryObjectStore:
    """Thread-safe in-memory ObjectStore."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryObjectStore({len(self._objects)} objects)"

    def health(self) -> BackendHealth:
        return BackendHealth(
            BackendRole.STORE, "memory://", True, "memory", f"{len(self._objects)} objects"
        )

    def put(self, key: str, data: bytes | memoryview | Iterable[bytes | memoryview]) -> None:
        validate_key(key)
        if isinstance(data, str):
            raise TypeError("ObjectStore.put takes bytes, memoryview or an iterable of bytes")
        if isinstance(data, bytes | bytearray | memoryview):
            value = memoryview(data).cast("B").tobytes()
        else:  # gather everything first (a failing iterable stores nothing), each piece
            value = b"".join([bytes(chunk) for chunk in data])  # copied as it comes
        with self._lock:
            self._objects[key] = value

    def put_file(self, key: str, path: str) -> None:
        validate_key(key)
        try:
            with open(path, "rb") as f:
                value = f.read()
        except FileNotFoundError:
            raise NotFound(f"cannot store object {key!r}: no file at {path}", key=key) from None
        with self._lock:
            self._objects[key] = value
        Path(path).unlink()

    def local_file(self, key: str) -> str | None:
        return None

    def _lookup(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            value = self._objects.get(key)
        if value is None:
            raise NotFound(f"object {key!r} not found in the object store", key=key)
        return value

    def get(self, key: str) -> bytes:
        return self._lookup(key)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer if the object ends first; b'' past its end)."""
        if offset < 0 or length < 0:
            raise InvalidInput(
                f"invalid range for object {key!r}: offset {offset} and length {length} "
                "must not be negative"
            )
        return self._lookup(key)[offset : offset + length]

    def get_stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        self.get_range(key, offset, 0)  # checks the range and that the object exists, now
        return self._stream(key, offset, length)

    def _stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        value = self._lookup(key)
        end = min(len(value), offset + length)
        for at in range(offset, end, STREAM_PIECE):
            yield value[at : min(end, at + STREAM_PIECE)]

    def has(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._objects

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        with self._lock:  # a snapshot: callers may put and delete while iterating
            items = list(self._objects.items())
        found = [ObjectInfo(k, len(v)) for k, v in items if k.startswith(prefix)]
        return iter(found)

    def sync(self) -> None:
        """Nothing to flush: memory is as durable as it gets."""
