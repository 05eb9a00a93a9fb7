"""ChunkStore reading from the S3 store on a real S3 server (moto, tests/s3fixtures.py): a
get that needs most of a pack reads it in one streaming GET, a sparse read uses ranges.

The GETs are counted by the boto3 client's own event hooks (what botocore is asked to send)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from kaon.core.errors import NotFound
from kaon.core.ids import Digest
from kaon.core.tree import ChunkRef
from kaon.memory.metadata import MemoryMetadataStore
from kaon.memory.tables import Tables
from kaon.services.chunks import ChunkStore
from kaon.services.leases import UploadLeases
from kaon.services.locks import SharedExclusiveLock
from kaon.services.objectkeys import pack_key
from kaon.store.s3 import S3ObjectStore
from kaon.store.s3client import parse_url

MIB = 1 << 20


class Counted:
    """The Range of every GetObject the store's client sends (None: the whole object)."""

    def __init__(self, store: S3ObjectStore) -> None:
        self.ranges: list[str | None] = []
        store._client.meta.events.register("provide-client-params.s3.GetObject", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.ranges.append(params.get("Range"))


@pytest.fixture
def chunks(s3_store_url: str, make_pack: Any) -> Any:
    """(a ChunkStore on a fresh bucket, its GETs counted, store(n): n random MiB as one pack)."""
    objects = S3ObjectStore(parse_url(s3_store_url))
    meta = MemoryMetadataStore(Tables())
    store = ChunkStore(
        objects, meta, SharedExclusiveLock(), time.time, UploadLeases(meta, time.time)
    )

    def stored(count: int) -> tuple[list[bytes], list[ChunkRef]]:
        data = [os.urandom(MIB) for _ in range(count)]  # random: stored raw, as a big file's
        body, refs = make_pack(data)
        store.store_pack(body)
        return data, refs

    return store, Counted(objects), stored


def test_a_whole_pack_is_read_with_one_get(chunks: Any) -> None:
    store, counted, stored = chunks
    data, refs = stored(24)  # 24 MiB: three 8 MiB ranges before
    assert b"".join(store.read(refs)) == b"".join(data)
    assert len(counted.ranges) == 1


def test_most_of_a_pack_from_the_middle_is_one_get(chunks: Any) -> None:
    store, counted, stored = chunks
    data, refs = stored(24)
    assert list(store.read(refs[3:21])) == data[3:21]
    assert len(counted.ranges) == 1


def test_a_sparse_read_uses_ranges(chunks: Any) -> None:
    store, counted, stored = chunks
    data, refs = stored(24)
    picks = list(range(0, 24, 6))
    assert list(store.read([refs[i] for i in picks])) == [data[i] for i in picks]
    assert len(counted.ranges) == len(picks)
    assert all(r is not None for r in counted.ranges)


def test_two_packs_interleaved_come_back_in_order(chunks: Any) -> None:
    store, _, stored = chunks
    first, refs1 = stored(12)
    second, refs2 = stored(12)
    order = refs1[:10] + refs2 + refs1[10:] + refs2[:2] + refs1[:1]
    content = dict(zip(refs1 + refs2, first + second, strict=True))
    assert list(store.read(order)) == [content[r] for r in order]


def test_a_reader_that_stops_early_leaves_no_stream_open(chunks: Any) -> None:
    store, _, stored = chunks
    data, refs = stored(24)
    reader = store.read(refs + refs)
    assert next(reader) == data[0]
    reader.close()
    deadline = time.monotonic() + 60
    while any(t.name.startswith("kaon-stream") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a streaming read outlived its reader"
        time.sleep(0.05)


@pytest.mark.parametrize("missing", ["first", "later"])
def test_a_pack_gone_from_the_store_is_not_found(chunks: Any, missing: str) -> None:
    store, _, stored = chunks
    _, refs1 = stored(12)
    _, refs2 = stored(12)
    gone = store._index.locate([Digest((refs1 if missing == "first" else refs2)[0].digest)])
    store._objects.delete(pack_key(next(iter(gone.values())).pack))
    with pytest.raises(NotFound):
        list(store.read(refs1 + refs2))
