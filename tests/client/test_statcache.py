"""The local stat cache: hits only when size, mtime and inode all match."""

from __future__ import annotations

import marshal
import multiprocessing
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


T = "http://127.0.0.1:5266|repo|master"
A = StatKey("/data/a", 1, 1, 1)
B = StatKey("/data/b", 2, 2, 2)


def test_a_target_has_no_base_until_a_put_records_one(cache: StatCache) -> None:
    assert cache.base(T) == (None, {})
    cache.record(T, "c1", [("/a", A)])
    assert cache.base(T) == ("c1", {"/a": A})


def test_a_staged_generation_counts_only_once_recorded(cache: StatCache) -> None:
    cache.record(T, "c1", [("/a", A), ("/b", B)])
    staged = cache.stage([("/b", A)])
    assert cache.base(T) == ("c1", {"/a": A, "/b": B})  # the commit is still being made
    cache.record(T, "c2", staged=staged)
    assert cache.base(T) == ("c2", {"/b": A})  # replaced: /a is no longer known


def test_an_incremental_record_updates_the_rows(cache: StatCache) -> None:
    cache.record(T, "c1", staged=cache.stage([("/a", A), ("/b", B)]))
    cache.record(T, "c2", [("/b", A)])
    assert cache.base(T) == ("c2", {"/a": A, "/b": A})


def test_a_generation_written_by_another_python_reads_as_empty(cache: StatCache) -> None:
    cache.record(T, "c1", [("/a", A)])
    cache._db.execute("UPDATE generations SET files = ?", (b"not marshal",))
    assert cache.base(T) == ("c1", {})  # only a cache: every file is looked up again
    cache._db.execute("UPDATE generations SET files = ?", (marshal.dumps([1, 2]),))
    assert cache.base(T) == ("c1", {})
    cache.record(T, "c2", [("/b", B)])  # and recording goes on from an empty generation
    assert cache.base(T) == ("c2", {"/b": B})


def test_generations_of_dead_puts_and_old_bases_are_deleted(cache: StatCache) -> None:
    cache.record(T, "c1", staged=cache.stage([("/a", A)]))
    cache.stage([("/x", B)])  # a put that died before its commit
    cache.record(T, "c2", staged=cache.stage([("/b", B)]))
    cache.record("other", "c9", [("/o", A)])
    fresh = cache.stage([])  # the next put cleans up
    assert cache.base(T) == ("c2", {"/b": B})
    assert cache.base("other") == ("c9", {"/o": A})
    kept = {g for (g,) in cache._db.execute("SELECT id FROM generations")}
    named = {g for (g,) in cache._db.execute("SELECT generation FROM bases")}
    assert kept == named | {fresh}  # the targets' own, and the one just staged


def test_an_older_layout_is_dropped(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE puts (target TEXT, remote TEXT, path TEXT, size INTEGER, "
        "mtime_ns INTEGER, inode INTEGER, PRIMARY KEY (target, remote))"
    )
    db.execute("CREATE TABLE bases (target TEXT PRIMARY KEY, commit_id TEXT)")
    db.execute("INSERT INTO bases VALUES (?, 'c0')", (T,))
    db.commit()
    db.close()
    c = StatCache(path)
    try:
        assert c.base(T) == (None, {})
        c.record(T, "c1", [("/a", A)])
        assert c.base(T) == ("c1", {"/a": A})
    finally:
        c.close()
    reopened = StatCache(path)  # the new layout is kept
    try:
        assert reopened.base(T) == ("c1", {"/a": A})
    finally:
        reopened.close()


def _hammer(path: str, worker: int, rounds: int) -> None:
    cache = StatCache(Path(path))
    for i in range(rounds):  # a read then a write in one transaction, as `record` does
        cache.record(f"t{i % 3}", f"c{worker}-{i}", [(f"/f{worker}", StatKey("f", i, i, i))])
        cache.stage([(f"/g{worker}", StatKey("g", i, i, i))])
        cache.store([(StatKey(f"p{worker}", i, i, i), [("ab" * 32, i)])])
    cache.close()


def test_concurrent_puts_share_the_cache_without_database_is_locked(tmp_path: Path) -> None:
    """Two `kaon put` at once write one stat.db (CI met "database is locked" in the gc race
    test): a transaction that reads then writes must take the write lock up front, or SQLite
    refuses its upgrade at once (SQLITE_BUSY_SNAPSHOT: the busy timeout never applies)."""
    path = tmp_path / "stat.db"
    StatCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        pool.starmap(_hammer, [(str(path), w, 150) for w in range(4)])
    cache = StatCache(path)
    assert cache.base("t0")[0] is not None
    cache.close()
