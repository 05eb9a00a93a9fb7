"""Contract of the StagingStore port (kaon.ports.stagings): stagings and their staged files."""

from __future__ import annotations

import pytest

from kaon.core.ids import Digest
from kaon.core.tree import ChunkRef, FileContent
from kaon.ports.database import MetadataDatabase
from kaon.ports.stagings import StagingRecord, StagingStore
from kaon.testing.samples import run_threads


def _content(i: int, chunks: int = 1, meta: bool = False) -> FileContent:
    refs = tuple(ChunkRef(Digest(f"{i:04x}{j:04x}".ljust(64, "a")), 10 + j) for j in range(chunks))
    return FileContent(
        sum(r.size for r in refs), refs, (("content-type", "text/csv"),) if meta else ()
    )


class StagingStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> StagingStore:
        return database.stagings

    def test_staged_files_come_back_as_staged(self, store: StagingStore) -> None:
        store.open(StagingRecord("s1", "r", "master", 10.0))
        rows = {"a": _content(1), "d/b": _content(2, chunks=3), "c": _content(3, meta=True)}
        assert store.add("s1", rows) == 3
        assert store.add("s1", {"e": _content(4, chunks=0)}) == 4
        assert store.puts("s1") == {**rows, "e": FileContent(0, ())}
        assert store.puts("other") == {}

    def test_a_path_staged_again_is_replaced(self, store: StagingStore) -> None:
        store.open(StagingRecord("s1", "r", "master", 10.0))
        store.open(StagingRecord("s2", "r", "master", 10.0))
        store.add("s1", {"a": _content(1), "b": _content(2)})
        store.add("s2", {"a": _content(9)})  # another staging: its own files
        assert store.add("s1", {"a": _content(3, chunks=2, meta=True)}) == 3  # rows staged
        assert store.puts("s1") == {"a": _content(3, chunks=2, meta=True), "b": _content(2)}
        assert store.puts("s2") == {"a": _content(9)}

    def test_touch_marks_use_and_expired_stagings_go(self, store: StagingStore) -> None:
        store.open(StagingRecord("s1", "r", "dev", 10.0))
        store.add("s1", {"a": _content(1)})
        assert store.touch("s1", 20.0, idle_before=5.0) == StagingRecord("s1", "r", "dev", 20.0)
        assert store.touch("nope", 20.0, idle_before=5.0) is None
        assert store.touch("s1", 100.0, idle_before=21.0) is None  # idle since 20: expired
        assert store.touch("s1", 100.0, idle_before=0.0) is None  # and dropped
        assert store.puts("s1") == {}
        assert store.add("s1", {"a": _content(1)}) is None

    def test_dropped_stagings_take_their_files_along(self, store: StagingStore) -> None:
        store.open(StagingRecord("s1", "r", "master", 10.0))
        store.add("s1", {"a": _content(1)})
        store.drop("s1")
        store.drop("s1")  # twice: harmless
        assert store.puts("s1") == {}
        assert store.touch("s1", 11.0, idle_before=0.0) is None
        assert store.add("s1", {"b": _content(2)}) is None
        store.open(StagingRecord("s1", "r", "master", 12.0))  # the id is free again
        assert store.puts("s1") == {}

    def test_expire_drops_idle_then_least_recently_used(self, store: StagingStore) -> None:
        for i, touched in enumerate([10.0, 50.0, 40.0, 30.0, 20.0]):
            store.open(StagingRecord(f"s{i}", "r", "master", touched))
            store.add(f"s{i}", {"a": _content(i)})
        assert store.expire(idle_before=15.0, keep=10) == 1  # s0: idle
        assert store.touch("s0", 60.0, idle_before=0.0) is None
        store.touch("s4", 60.0, idle_before=0.0)  # used again: now the most recent
        assert store.expire(idle_before=0.0, keep=2) == 2  # s2 (40) and s3 (30) go
        assert store.touch("s2", 61.0, idle_before=0.0) is None
        assert store.touch("s3", 61.0, idle_before=0.0) is None
        assert store.puts("s1") == {"a": _content(1)}
        assert store.puts("s4") == {"a": _content(4)}
        assert store.puts("s3") == {}

    def test_concurrent_batches_lose_nothing(self, store: StagingStore) -> None:
        store.open(StagingRecord("s1", "r", "master", 10.0))

        def stage(i: int) -> None:
            assert store.add("s1", {f"t{i}/f{j}": _content(j) for j in range(50)}) is not None

        assert run_threads(4, stage) == []
        assert len(store.puts("s1")) == 200
