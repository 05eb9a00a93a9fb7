"""The local stat cache: hits only when size, mtime and inode all match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.client.statcache import StatCache, StatKey, decode_chunks, encode_chunks
from kaon.core.chunking import hash_chunk

CHUNKS = [(hash_chunk(b"a"), 1), (hash_chunk(b"bb"), 2 * 1024**3)]


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[StatCache]:
    c = StatCache(tmp_path / "cache" / "stat.db")
    try:
        yield c
    finally:
        c.close()


KEY = StatKey("/data/file.bin", 10, 1_700_000_000_123_456_789, 4242)


def test_encode_decode_chunks() -> None:
    assert decode_chunks(encode_chunks(CHUNKS)) == CHUNKS
    assert decode_chunks(encode_chunks([])) == []
    assert len(encode_chunks(CHUNKS)) == 2 * 40


def test_hit_when_everything_matches(cache: StatCache) -> None:
    cache.store([(KEY, CHUNKS)])
    assert cache.lookup([KEY]) == {KEY.path: CHUNKS}


@pytest.mark.parametrize(
    "changed",
    [
        StatKey(KEY.path, KEY.size + 1, KEY.mtime_ns, KEY.inode),
        StatKey(KEY.path, KEY.size, KEY.mtime_ns + 1, KEY.inode),
        StatKey(KEY.path, KEY.size, KEY.mtime_ns, KEY.inode + 1),
    ],
    ids=["size", "mtime", "inode"],
)
def test_miss_when_anything_changed(cache: StatCache, changed: StatKey) -> None:
    cache.store([(KEY, CHUNKS)])
    assert cache.lookup([changed]) == {}


def test_miss_for_unknown_paths(cache: StatCache) -> None:
    cache.store([(KEY, CHUNKS)])
    other = StatKey("/data/other.bin", KEY.size, KEY.mtime_ns, KEY.inode)
    assert cache.lookup([other]) == {}
    assert cache.lookup([]) == {}


def test_store_replaces(cache: StatCache) -> None:
    cache.store([(KEY, CHUNKS)])
    newer = StatKey(KEY.path, 1, KEY.mtime_ns + 5, KEY.inode)
    cache.store([(newer, CHUNKS[:1])])
    assert cache.lookup([KEY]) == {}
    assert cache.lookup([newer]) == {KEY.path: CHUNKS[:1]}


def test_empty_files_are_cached(cache: StatCache) -> None:
    empty = StatKey("/empty", 0, 1, 2)
    cache.store([(empty, [])])
    assert cache.lookup([empty]) == {"/empty": []}


def test_many_keys(cache: StatCache) -> None:
    keys = [StatKey(f"/f{i}", i, i, i) for i in range(1234)]  # more than one query batch
    cache.store([(k, CHUNKS[:1]) for k in keys])
    hits = cache.lookup([*keys, StatKey("/unknown", 0, 0, 0)])
    assert len(hits) == len(keys)


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "stat.db"
    first = StatCache(path)
    first.store([(KEY, CHUNKS)])
    first.close()
    second = StatCache(path)
    try:
        assert second.lookup([KEY]) == {KEY.path: CHUNKS}
    finally:
        second.close()


def test_real_files(cache: StatCache, tmp_path: Path) -> None:
    from kaon.client.localfiles import stat_key

    f = tmp_path / "f.txt"
    f.write_bytes(b"12345")
    key = stat_key(f)
    cache.store([(key, CHUNKS[:1])])
    assert cache.lookup([stat_key(f)]) == {key.path: CHUNKS[:1]}
    f.write_bytes(b"123456")
    assert cache.lookup([stat_key(f)]) == {}
