"""Content-defined chunking and chunk compression."""

from __future__ import annotations

import io
import random

import blake3
import pytest

from kaon.core import chunking
from kaon.core.pack import RAW, ZSTD, decode_chunk

SIZE = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def buffer() -> bytes:
    return random.Random(20240601).randbytes(SIZE)


def digests(data: bytes) -> list[str]:
    # a chunk's view is only valid until the next one is cut: hash each one right away
    return [chunking.hash_chunk(view) for view in chunking.cut(io.BytesIO(data))]


def sizes(data: bytes) -> list[int]:
    return [len(view) for view in chunking.cut(io.BytesIO(data))]


def test_chunks_cover_the_stream_within_bounds(buffer: bytes) -> None:
    lengths = sizes(buffer)
    assert sum(lengths) == SIZE
    assert all(n <= chunking.MAX_SIZE for n in lengths)
    assert all(n >= chunking.MIN_SIZE for n in lengths[:-1])
    assert 5 <= len(lengths) <= 60  # about SIZE / AVG_SIZE


def test_cutting_is_deterministic(buffer: bytes) -> None:
    assert digests(buffer) == digests(buffer)


def test_boundaries_survive_an_insertion_at_the_start(buffer: bytes) -> None:
    before = digests(buffer)
    after = digests(b"inserted bytes!" * 7 + buffer)
    kept = set(before) & set(after)
    assert len(kept) >= len(before) - 2
    assert before[-1] == after[-1]


def test_boundaries_survive_an_edit_in_the_middle(buffer: bytes) -> None:
    edited = bytearray(buffer)
    edited[SIZE // 2 : SIZE // 2 + 16] = b"0123456789abcdef"
    before, after = digests(buffer), digests(bytes(edited))
    assert len(set(after) - set(before)) <= 2


def test_small_stream_is_one_chunk() -> None:
    assert digests(b"tiny") == [chunking.hash_chunk(b"tiny")]
    assert digests(b"") == []


def test_hash_chunk_is_blake3() -> None:
    assert chunking.hash_chunk(b"abc") == blake3.blake3(b"abc").hexdigest()
    assert chunking.hash_chunk(memoryview(b"abc")) == chunking.hash_chunk(b"abc")
    assert len(chunking.hash_chunk(b"")) == 64


def test_compress_keeps_random_data_raw(buffer: bytes) -> None:
    data = buffer[: 256 * 1024]
    codec, stored = chunking.compress(data)
    assert codec == RAW
    assert bytes(stored) == data


def test_compress_uses_zstd_for_text() -> None:
    text = b"".join(b"line %d: some fairly repetitive text\n" % i for i in range(5000))
    codec, stored = chunking.compress(text)
    assert codec == ZSTD
    assert len(stored) < len(text) // 3
    assert decode_chunk(codec, len(text), stored) == text


def test_compress_empty_is_raw() -> None:
    assert chunking.compress(b"") == (RAW, b"")


def _random_chunks(n: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(5000) for _ in range(n)]


def test_compress_many_keeps_random_chunks_raw() -> None:
    datas = _random_chunks(100)
    assert chunking.compress_many(datas) == [(RAW, d) for d in datas]


def test_compress_many_compresses_what_compresses_among_others() -> None:
    datas = _random_chunks(100)
    text = b"%06d,a,csv,row\n" * 300
    datas[3] = text % tuple(range(300))  # not a sampled index: found by the full pass
    datas[8] = text % tuple(range(300, 600))  # a sampled one
    out = chunking.compress_many(datas)
    assert [i for i, (codec, _) in enumerate(out) if codec == ZSTD] == [3, 8]
    assert all(decode_chunk(c, len(d), s) == d for (c, s), d in zip(out, datas, strict=True))


def test_compress_many_skips_chunks_when_no_sampled_one_compresses() -> None:
    datas = _random_chunks(100)
    datas[5] = b"a" * 5000  # compresses, but no sampled chunk does: stored raw (the trade-off)
    assert chunking.compress_many(datas)[5] == (RAW, datas[5])
    assert chunking.compress_many(datas[:10])[5][0] == ZSTD  # too few to sample: all tried
