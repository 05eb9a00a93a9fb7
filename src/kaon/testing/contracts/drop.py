"""DropFolder contract: what every drop folder does (kaon.ports.drop). A backend's tests provide
a fixture `drop_folder`: a fresh, empty DropFolder on this machine (clients leave packs in its
`info.dir`)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, NotFound, PermissionDenied
from kaon.ports.drop import ClaimedPack, DropFolder


def leave(drop: DropFolder, content: bytes) -> str:
    """Leave a pack in the folder as a client does; its name."""
    name = f"{uuid.uuid4().hex}.pack"
    (Path(drop.info.dir) / name).write_bytes(content)
    return name


class DropFolderContract:
    """The token, claiming a pack once, bad names refused, packs received over HTTP."""

    def test_the_token_proves_a_client_sees_the_folder(self, drop_folder: DropFolder) -> None:
        drop_folder.check(drop_folder.info.token)
        with pytest.raises(PermissionDenied, match="wrong drop token"):
            drop_folder.check("0" * 32)

    def test_claim_moves_the_pack_out_of_reach(self, drop_folder: DropFolder) -> None:
        drop = drop_folder
        root = Path(drop.info.dir)
        name = leave(drop, b"pack bytes")
        claimed = drop.claim(name)
        assert not (root / name).exists()
        assert Path(claimed.path).parent == root and claimed.size == 10
        assert bytes(drop.read_into(claimed, bytearray(64))) == b"pack bytes"
        drop.discard(claimed.path)
        assert not Path(claimed.path).exists()
        with pytest.raises(NotFound, match="no pack"):
            drop.claim(name)  # claimed once only

    @pytest.mark.parametrize("name", ["../x.pack", "a/b.pack", ".token", "x" * 32 + ".pack", ""])
    def test_bad_names_are_refused(self, drop_folder: DropFolder, name: str) -> None:
        with pytest.raises(InvalidInput, match="bad pack name"):
            drop_folder.claim(name)

    def test_a_received_pack_is_read_back_and_discarded(self, drop_folder: DropFolder) -> None:
        path, fd = drop_folder.receive()
        try:
            os.write(fd, b"over http")
        finally:
            os.close(fd)
        pack = ClaimedPack(path, 9)
        assert bytes(drop_folder.read_into(pack, bytearray(16))) == b"over http"
        drop_folder.discard(path)
        assert not Path(path).exists()
        drop_folder.discard(path)  # nothing when it is gone already
