"""ObjectStore contract, part 2: invalid keys, failures, big objects, concurrency
(kaon.ports.objectstore)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.ports.objectstore import ObjectInfo, ObjectStore

MIB = 1 << 20


def keys_of(store: ObjectStore, prefix: str = "") -> set[str]:
    """The keys `store` lists under `prefix`."""
    return {info.key for info in store.list(prefix)}


BAD_KEYS = [
    "",
    "/abs",
    "a/../b",
    "..",
    "../escape",
    "a/..",
    ".",
    "a/./b",
    "a//b",
    "a/",
    "a\\b",
    "..\\escape",
    "nul\x00byte",
    "new\nline",
    "sp ace",
    "caf\u00e9",
    "a/.tmp-1234",
    "x" * 256,
    "a/" * 600 + "b",
]


class Boom(Exception):
    pass


def _piece(index: int) -> bytes:
    """1 MiB of deterministic, position-dependent bytes."""
    seed = hashlib.sha256(index.to_bytes(4, "big")).digest()
    return (seed * (MIB // len(seed)))[index % 32 :] + seed[: index % 32]


class ObjectKeysAndFailuresContract:
    @pytest.fixture
    def store(self, object_store: ObjectStore) -> ObjectStore:
        """The `object_store` fixture: a fresh, empty ObjectStore."""
        return object_store

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_invalid_keys_are_rejected(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidInput):
            store.put(key, b"data")
        with pytest.raises(InvalidInput):
            store.get(key)
        with pytest.raises(InvalidInput):
            store.get_range(key, 0, 1)
        with pytest.raises(InvalidInput):
            store.has(key)
        with pytest.raises(InvalidInput):
            store.delete(key)
        assert list(store.list()) == []

    @pytest.mark.parametrize("prefix", ["/abs", "../", "a/../", "a//", "a\\", "x\x00"])
    def test_invalid_prefixes_are_rejected(self, store: ObjectStore, prefix: str) -> None:
        with pytest.raises(InvalidInput):
            store.list(prefix)

    def test_unusual_but_valid_keys(self, store: ObjectStore) -> None:
        keys = ["..x/y", ".hidden/obj", "a.b/c-d_e=f+g@h,i:j~k", "x" * 255]
        for key in keys:
            store.put(key, key.encode())
        for key in keys:
            assert store.get(key) == key.encode()
        assert keys_of(store) == set(keys)
        assert keys_of(store, "..") == {"..x/y"}

    def test_failed_put_leaves_previous_object(self, store: ObjectStore) -> None:
        store.put("f/obj", b"old")

        def failing() -> Iterator[bytes]:
            yield b"new data " * 1000
            raise Boom

        with pytest.raises(Boom):
            store.put("f/obj", failing())
        assert store.get("f/obj") == b"old"

        with pytest.raises(Boom):
            store.put("f/other", failing())
        assert not store.has("f/other")
        assert keys_of(store) == {"f/obj"}

    def test_big_object_streamed(self, store: ObjectStore) -> None:
        pieces = 64
        store.put("big/obj", (_piece(i) for i in range(pieces)))
        assert list(store.list("big/")) == [ObjectInfo("big/obj", pieces * MIB)]

        def expected(offset: int, length: int) -> bytes:
            out = bytearray()
            while length > 0 and offset < pieces * MIB:
                index, within = divmod(offset, MIB)
                take = _piece(index)[within : within + length]
                out += take
                offset += len(take)
                length -= len(take)
            return bytes(out)

        for offset, length in [
            (0, 100),
            (MIB - 10, 20),  # across a piece boundary
            (17 * MIB + 12345, 3 * MIB),  # several pieces
            (pieces * MIB - 5, 100),  # short read at the end
            (pieces * MIB, 10),
        ]:
            assert store.get_range("big/obj", offset, length) == expected(offset, length)

    def test_concurrent_puts_from_threads(self, store: ObjectStore) -> None:
        def writer(t: int) -> None:
            for i in range(40):
                key = f"c/{(t * 40 + i) % 16:02x}/t{t}-{i}"
                store.put(key, f"{t}-{i}".encode() * 100)
                if i % 4 == 0:
                    store.delete(key)  # deletes prune directories other writers are using

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(writer, range(8)))
        expected = {
            f"c/{(t * 40 + i) % 16:02x}/t{t}-{i}" for t in range(8) for i in range(40) if i % 4
        }
        assert keys_of(store, "c/") == expected
        for key in expected:
            t, i = key.rsplit("/", 1)[1][1:].split("-")
            assert store.get(key) == f"{t}-{i}".encode() * 100

    def test_concurrent_overwrites_are_atomic(self, store: ObjectStore) -> None:
        versions = [bytes([v]) * (64 * 1024 + v) for v in range(8)]
        stop = threading.Event()
        torn: list[bytes] = []

        def writer(v: int) -> None:
            for _ in range(20):
                store.put("hot/key", [versions[v][:1000], versions[v][1000:]])

        def reader() -> None:
            while not stop.is_set():
                try:
                    data = store.get("hot/key")
                except NotFound:
                    continue
                if data not in versions:
                    torn.append(data)

        readers = [threading.Thread(target=reader) for _ in range(2)]
        for r in readers:
            r.start()
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(writer, range(8)))
        finally:
            stop.set()
            for r in readers:
                r.join()
        assert torn == []
        assert store.get("hot/key") in versions
        assert keys_of(store) == {"hot/key"}

    def test_random_bytes_roundtrip(self, store: ObjectStore) -> None:
        data = os.urandom(300_000)
        store.put("rand/obj", data)
        assert store.get("rand/obj") == data
        assert store.get_range("rand/obj", 123_456, 7_890) == data[123_456 : 123_456 + 7_890]

    def test_sync_is_a_barrier_that_keeps_everything(self, store: ObjectStore) -> None:
        store.put("packs/aa/one", b"1" * 1000)
        store.put("trees/bb/two", [b"2", b"22"])
        store.sync()
        store.sync()  # idempotent, and fine with nothing new to flush
        assert store.get("packs/aa/one") == b"1" * 1000
        assert store.get("trees/bb/two") == b"222"
