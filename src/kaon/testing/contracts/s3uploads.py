"""Contract of the UploadStore port (kaon.ports.s3uploads): S3 multipart uploads and parts."""

from __future__ import annotations

import pytest

from kaon.core.s3.uploads import Part, Upload
from kaon.ports.database import MetadataDatabase
from kaon.ports.s3uploads import StoredPart, UploadRecord, UploadStore
from kaon.testing.samples import run_threads


def _upload(i: int, bucket: str = "master.r", created: float = 10.0) -> Upload:
    return Upload(f"{i:032x}", bucket, f"k{i}", created, "AKEY", "", {"content-type": "a/b"})


def _part(n: int, etag: str = "e") -> Part:
    return Part(n, f"{etag}{n}", 100 * n, 20.0 + n, {"x-amz-checksum-crc32": f"c{n}"})


class UploadStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> UploadStore:
        return database.s3_uploads

    def test_an_upload_and_its_parts_come_back(self, store: UploadStore) -> None:
        up = _upload(1)
        store.create(up)
        assert store.get(up.id) == UploadRecord(up, None, None)
        assert store.get("f" * 32) is None
        assert store.add_part(up.id, _part(2), "uploads/1/2-a") == ""
        assert store.add_part(up.id, _part(1), "uploads/1/1-a") == ""
        assert store.parts(up.id) == [
            StoredPart(_part(1), "uploads/1/1-a"),
            StoredPart(_part(2), "uploads/1/2-a"),
        ]
        assert store.parts("f" * 32) == []

    def test_a_part_sent_again_replaces_the_first(self, store: UploadStore) -> None:
        up = _upload(1)
        store.create(up)
        store.add_part(up.id, _part(1), "uploads/1/1-a")
        assert store.add_part(up.id, _part(1, "x"), "uploads/1/1-b") == "uploads/1/1-a"
        assert store.parts(up.id) == [StoredPart(_part(1, "x"), "uploads/1/1-b")]

    def test_finish_keeps_the_answer_and_drops_the_parts(self, store: UploadStore) -> None:
        up = _upload(1)
        store.create(up)
        store.add_part(up.id, _part(1), "uploads/1/1-a")
        store.add_part(up.id, _part(2), "uploads/1/2-a")
        keys = store.finish(up.id, {"etag": "abc-2"}, now=50.0)
        assert sorted(keys or []) == ["uploads/1/1-a", "uploads/1/2-a"]
        assert store.get(up.id) == UploadRecord(up, 50.0, {"etag": "abc-2"})
        assert store.parts(up.id) == []
        assert store.finish(up.id, {"etag": "again"}, now=60.0) is None  # once only
        assert store.add_part(up.id, _part(3), "uploads/1/3-a") is None  # completed: refused
        assert store.parts(up.id) == []

    def test_remove_forgets_everything(self, store: UploadStore) -> None:
        up, other = _upload(1), _upload(2)
        store.create(up)
        store.create(other)
        store.add_part(up.id, _part(1), "uploads/1/1-a")
        store.add_part(other.id, _part(1), "uploads/2/1-a")
        assert store.remove(up.id) == ["uploads/1/1-a"]
        assert store.get(up.id) is None
        assert store.add_part(up.id, _part(2), "uploads/1/2-a") is None
        assert store.parts(up.id) == []
        assert store.remove(up.id) == []  # twice: harmless
        assert store.parts(other.id) == [StoredPart(_part(1), "uploads/2/1-a")]

    def test_uploads_by_bucket(self, store: UploadStore) -> None:
        a, b, c = _upload(1, created=30.0), _upload(2, "dev.r"), _upload(3, created=20.0)
        for up in (a, b, c):
            store.create(up)
        store.finish(c.id, {"etag": "x"}, now=40.0)
        got = store.uploads("master.r")
        assert sorted((r.upload.id, r.completed) for r in got) == [(a.id, None), (c.id, 40.0)]
        assert {r.upload.id for r in store.uploads()} == {a.id, b.id, c.id}
        assert store.uploads("none.r") == []

    def test_parts_racing_a_completion_are_kept_or_refused(self, store: UploadStore) -> None:
        up = _upload(1)
        store.create(up)
        results: dict[int, str | None] = {}
        finished: list[list[str] | None] = []

        def work(i: int) -> None:
            if i == 8:
                finished.append(store.finish(up.id, {"etag": "e"}, now=99.0))
            else:
                results[i + 1] = store.add_part(up.id, _part(i + 1), f"uploads/1/{i + 1}")

        assert run_threads(9, work) == []
        (dropped,) = finished
        added = {f"uploads/1/{n}" for n, r in results.items() if r is not None}
        assert set(dropped or []) == added  # every part recorded is handed back: none leaks
        assert store.parts(up.id) == []
