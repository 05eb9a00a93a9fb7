"""PackDrop: a folder where clients on the server's own machine leave packs for it to take over.

Sending a pack over HTTP costs the server a receive copy per byte and an event-loop turn per
64 KiB: on 2 cores that, not the disk, bounded a local put at ~400 MB/s. A client that can
write into this folder (the platform's user: it is mode 0700) writes the pack there instead,
copying chunk bytes file to file in the kernel (copy_file_range), and names it in one small
request. The server renames it out of the client's reach, verifies every frame as for an
uploaded pack, and moves it into the object store (a rename on the same filesystem).

A client proves it sees this very folder by reading the random token the server wrote in it
(readable by the platform's user only) and sending it with its requests; a client on another
machine does not find it and uploads over HTTP. The same proof lets the server read a big file
by its path itself (`open_client_file`, kaon.services.ingest): the client runs as the server's
user, and holds the file open itself meanwhile (kaon.client.localfiles.held_open), so the server
reads no file its client could not. Packs left by a killed client are removed by `clean_temp` (run by `kaon gc`
and at start-up).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from kaon.core.errors import InvalidInput, NotFound, PermissionDenied
from kaon.ports.drop import ClaimedPack, DropInfo
from kaon.store.local import translate_os_error

TOKEN_FILE = ".token"
_NAME = re.compile(r"^[0-9a-f]{32}\.pack$")  # what a client may name its pack
_CLAIMED = ".claimed-"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class PackDrop:
    """The local DropFolder (kaon.ports.drop)."""

    def __init__(self, root: Path | str, max_size: int) -> None:
        self.root = Path(root).absolute()
        self._max_size = max_size
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            self._token = secrets.token_hex(16)
            tmp = self.root / f"{TOKEN_FILE}.{uuid.uuid4().hex}"
            tmp.touch(mode=0o600)
            tmp.write_text(self._token)
            tmp.replace(self.root / TOKEN_FILE)
        except OSError as exc:
            raise translate_os_error(exc, action="create", key="drop", path=self.root) from exc

    @property
    def info(self) -> DropInfo:
        return DropInfo(str(self.root), self._token)

    def check(self, token: str) -> None:
        """PermissionDenied unless `token` is the one in the folder (a client on this machine,
        running as the platform's user)."""
        if not secrets.compare_digest(token.encode(), self._token.encode()):
            raise PermissionDenied(
                "wrong drop token: this client does not see the server's drop folder "
                "(another machine?); send the data over HTTP"
            )

    def open_client_file(self, path: str, size: int, mtime_ns: int, inode: int) -> BinaryIO:
        """The client's file at `path`, opened for reading, if it is still the one it saw
        (size, mtime, inode); InvalidInput when it changed, NotFound when the server does not
        see it (vanished, or the server sees another filesystem there: the client then reads
        it itself, and says which)."""
        try:  # non-blocking: a FIFO put there since the client looked must not hang us
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"the server does not see {path}: no such file") from None
        except OSError as exc:
            raise PermissionDenied(f"the server cannot read {path}: {exc.strerror}") from None
        f = os.fdopen(fd, "rb", buffering=0)
        try:
            self.check_unchanged(f, path, size, mtime_ns, inode)
            os.set_blocking(fd, True)
        except BaseException:
            f.close()
            raise
        return f

    @staticmethod
    def check_unchanged(f: BinaryIO, path: str, size: int, mtime_ns: int, inode: int) -> None:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"{path} is not a regular file")
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (size, mtime_ns, inode):
            raise InvalidInput(
                f"{path} changed during the upload; nothing was committed: try again"
            )

    def claim(self, name: str) -> ClaimedPack:
        """Take the pack a client left as `name` out of its reach (renamed to a name only the
        server knows); InvalidInput for a bad name, a link or a special file."""
        if not _NAME.match(name):
            raise InvalidInput(f"bad pack name {name!r}: expected 32 hex digits then '.pack'")
        claimed = str(self.root / f"{_CLAIMED}{uuid.uuid4().hex}")
        try:
            (self.root / name).rename(claimed)
        except FileNotFoundError:
            raise NotFound(f"no pack {name!r} in the drop folder {self.root}") from None
        except OSError as exc:
            raise translate_os_error(exc, action="claim", key=name, path=self.root) from exc
        try:
            st = os.lstat(claimed)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                raise InvalidInput(f"pack {name!r} is not a plain file (a link?): refused")
            if st.st_size > self._max_size:
                raise InvalidInput(f"pack too large: {st.st_size} bytes (limit {self._max_size})")
        except BaseException:
            self.discard(claimed)
            raise
        return ClaimedPack(claimed, st.st_size)

    def receive(self) -> tuple[str, int]:
        """A new file of the server's own here (path, fd open for writing) for a pack that
        arrives over HTTP: streamed to disk, never held in memory for its declared size.
        Removed with `discard` (or by `clean_temp` after a crash)."""
        path = str(self.root / f"{_CLAIMED}{uuid.uuid4().hex}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
        except OSError as exc:
            raise translate_os_error(exc, action="receive", key="pack", path=self.root) from exc
        return path, fd

    def read_into(self, pack: ClaimedPack, buffer: bytearray) -> memoryview:
        """The claimed pack's bytes, read into `buffer` (at least pack.size long)."""
        view = memoryview(buffer)[: pack.size]
        try:
            fd = os.open(pack.path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
            try:
                got = 0
                while got < pack.size:
                    n = os.readv(fd, [view[got:]])
                    if n == 0:
                        break
                    got += n
            finally:
                os.close(fd)
        except OSError as exc:
            raise translate_os_error(exc, action="read", key="drop", path=pack.path) from exc
        if got != pack.size:
            raise InvalidInput("the pack changed while it was read: send it again")
        return view

    def discard(self, path: str) -> None:
        with contextlib.suppress(OSError):
            Path(path).unlink()

    def clean_temp(self, older_than_seconds: float) -> int:
        """Remove packs (claimed or not) older than `older_than_seconds`; bytes freed."""
        freed = 0
        limit = time.time() - older_than_seconds
        with contextlib.suppress(OSError), os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name == TOKEN_FILE:
                    continue
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and st.st_mtime < limit:
                        Path(entry.path).unlink()
                        freed += st.st_size
        return freed
