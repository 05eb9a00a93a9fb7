"""ChunkStore: verified, deduplicated pack storage and chunk reads."""

from __future__ import annotations

import pytest

from kaon.core.chunking import hash_chunk
from kaon.core.errors import ChunkNotFound, CorruptObject, InvalidInput
from kaon.core.ids import Digest
from kaon.core.pack import HEADER, MAGIC, RAW, decode_chunk
from kaon.core.tree import ChunkRef
from kaon.services.objectkeys import PACKS, pack_key
from kaon.wiring import Backends, Platform

TEXT = b"some text that compresses well. " * 100


@pytest.fixture(params=["file", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stored_packs(backends: Backends) -> list[str]:
    return sorted(info.key for info in backends.objects.list(PACKS))


def test_store_and_read(platform: Platform, backends: Backends, make_pack) -> None:  # type: ignore[no-untyped-def]
    chunks = [TEXT, b"raw bytes", bytes(range(256))]
    body, refs = make_pack(chunks)
    receipt = platform.chunks.store_pack(body)
    assert (receipt.chunks, receipt.bytes) == (3, len(body))
    assert stored_packs(backends) == [pack_key(receipt.pack)]
    assert backends.objects.get(pack_key(receipt.pack)) == body
    assert [p.id for p in backends.meta.list_packs()] == [receipt.pack]
    assert list(platform.chunks.read(refs)) == chunks
    assert list(platform.chunks.read([refs[2], refs[0], refs[2]])) == [chunks[2], TEXT, chunks[2]]
    assert platform.chunks.missing([r.digest for r in refs]) == []


def test_missing_keeps_order_and_drops_duplicates(platform: Platform, make_pack) -> None:  # type: ignore[no-untyped-def]
    body, (have,) = make_pack([b"have"])
    platform.chunks.store_pack(body)
    x, y = hash_chunk(b"x"), hash_chunk(b"y")
    assert platform.chunks.missing([y, have.digest, x, y]) == [y, x]
    assert platform.chunks.missing([]) == []


def test_missing_validates_digests(platform: Platform) -> None:
    with pytest.raises(InvalidInput, match="invalid digest"):
        platform.chunks.missing(["not-a-digest"])


def test_known_chunks_keep_their_first_location(
    platform: Platform, backends: Backends, make_pack
) -> None:  # type: ignore[no-untyped-def]
    first, refs = make_pack([b"shared", b"one"])
    second, _ = make_pack([b"two", b"shared"])
    r1 = platform.chunks.store_pack(first)
    platform.chunks.store_pack(second)
    (loc,) = backends.meta.locate([refs[0].digest]).values()
    assert loc.pack == r1.pack
    assert list(platform.chunks.read(refs)) == [b"shared", b"one"]


@pytest.mark.parametrize(
    "body",
    [b"", b"KPK", b"JUNKJUNK", MAGIC, MAGIC + b"\x00" * 10],
    ids=["empty", "short-magic", "bad-magic", "no-frames", "truncated-header"],
)
def test_invalid_packs_store_nothing(platform: Platform, backends: Backends, body: bytes) -> None:
    with pytest.raises(InvalidInput):
        platform.chunks.store_pack(body)
    assert stored_packs(backends) == []
    assert backends.meta.list_packs() == []


def test_corrupt_chunks_store_nothing(platform: Platform, backends: Backends, make_pack) -> None:  # type: ignore[no-untyped-def]
    good, refs = make_pack([b"fine chunk", TEXT])
    for flip in (len(MAGIC) + HEADER.size + 2, len(good) - 5):  # raw chunk, zstd chunk
        body = bytearray(good)
        body[flip] ^= 0x55
        with pytest.raises(CorruptObject):
            platform.chunks.store_pack(bytes(body))
    assert stored_packs(backends) == []
    assert backends.meta.list_packs() == []
    assert platform.chunks.missing([r.digest for r in refs]) == [r.digest for r in refs]


def test_a_frame_with_a_lying_digest_is_refused(platform: Platform, backends: Backends) -> None:
    lie = MAGIC + HEADER.pack(bytes.fromhex(hash_chunk(b"other")), RAW, 4, 4) + b"data"
    with pytest.raises(CorruptObject):
        platform.chunks.store_pack(lie)
    assert backends.meta.list_packs() == []


def test_read_of_an_unknown_chunk(platform: Platform) -> None:
    ref = ChunkRef(Digest(hash_chunk(b"nowhere")), 7)
    with pytest.raises(ChunkNotFound, match="missing from the store"):
        list(platform.chunks.read([ref]))


def test_read_many_chunks_in_batches(platform: Platform, make_pack) -> None:  # type: ignore[no-untyped-def]
    chunks = [f"chunk {i}".encode() for i in range(1200)]  # more than one locate batch
    body, refs = make_pack(chunks)
    platform.chunks.store_pack(body)
    assert b"".join(platform.chunks.read(refs)) == b"".join(chunks)


def test_read_across_packs_in_any_order(platform: Platform, make_pack) -> None:  # type: ignore[no-untyped-def]
    """A folder's archive reads every file's chunks as one stream: neighbours of a pack are
    read together; chunks of two packs interleaved, repeated, compressed or big come back
    in order all the same."""
    first = [f"small {i}".encode() * 20 for i in range(700)] + [TEXT, bytes(300 * 1024)]
    second = [f"other {i}".encode() for i in range(50)]
    body1, refs1 = make_pack(first)
    body2, refs2 = make_pack(second)
    platform.chunks.store_pack(body1)
    platform.chunks.store_pack(body2)
    order = refs1[:300] + refs2 + refs1[300:] + refs1[:5] + refs2[::-1]
    data = dict(zip(refs1 + refs2, first + second, strict=True))
    assert list(platform.chunks.read(iter(order))) == [data[r] for r in order]


def test_where_names_local_pack_files(platform: Platform, make_pack, store_kind: str) -> None:  # type: ignore[no-untyped-def]
    chunks = [TEXT, b"raw bytes"]
    body, refs = make_pack(chunks)
    platform.chunks.store_pack(body)
    where = platform.chunks.where(refs)
    if store_kind == "memory":
        assert where is None
        return
    assert where is not None
    for loc, raw in zip(where, chunks, strict=True):
        with open(loc.path, "rb") as f:
            f.seek(loc.offset)
            stored = f.read(loc.stored_len)
        assert decode_chunk(loc.codec, loc.raw_len, stored) == raw
    assert where[0].codec != RAW and where[1].codec == RAW
