"""ObjectStore conformance: every backend must pass this one suite.

To add a backend (e.g. S3), add its name to BACKENDS and a branch in `_make_store`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, KaonError, NotFound
from kaon.ports.objectstore import ObjectInfo, ObjectStore
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore

BACKENDS = ["memory", "local"]
MIB = 1 << 20


def _make_store(kind: str, tmp_path: Path) -> ObjectStore:
    if kind == "memory":
        return MemoryObjectStore()
    if kind == "local":
        return LocalObjectStore(tmp_path / "objects")
    raise AssertionError(f"unknown backend {kind}")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, tmp_path)


def _keys(store: ObjectStore, prefix: str = "") -> set[str]:
    return {info.key for info in store.list(prefix)}


# -- basics --------------------------------------------------------------------------------


def test_put_get_has(store: ObjectStore) -> None:
    assert not store.has("packs/ab/abcd")
    store.put("packs/ab/abcd", b"hello")
    assert store.has("packs/ab/abcd")
    assert store.get("packs/ab/abcd") == b"hello"
    assert list(store.list()) == [ObjectInfo("packs/ab/abcd", 5)]


def test_single_component_key(store: ObjectStore) -> None:
    store.put("top", b"x")
    assert store.get("top") == b"x"
    assert _keys(store) == {"top"}


def test_put_accepts_memoryview_and_bytearray(store: ObjectStore) -> None:
    store.put("a/mv", memoryview(b"0123456789")[2:5])
    store.put("a/ba", bytearray(b"abc"))  # type: ignore[arg-type]
    assert store.get("a/mv") == b"234"
    assert store.get("a/ba") == b"abc"


def test_overwrite_replaces(store: ObjectStore) -> None:
    store.put("k/1", b"first version, longer")
    store.put("k/1", b"second")
    assert store.get("k/1") == b"second"
    assert list(store.list("k/")) == [ObjectInfo("k/1", 6)]


def test_iterable_put(store: ObjectStore) -> None:
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


def test_empty_object(store: ObjectStore) -> None:
    store.put("e/empty", b"")
    assert store.has("e/empty")
    assert store.get("e/empty") == b""
    assert store.get_range("e/empty", 0, 10) == b""
    assert list(store.list("e/")) == [ObjectInfo("e/empty", 0)]


def test_local_file_holds_the_object_or_is_none(store: ObjectStore) -> None:
    """A same-machine client reads a pack's ranges from local_file (kaon.client.download)."""
    store.put("packs/ab/abcd", b"local bytes")
    path = store.local_file("packs/ab/abcd")
    if isinstance(store, LocalObjectStore):
        assert path is not None and Path(path).read_bytes() == b"local bytes"
    else:
        assert path is None


def test_get_range(store: ObjectStore) -> None:
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


def test_missing_objects(store: ObjectStore) -> None:
    store.put("m/present", b"x")
    for key in ("m/absent", "m", "m/present/below", "other"):
        assert not store.has(key)
        with pytest.raises(NotFound) as info:
            store.get(key)
        assert repr(key) in info.value.message
        with pytest.raises(NotFound):
            store.get_range(key, 0, 1)


def test_not_found_message_names_key(store: ObjectStore) -> None:
    with pytest.raises(NotFound) as info:
        store.get("packs/zz/zzzz")
    assert "packs/zz/zzzz" in info.value.message
    assert isinstance(info.value, KaonError)


def test_delete(store: ObjectStore) -> None:
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


def test_list_prefixes(store: ObjectStore) -> None:
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
    assert _keys(store) == set(keys)
    assert _keys(store, "") == set(keys)
    assert _keys(store, "packs") == {k for k in keys if k.startswith("packs")}
    assert _keys(store, "packs/") == {k for k in keys if k.startswith("packs/")}
    assert _keys(store, "packs/ab") == {"packs/ab/ab01", "packs/ab/ab02", "packs/abc/abc1"}
    assert _keys(store, "packs/ab/") == {"packs/ab/ab01", "packs/ab/ab02"}
    assert _keys(store, "packs/ab/ab0") == {"packs/ab/ab01", "packs/ab/ab02"}
    assert _keys(store, "packs/ab/ab01") == {"packs/ab/ab01"}
    assert _keys(store, "packs/ab/ab01/") == set()
    assert _keys(store, "c") == {"commit"}
    assert _keys(store, "zzz") == set()
    assert _keys(store, "nope/deeper/") == set()
    sizes = {info.key: info.size for info in store.list()}
    assert sizes == {key: i for i, key in enumerate(keys)}


def test_list_tolerates_changes_while_iterating(store: ObjectStore) -> None:
    for i in range(20):
        store.put(f"g/{i:02d}/obj", b"x")
    seen = []
    for info in store.list("g/"):
        store.delete(info.key)  # what gc does
        seen.append(info.key)
    assert len(seen) == 20
    assert list(store.list()) == []


# -- invalid keys --------------------------------------------------------------------------

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


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_rejected(store: ObjectStore, key: str) -> None:
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
def test_invalid_prefixes_are_rejected(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidInput):
        store.list(prefix)


def test_unusual_but_valid_keys(store: ObjectStore) -> None:
    keys = ["..x/y", ".hidden/obj", "a.b/c-d_e=f+g@h,i:j~k", "x" * 255]
    for key in keys:
        store.put(key, key.encode())
    for key in keys:
        assert store.get(key) == key.encode()
    assert _keys(store) == set(keys)
    assert _keys(store, "..") == {"..x/y"}


# -- failures and size ---------------------------------------------------------------------


class Boom(Exception):
    pass


def test_failed_put_leaves_previous_object(store: ObjectStore) -> None:
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
    assert _keys(store) == {"f/obj"}


def _piece(index: int) -> bytes:
    """1 MiB of deterministic, position-dependent bytes."""
    seed = hashlib.sha256(index.to_bytes(4, "big")).digest()
    return (seed * (MIB // len(seed)))[index % 32 :] + seed[: index % 32]


def test_big_object_streamed(store: ObjectStore) -> None:
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


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_puts_from_threads(store: ObjectStore) -> None:
    def writer(t: int) -> None:
        for i in range(40):
            key = f"c/{(t * 40 + i) % 16:02x}/t{t}-{i}"
            store.put(key, f"{t}-{i}".encode() * 100)
            if i % 4 == 0:
                store.delete(key)  # deletes prune directories other writers are using

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(writer, range(8)))
    expected = {f"c/{(t * 40 + i) % 16:02x}/t{t}-{i}" for t in range(8) for i in range(40) if i % 4}
    assert _keys(store, "c/") == expected
    for key in expected:
        t, i = key.rsplit("/", 1)[1][1:].split("-")
        assert store.get(key) == f"{t}-{i}".encode() * 100


def test_concurrent_overwrites_are_atomic(store: ObjectStore) -> None:
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
    assert _keys(store) == {"hot/key"}


def test_random_bytes_roundtrip(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    store.put("rand/obj", data)
    assert store.get("rand/obj") == data
    assert store.get_range("rand/obj", 123_456, 7_890) == data[123_456 : 123_456 + 7_890]


def test_sync_is_a_barrier_that_keeps_everything(store: ObjectStore) -> None:
    store.put("packs/aa/one", b"1" * 1000)
    store.put("trees/bb/two", [b"2", b"22"])
    store.sync()
    store.sync()  # idempotent, and fine with nothing new to flush
    assert store.get("packs/aa/one") == b"1" * 1000
    assert store.get("trees/bb/two") == b"222"


# -- put_file --------------------------------------------------------------------------------


def test_put_file_takes_the_file_over(store: ObjectStore, tmp_path: Path) -> None:
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
    store: ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match="no file at"):
        store.put_file("packs/x", str(tmp_path / "absent"))
    assert not store.has("packs/x")
    assert _keys(store) == set()
