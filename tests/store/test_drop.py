"""PackDrop: the folder where clients on the server's machine leave packs. What any DropFolder does
is the contract suite kaon.testing.contracts.drop (tests/contract/test_execution_contracts.py);
here: PackDrop's own folder, token file, size limit, clean-up and client files."""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.store.drop import TOKEN_FILE, PackDrop


@pytest.fixture
def drop(tmp_path: Path) -> PackDrop:
    return PackDrop(tmp_path / "incoming", max_size=1000)


def _leave(drop: PackDrop, content: bytes) -> str:
    name = f"{uuid.uuid4().hex}.pack"
    (drop.root / name).write_bytes(content)
    return name


def test_the_folder_is_private_and_holds_the_token(drop: PackDrop) -> None:
    assert stat.S_IMODE(drop.root.stat().st_mode) == 0o700
    assert (drop.root / TOKEN_FILE).read_text() == drop.info.token
    assert drop.info.dir == str(drop.root) and len(drop.info.token) == 32
    again = PackDrop(drop.root, max_size=1000)  # a restart: a new token
    assert again.info.token != drop.info.token


def test_links_and_oversized_packs_are_refused_and_removed(drop: PackDrop, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"not yours")
    link = f"{uuid.uuid4().hex}.pack"
    (drop.root / link).symlink_to(secret)
    with pytest.raises(InvalidInput, match="not a plain file"):
        drop.claim(link)
    hard = f"{uuid.uuid4().hex}.pack"
    os.link(secret, drop.root / hard)
    with pytest.raises(InvalidInput, match="not a plain file"):
        drop.claim(hard)
    assert secret.read_bytes() == b"not yours"  # only the extra name went
    big = _leave(drop, b"x" * 1001)
    with pytest.raises(InvalidInput, match="too large"):
        drop.claim(big)
    assert sorted(p.name for p in drop.root.iterdir()) == [TOKEN_FILE]


def test_clean_temp_removes_old_packs_only(drop: PackDrop) -> None:
    old = _leave(drop, b"o" * 100)
    new = _leave(drop, b"n" * 10)
    past = time.time() - 7200
    os.utime(drop.root / old, (past, past))
    assert drop.clean_temp(3600.0) == 100
    assert sorted(p.name for p in drop.root.iterdir()) == sorted([TOKEN_FILE, new])
    assert drop.clean_temp(0.0) == 10
    assert (drop.root / TOKEN_FILE).exists()


def test_a_client_file_is_opened_only_if_it_is_the_one_the_client_saw(
    drop: PackDrop, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 100)
    st = path.stat()
    with drop.open_client_file(str(path), 100, st.st_mtime_ns, st.st_ino) as f:
        assert f.read() == b"x" * 100
    with pytest.raises(InvalidInput, match="changed during the upload"):
        drop.open_client_file(str(path), 99, st.st_mtime_ns, st.st_ino)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # swapped in after the client looked: refused, not waited on
    with pytest.raises(InvalidInput, match="not a regular file"):
        drop.open_client_file(str(fifo), 100, st.st_mtime_ns, st.st_ino)
    with pytest.raises(NotFound, match="does not see"):
        drop.open_client_file(str(tmp_path / "gone"), 100, st.st_mtime_ns, st.st_ino)
    assert stat.S_IMODE((drop.root / TOKEN_FILE).stat().st_mode) == 0o600
