"""FileIngest: the server cuts, hashes and packs a local file itself, in steps if asked."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kaon.core import chunking
from kaon.core.errors import StorageFull
from kaon.core.tree import ChunkRef
from kaon.services import ingest
from kaon.services.objectkeys import pack_key
from kaon.wiring import Backends, Platform


def _reference_chunks(path: Path) -> list[ChunkRef]:
    with path.open("rb") as f:
        return [ChunkRef(chunking.hash_chunk(p), len(p)) for p in chunking.cut(f)]


@pytest.fixture(params=["file", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def big(tmp_path: Path) -> Path:
    rng = random.Random(7)
    path = tmp_path / "big.bin"
    text = b"".join(b"%08d,some,csv,row\n" % i for i in range(200_000))  # compresses
    path.write_bytes(rng.randbytes(3_000_000) + text + rng.randbytes(2_000_000))
    return path


def test_ingest_stores_what_a_client_cut_would_send(platform: Platform, big: Path) -> None:
    expected = _reference_chunks(big)
    with big.open("rb", buffering=0) as f:
        done = platform.ingest.ingest(f)
    assert done.chunks == expected
    assert done.consumed == big.stat().st_size
    assert done.new_bytes == sum(c.size for c in {c.digest: c for c in expected}.values())
    content = b"".join(platform.chunks.read(done.chunks))
    assert content == big.read_bytes()
    with big.open("rb", buffering=0) as f:  # a second time: everything is there already
        again = platform.ingest.ingest(f)
    assert (again.chunks, again.new_chunks, again.new_bytes) == (expected, 0, 0)


def test_ingest_in_steps_cuts_the_same_chunks(platform: Platform, big: Path) -> None:
    size = big.stat().st_size
    chunks: list[ChunkRef] = []
    start = steps = 0
    with big.open("rb", buffering=0) as f:
        while start < size:
            f.seek(start)
            done = platform.ingest.ingest(f, limit=1_000_000)
            assert done.consumed >= min(1_000_000, size - start)
            chunks += done.chunks
            start += done.consumed
            steps += 1
    assert steps > 2
    assert chunks == _reference_chunks(big)


def test_a_failing_store_stops_the_ingest_and_leaves_no_pack(
    platform: Platform,
    backends: Backends,
    big: Path,
    monkeypatch: pytest.MonkeyPatch,
    store_kind: str,
) -> None:
    if store_kind != "file":
        pytest.skip("a full disk is a filesystem's failure")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    monkeypatch.setattr(os, "pwrite", full)
    with big.open("rb", buffering=0) as f, pytest.raises(StorageFull, match="kaon gc"):
        platform.ingest.ingest(f)
    monkeypatch.undo()
    assert backends.meta.list_packs() == []
    assert list(backends.objects.list("packs/")) == []  # no half-written pack either


def test_ingest_spreads_a_file_over_packs(
    platform: Platform, backends: Backends, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PACK_TARGET", 300_000)  # a pack per chunk
    with big.open("rb", buffering=0) as f:
        done = platform.ingest.ingest(f)
    packs = backends.meta.list_packs()
    assert len(packs) >= 4
    assert sorted(o.key for o in backends.objects.list("packs/")) == sorted(
        pack_key(p.id) for p in packs
    )
    assert b"".join(platform.chunks.read(done.chunks)) == big.read_bytes()


def test_a_pack_failing_after_others_stops_the_ingest(
    platform: Platform,
    backends: Backends,
    big: Path,
    monkeypatch: pytest.MonkeyPatch,
    store_kind: str,
) -> None:
    if store_kind != "file":
        pytest.skip("a full disk is a filesystem's failure")
    monkeypatch.setattr(ingest, "PACK_TARGET", 300_000)
    real_write = os.write
    writes = 0

    def fills_up(fd: int, data: bytes) -> int:
        nonlocal writes
        writes += 1
        if writes > 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", fills_up)
    with big.open("rb", buffering=0) as f, pytest.raises(StorageFull, match="kaon gc"):
        platform.ingest.ingest(f)
    monkeypatch.undo()
    packs = backends.meta.list_packs()
    assert 0 < len(packs) <= 2  # the packs written before the disk filled up, indexed
    assert sorted(o.key for o in backends.objects.list("packs/")) == sorted(
        pack_key(p.id) for p in packs
    )
