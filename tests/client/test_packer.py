"""PackBuilder: packs built in place parse and verify, whatever the sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaon.client.packer import PackBuilder, Source
from kaon.core.chunking import hash_chunk
from kaon.core.errors import InvalidInput
from kaon.core.pack import RAW, ZSTD, iter_frames, verify


def test_frames_from_bytes_and_file_ranges_verify(tmp_path: Path) -> None:
    text = b"a,b,c\n" * 50_000  # compresses
    noise = os.urandom(300_000)  # does not
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 10 + noise)
    builder = PackBuilder()
    view, raw = builder.build(
        [(hash_chunk(text), text), (hash_chunk(noise), (str(big), 10, len(noise)))]
    )
    frames = list(iter_frames(view))
    assert [f.digest for f in frames] == [hash_chunk(text), hash_chunk(noise)]
    assert [f.codec for f in frames] == [ZSTD, RAW]
    for f in frames:
        verify(f, view[f.offset : f.offset + f.stored_len])
    assert raw == len(text) + len(noise)
    again, _ = builder.build([(hash_chunk(b"small"), b"small")])  # the buffer is reused
    assert again.obj is view.obj


def test_a_pack_written_to_a_file_equals_the_built_one(tmp_path: Path) -> None:
    text = b"a,b,c\n" * 50_000  # compresses: read and compressed here
    noise = os.urandom(300_000)  # does not: copied file to file by the kernel
    tiny = os.urandom(1000)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 10 + noise + text)
    frames: list[tuple[str, Source]] = [
        (hash_chunk(tiny), tiny),
        (hash_chunk(noise), (str(big), 10, len(noise))),
        (hash_chunk(text), (str(big), 10 + len(noise), len(text))),
    ]
    builder = PackBuilder()
    built, raw = builder.build(frames)
    out = tmp_path / "pack"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        size, written_raw = builder.write(fd, frames)
    finally:
        os.close(fd)
    assert out.read_bytes() == bytes(built)
    assert (size, written_raw) == (len(built), raw)
    assert [f.codec for f in iter_frames(out.read_bytes())] == [RAW, RAW, ZSTD]


def test_writing_a_pack_of_a_file_that_shrank_fails_clearly(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    noise = os.urandom(300_000)
    big.write_bytes(noise)
    frames: list[tuple[str, Source]] = [(hash_chunk(noise), (str(big), 0, len(noise)))]
    big.write_bytes(noise[:200_000])  # truncated after it was hashed
    fd = os.open(tmp_path / "pack", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(InvalidInput, match="changed during the upload"):
            PackBuilder().write(fd, frames)
    finally:
        os.close(fd)
