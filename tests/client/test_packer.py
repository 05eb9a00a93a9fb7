"""PackBuilder: packs built in place parse and verify, whatever the sources."""

from __future__ import annotations

import os
from pathlib import Path

from kaon.client.packer import PackBuilder
from kaon.core.chunking import hash_chunk
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
