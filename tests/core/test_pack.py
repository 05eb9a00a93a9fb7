"""The pack format: frames round trip; truncated or corrupt packs are refused."""

from __future__ import annotations

import pytest
import zstandard

from kaon.core.chunking import compress, hash_chunk
from kaon.core.errors import CorruptObject, InvalidInput
from kaon.core.pack import (
    HEADER,
    MAGIC,
    MAX_CHUNK,
    RAW,
    ZSTD,
    decode_chunk,
    encode_frame,
    iter_frames,
    verify,
)

TEXT = b"the quick brown fox jumps over the lazy dog\n" * 200
RANDOMISH = bytes(range(256)) * 3


def build(chunks: list[bytes], force: int | None = None) -> bytes:
    body = bytearray(MAGIC)
    for data in chunks:
        codec, stored = compress(data) if force is None else (force, data)
        body += encode_frame(hash_chunk(data), codec, len(data), stored) + bytes(stored)
    return bytes(body)


def frame_bytes(pack: bytes) -> list[bytes]:
    out = []
    for f in iter_frames(pack):
        stored = pack[f.offset : f.offset + f.stored_len]
        verify(f, stored)
        out.append(decode_chunk(f.codec, f.raw_len, stored))
    return out


def test_round_trip() -> None:
    chunks = [TEXT, b"x", b"", RANDOMISH, TEXT]
    pack = build(chunks)
    frames = list(iter_frames(pack))
    assert [f.digest for f in frames] == [hash_chunk(c) for c in chunks]
    assert [f.raw_len for f in frames] == [len(c) for c in chunks]
    assert frames[0].codec == ZSTD and frames[0].stored_len < len(TEXT)
    assert frames[1].codec == RAW
    assert frames[0].offset == len(MAGIC) + HEADER.size
    assert frame_bytes(pack) == chunks


def test_round_trip_memoryview() -> None:
    pack = build([TEXT, b"abc"])
    assert [f.digest for f in iter_frames(memoryview(pack))] == [
        hash_chunk(TEXT),
        hash_chunk(b"abc"),
    ]


def test_encode_frame_is_the_header() -> None:
    d = hash_chunk(b"abc")
    assert encode_frame(d, RAW, 3, b"abc") == HEADER.pack(bytes.fromhex(d), RAW, 3, 3)
    assert HEADER.size == 32 + 1 + 4 + 4


def test_magic_only_has_no_frames() -> None:
    assert list(iter_frames(MAGIC)) == []


@pytest.mark.parametrize("data", [b"", b"KPK", b"NOPE" + b"\0" * 50, b"kpk1"])
def test_bad_magic(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="not a kaon pack"):
        list(iter_frames(data))


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 5])
def test_truncated_pack(cut: int) -> None:
    pack = build([TEXT])
    with pytest.raises(InvalidInput, match="truncated pack"):
        list(iter_frames(pack[: len(MAGIC) + cut]))


def test_truncated_second_frame() -> None:
    pack = build([b"first", TEXT])
    with pytest.raises(InvalidInput, match="truncated"):
        list(iter_frames(pack[:-1]))


def test_bad_codec() -> None:
    header = HEADER.pack(bytes.fromhex(hash_chunk(b"x")), 7, 1, 1)
    with pytest.raises(InvalidInput, match="bad frame header"):
        list(iter_frames(MAGIC + header + b"x"))


def test_oversized_lengths() -> None:
    header = HEADER.pack(bytes(32), RAW, MAX_CHUNK + 1, 1)
    with pytest.raises(InvalidInput, match="bad frame header"):
        list(iter_frames(MAGIC + header + b"x"))
    header = HEADER.pack(bytes(32), RAW, 1, MAX_CHUNK + 1)
    with pytest.raises(InvalidInput, match="bad frame header"):
        list(iter_frames(MAGIC + header + b"x"))


def test_flipped_byte_in_raw_chunk() -> None:
    pack = bytearray(build([RANDOMISH], force=RAW))
    pack[-10] ^= 0x01
    with pytest.raises(CorruptObject, match="does not match its digest"):
        frame_bytes(bytes(pack))


def test_wrong_digest() -> None:
    body = MAGIC + encode_frame(hash_chunk(b"other"), RAW, 3, b"abc") + b"abc"
    with pytest.raises(CorruptObject):
        frame_bytes(body)


def test_wrong_raw_len_of_a_raw_chunk() -> None:
    body = MAGIC + HEADER.pack(bytes.fromhex(hash_chunk(b"abc")), RAW, 4, 3) + b"abc"
    with pytest.raises(CorruptObject):
        frame_bytes(body)


def test_corrupt_compressed_chunk_is_a_corrupt_object() -> None:
    pack = bytearray(build([TEXT]))
    frame = next(iter_frames(bytes(pack)))
    assert frame.codec == ZSTD
    pack[frame.offset + frame.stored_len // 2] ^= 0xFF
    with pytest.raises(CorruptObject):
        frame_bytes(bytes(pack))


def test_garbage_labelled_zstd_is_a_corrupt_object() -> None:
    body = MAGIC + encode_frame(hash_chunk(b"abcde"), ZSTD, 5, b"abcde") + b"abcde"
    with pytest.raises(CorruptObject):
        frame_bytes(body)


def test_compressed_chunk_larger_than_declared_is_not_inflated() -> None:
    big = b"\0" * (8 * 1024 * 1024)
    stored = zstandard.ZstdCompressor().compress(big)
    with pytest.raises(CorruptObject, match="declares"):
        decode_chunk(ZSTD, 100, stored)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(big)
    with pytest.raises(CorruptObject):
        decode_chunk(ZSTD, 100, unsized)
