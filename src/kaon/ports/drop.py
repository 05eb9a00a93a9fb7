"""DropFolder: a folder on the server's machine where its clients leave packs for it to take over,
and the proof (a token read there) that a client runs on this machine as the platform's user.

The local implementation is kaon.store.drop.PackDrop; kaon.services.packs drives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class DropInfo:
    dir: str
    token: str


@dataclass(frozen=True)
class ClaimedPack:
    path: str
    size: int


class DropFolder(Protocol):
    @property
    def info(self) -> DropInfo:
        """The folder, and the token written in it."""
        ...

    def check(self, token: str) -> None:
        """PermissionDenied unless `token` is the one in the folder."""
        ...

    def claim(self, name: str) -> ClaimedPack:
        """Take the pack a client left as `name` out of its reach; InvalidInput for a bad
        name, a link, a special file or one too large, NotFound when there is none."""
        ...

    def receive(self) -> tuple[str, int]:
        """A new file of the server's own (path, fd open for writing) for a pack arriving
        over HTTP; removed with `discard` (or by `clean_temp` after a crash)."""
        ...

    def read_into(self, pack: ClaimedPack, buffer: bytearray) -> memoryview:
        """The claimed pack's bytes, read into `buffer` (at least pack.size long)."""
        ...

    def discard(self, path: str) -> None:
        """Remove a claimed or received pack (nothing when it is gone already)."""
        ...

    def open_client_file(self, path: str, size: int, mtime_ns: int, inode: int) -> BinaryIO:
        """The client's file at `path`, opened for reading, if it is still the one it saw."""
        ...

    def check_unchanged(self, f: BinaryIO, path: str, size: int, mtime_ns: int, inode: int) -> None:
        """InvalidInput when the open file `f` is no longer the one the client saw."""
        ...

    def clean_temp(self, older_than_seconds: float) -> int:
        """Remove packs (claimed or not) older than `older_than_seconds`; bytes freed."""
        ...
