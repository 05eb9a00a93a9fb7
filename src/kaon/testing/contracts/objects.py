"""ObjectStore contract: every object store backend passes it (kaon.ports.objectstore); a
backend's tests provide a fixture `object_store` yielding a fresh, empty ObjectStore."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, KaonError, NotFound
from kaon.ports.objectstore import STREAM_PIECE, ObjectInfo, ObjectStore
from kaon.testing.contracts.objectkeys import ObjectKeysAndFailuresContract, keys_of


class ObjectStoreContract(ObjectKeysAndFailuresContract):
    """Put, get, ranges, listing, deletes, put_file; with part 2 (objectkeys)."""

    def test_put_get_has(self, store: ObjectStore) -> None:
        assert not store.has("packs/ab/abcd")
        store.put("packs/ab/abcd", b"hello")
        assert store.has("packs/ab/abcd")
        assert store.get("packs/ab/abcd") == b"hello"
        assert list(store.list()) == [ObjectInfo("packs/ab/abcd", 5)]

    def test_single_component_key(self, store: ObjectStore) -> None:
        store.put("top", b"x")
        assert store.get("top") == b"x"
        assert keys_of(store) == {"top"}

    def test_put_accepts_memoryview_and_bytearray(self, store: ObjectStore) -> None:
        store.put("a/mv", memoryview(b"0123456789")[2:5])
        store.put("a/ba", bytearray(b"abc"))  # type: ignore[arg-type]
        assert store.get("a/mv") == b"234"
        assert store.get("a/ba") == b"abc"

    def test_overwrite_replaces(self, store: ObjectStore) -> None:
        store.put("k/1", b"first version, longer")
        store.put("k/1", b"second")
        assert store.get("k/1") == b"second"
        assert list(store.list("k/")) == [ObjectInfo("k/1", 6)]

    def test_iterable_put(self, store: ObjectStore) -> None:
        def gen() -> Iterator[bytes]:
            yield b"ab"
            yield b""
            yield b"cd"

        store.put("it/gen", gen())
        store.put("it/list", [b"x", b"y", b"z"])
        store.put("it/empty", iter([]))
        store.put("it/views", [memoryview(b"12"), bytearray(b"34")])  # type: ignore[list-item]
        assert store.get("it/gen") == b"abcd"
        assert store.get("it/list") == b"xyz"
        assert store.get("it/empty") == b""
        assert store.get("it/views") == b"1234"

    def test_empty_object(self, store: ObjectStore) -> None:
        store.put("e/empty", b"")
        assert store.has("e/empty")
        assert store.get("e/empty") == b""
        assert store.get_range("e/empty", 0, 10) == b""
        assert list(store.list("e/")) == [ObjectInfo("e/empty", 0)]

    def test_get_range(self, store: ObjectStore) -> None:
        data = bytes(range(256)) * 4
        store.put("r/obj", data)
        assert store.get_range("r/obj", 0, 10) == data[:10]
        assert store.get_range("r/obj", 100, 300) == data[100:400]
        assert store.get_range("r/obj", 1000, 100) == data[1000:]  # short read at the end
        assert store.get_range("r/obj", 1024, 5) == b""  # exactly at the end
        assert store.get_range("r/obj", 5000, 5) == b""  # past the end
        assert store.get_range("r/obj", 7, 0) == b""
        with pytest.raises(InvalidInput):
            store.get_range("r/obj", -1, 5)
        with pytest.raises(InvalidInput):
            store.get_range("r/obj", 0, -5)

    def test_get_stream(self, store: ObjectStore) -> None:
        data = os.urandom(3 * STREAM_PIECE + 12345)
        store.put("s/obj", data)

        def streamed(offset: int, length: int) -> bytes:
            pieces = list(store.get_stream("s/obj", offset, length))
            assert all(0 < len(p) <= STREAM_PIECE for p in pieces)
            return b"".join(pieces)

        assert streamed(0, len(data)) == data
        assert streamed(0, len(data) + 999) == data  # short read at the end
        assert (
            streamed(STREAM_PIECE - 7, 2 * STREAM_PIECE)
            == data[STREAM_PIECE - 7 :][: 2 * STREAM_PIECE]
        )
        assert streamed(100, 10) == data[100:110]
        assert streamed(len(data), 5) == b""  # exactly at the end
        assert streamed(len(data) + 5, 5) == b""  # past the end
        assert streamed(7, 0) == b""
        reader = store.get_stream("s/obj", 0, len(data))
        assert data.startswith(next(reader))
        reader.close()  # a reader may stop early
        with pytest.raises(InvalidInput):
            list(store.get_stream("s/obj", -1, 5))
        with pytest.raises(NotFound, match="s/absent"):
            list(store.get_stream("s/absent", 0, 10))
        with pytest.raises(NotFound):
            list(store.get_stream("s/absent", 0, 0))

    def test_missing_objects(self, store: ObjectStore) -> None:
        store.put("m/present", b"x")
        for key in ("m/absent", "m", "m/present/below", "other"):
            assert not store.has(key)
            with pytest.raises(NotFound) as info:
                store.get(key)
            assert repr(key) in info.value.message
            with pytest.raises(NotFound):
                store.get_range(key, 0, 1)

    def test_not_found_message_names_key(self, store: ObjectStore) -> None:
        with pytest.raises(NotFound) as info:
            store.get("packs/zz/zzzz")
        assert "packs/zz/zzzz" in info.value.message
        assert isinstance(info.value, KaonError)

    def test_delete(self, store: ObjectStore) -> None:
        store.put("d/ab/one", b"1")
        store.put("d/ab/two", b"2")
        store.delete("d/ab/one")
        assert not store.has("d/ab/one")
        assert store.get("d/ab/two") == b"2"
        store.delete("d/ab/one")  # absent: fine
        store.delete("never/existed")
        store.delete("d/ab/two")
        assert list(store.list()) == []
        store.put("d/ab/one", b"again")  # directories pruned by delete come back
        assert store.get("d/ab/one") == b"again"

    def test_list_prefixes(self, store: ObjectStore) -> None:
        keys = [
            "packs/ab/ab01",
            "packs/ab/ab02",
            "packs/abc/abc1",
            "packs/cd/cd01",
            "packsx/1",
            "trees/ab/ab01",
            "commit",
        ]
        for i, key in enumerate(keys):
            store.put(key, b"x" * i)
        assert keys_of(store) == set(keys)
        assert keys_of(store, "") == set(keys)
        assert keys_of(store, "packs") == {k for k in keys if k.startswith("packs")}
        assert keys_of(store, "packs/") == {k for k in keys if k.startswith("packs/")}
        assert keys_of(store, "packs/ab") == {"packs/ab/ab01", "packs/ab/ab02", "packs/abc/abc1"}
        assert keys_of(store, "packs/ab/") == {"packs/ab/ab01", "packs/ab/ab02"}
        assert keys_of(store, "packs/ab/ab0") == {"packs/ab/ab01", "packs/ab/ab02"}
        assert keys_of(store, "packs/ab/ab01") == {"packs/ab/ab01"}
        assert keys_of(store, "packs/ab/ab01/") == set()
        assert keys_of(store, "c") == {"commit"}
        assert keys_of(store, "zzz") == set()
        assert keys_of(store, "nope/deeper/") == set()
        sizes = {info.key: info.size for info in store.list()}
        assert sizes == {key: i for i, key in enumerate(keys)}

    def test_list_tolerates_changes_while_iterating(self, store: ObjectStore) -> None:
        for i in range(20):
            store.put(f"g/{i:02d}/obj", b"x")
        seen = []
        for info in store.list("g/"):
            store.delete(info.key)  # what gc does
            seen.append(info.key)
        assert len(seen) == 20
        assert list(store.list()) == []

    def test_put_file_takes_the_file_over(self, store: ObjectStore, tmp_path: Path) -> None:
        content = os.urandom(300_000)
        src = tmp_path / "incoming.pack"
        src.write_bytes(content)
        store.put_file("packs/ab/new", str(src))
        assert store.get("packs/ab/new") == content
        assert not src.exists()  # consumed: moved or copied then removed
        assert {i.size for i in store.list("packs/")} == {len(content)}
        src.write_bytes(b"replacement")  # like put, it replaces an existing object
        store.put_file("packs/ab/new", str(src))
        assert store.get("packs/ab/new") == b"replacement"
        store.sync()

    def test_put_file_of_a_missing_file_is_not_found_and_stores_nothing(
        self, store: ObjectStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound, match="no file at"):
            store.put_file("packs/x", str(tmp_path / "absent"))
        assert not store.has("packs/x")
        assert keys_of(store) == set()

    def test_local_file_is_none_or_holds_the_object(self, store: ObjectStore) -> None:
        """A same-machine client reads a pack's ranges from local_file (kaon.client.download)."""
        store.put("packs/ab/abcd", b"local bytes")
        path = store.local_file("packs/ab/abcd")
        assert path is None or Path(path).read_bytes() == b"local bytes"
