"""PackIntake: packs received over HTTP or left in the drop folder, and local files the server
chunks itself; over a real drop folder, SQLite and the object store."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from kaon.core.errors import InvalidInput, NotFound, PermissionDenied
from kaon.wiring import Backends, Platform


def _token(backends: Backends) -> str:
    return backends.drop.info.token


def _files(folder: str) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.name != ".token")


def test_a_pack_received_in_pieces_is_stored_and_its_file_removed(
    platform: Platform, make_pack: Any
) -> None:
    body, refs = make_pack([b"one" * 100, b"two" * 200])
    with platform.packs.incoming() as pack:
        assert Path(pack.path).parent == Path(platform.packs.drop_dir())
        for i in range(0, len(body), 7):
            pack.write(body[i : i + 7])
        assert pack.size == len(body)
        receipt = pack.store()
    assert (receipt.chunks, receipt.bytes) == (2, len(body))
    assert list(platform.chunks.read(refs)) == [b"one" * 100, b"two" * 200]
    assert _files(platform.packs.drop_dir()) == []


def test_a_pack_given_up_leaves_nothing(platform: Platform, make_pack: Any) -> None:
    body, refs = make_pack([b"never stored"])
    with platform.packs.incoming() as pack:
        pack.write(body[:10])
    assert _files(platform.packs.drop_dir()) == []
    assert platform.chunks.missing([r.digest for r in refs]) == [refs[0].digest]
    with platform.packs.incoming() as empty, pytest.raises(InvalidInput, match="empty"):
        empty.store()


def test_a_dropped_pack_needs_the_token_then_is_taken(
    platform: Platform, backends: Backends, make_pack: Any
) -> None:
    body, refs = make_pack([b"left by a local client"])
    name = f"{uuid.uuid4().hex}.pack"
    (Path(platform.packs.drop_dir()) / name).write_bytes(body)
    with pytest.raises(PermissionDenied, match="wrong drop token"):
        platform.packs.store_dropped("not-the-token", name)
    assert _files(platform.packs.drop_dir()) == [name]  # untouched
    receipt = platform.packs.store_dropped(_token(backends), name)
    assert receipt.chunks == 1
    assert list(platform.chunks.read(refs)) == [b"left by a local client"]
    assert _files(platform.packs.drop_dir()) == []
    with pytest.raises(NotFound, match="no pack"):
        platform.packs.store_dropped(_token(backends), name)


def test_a_local_file_is_chunked_by_the_server_if_unchanged(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(300_000))
    st = local.stat()
    seen = (st.st_size, st.st_mtime_ns, st.st_ino)
    with pytest.raises(PermissionDenied):
        platform.packs.ingest_local("wrong", str(local), seen, 0)
    platform.packs.check_local(_token(backends))  # the right token passes
    with pytest.raises(InvalidInput, match="outside the file"):
        platform.packs.ingest_local(_token(backends), str(local), seen, st.st_size + 1)
    done = platform.packs.ingest_local(_token(backends), str(local), seen, 0)
    assert done.consumed == st.st_size
    assert b"".join(platform.chunks.read(done.chunks)) == local.read_bytes()
    changed = (st.st_size + 1, st.st_mtime_ns, st.st_ino)
    with pytest.raises(InvalidInput, match="changed during the upload"):
        platform.packs.ingest_local(_token(backends), str(local), changed, 0)


def test_recover_removes_what_a_stop_interrupted(platform: Platform) -> None:
    with platform.packs.incoming() as pack:
        pack.write(b"half a pack")
        assert platform.packs.recover() == len(b"half a pack")  # as at a restart
        assert not Path(pack.path).exists()
    assert _files(platform.packs.drop_dir()) == []
