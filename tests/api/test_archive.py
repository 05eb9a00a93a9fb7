"""The folder archive's tar headers: the fast ustar header is byte for byte tarfile's."""

from __future__ import annotations

import tarfile

import pytest

from kaon.api.archive import header


@pytest.mark.parametrize("mode", [0o644, 0o755])
@pytest.mark.parametrize(
    ("name", "size", "mtime"),
    [
        ("a/b.txt", 5, 1_700_000_000),
        ("x" * 100, 0, 0),  # the longest name of the fast path
        ("y" * 101, 1, 1),  # PAX from here
        ("é/ü.txt", 3, 5),  # non-ASCII: PAX
        ("big.bin", 8**11, 1),  # too big for 11 octal digits: PAX
        ("d0000/f000001.bin", 5120, 1_765_000_000),
    ],
)
def test_header_is_tarfiles(name: str, size: int, mtime: int, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, mode
    assert header(name, size, mtime, mode) == info.tobuf(format=tarfile.PAX_FORMAT)
