"""Download: a file, or a folder streamed as a tar and extracted member by member with every
path checked to stay inside the target folder.

Crash safety: every file is written under a temp name beside its target (`.<name>.kaon-…`)
and renamed once complete, so an interrupted get (Ctrl-C, kill) never leaves a file under
its real name that looks complete but is not; a temp file a kill -9 left behind can be
deleted. Durability: one sync at the end, not one fsync per file (that cost a get of 20,000
files ~13 s of system time): a single file is fsynced before its rename and its folder
after it; a folder's files are renamed as they complete and the target's filesystem is
synced once (syncfs) when the last one is written. The get returns only after that sync,
so what it reports is on disk; a power loss during a folder's get may leave files of it
that must be got again (as after `cp -r` before `sync`).

Modes: files are created 0666 minus the umask (like cp); a member whose tar mode has an
executable bit is created 0777 minus the umask.
"""

# Paths are plain strings on this hot path (20,000 Path objects cost ~0.2 s):
# ruff: noqa: PTH103, PTH105, PTH108

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from kaon.client import untar
from kaon.client.client import Client
from kaon.core import paths
from kaon.core.errors import BackendUnavailable, InvalidInput, StorageFull

Progress = Callable[[int], None]
PIECE = 1024 * 1024
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC
_EXECUTABLE = 0o111


def _file_mode(tar_mode: int) -> int:
    """The mode a file is created with (the umask applies): 0777 if executable, else 0666."""
    return 0o777 if tar_mode & _EXECUTABLE else 0o666


def _storage_error(exc: OSError, dest: str) -> OSError | StorageFull:
    if exc.errno == errno.ENOSPC:
        return StorageFull(f"no space left on the device while writing {dest}")
    return exc


class _Writer:
    """Writes files under temp names and renames them into place; removes the temp file of
    the one being written when interrupted."""

    def __init__(self) -> None:
        self._token = secrets.token_hex(4)
        self._count = 0
        self._made: set[str] = set()
        self._buffer = bytearray(PIECE)

    def temp_name(self, dest: str) -> str:
        folder, _, name = dest.rpartition("/")
        self._count += 1
        stem = name if len(name) <= 200 else ""  # the temp name must fit NAME_MAX too
        return f"{folder}/.{stem}.kaon-{self._token}{self._count:x}"

    def make_parent(self, dest: str) -> None:
        folder = dest.rpartition("/")[0]
        if folder and folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)

    @contextlib.contextmanager
    def create(self, dest: str, mode: int, sync: bool) -> Iterator[int]:
        """A new file for `dest`: yields its fd; renamed to `dest` when the block ends."""
        self.make_parent(dest)
        tmp = self.temp_name(dest)
        try:
            fd = os.open(tmp, _CREATE, mode)
            try:
                yield fd
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _storage_error(exc, dest) from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def copy(self, read: Callable[[memoryview], int], fd: int, size: int, tick: Progress) -> None:
        """`size` bytes from `read` (a readinto) to `fd`, through one reused buffer."""
        view = memoryview(self._buffer)
        left = size
        while left > 0:
            n = read(view[: min(left, PIECE)])
            if n <= 0:
                raise _cut()
            _write_all(fd, view[:n])
            left -= n
            tick(n)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _sync_dir(folder: str) -> None:
    fd = os.open(folder or ".", _DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs(folder: str) -> None:
    """Flush the filesystem holding `folder` (Linux syncfs); elsewhere everything (sync)."""
    libc_name = ctypes.util.find_library("c")
    syncfs = getattr(ctypes.CDLL(libc_name, use_errno=True), "syncfs", None) if libc_name else None
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, _DIR_FLAGS)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs of {folder} failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def get_file(
    client: Client, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
) -> int:
    """Write one file to `dest` (temp name, fsync, rename, fsync of its folder); its size."""
    tick = progress or (lambda n: None)
    target = str(dest.absolute())
    writer = _Writer()
    params = {"ref": ref, "path": path}
    with client.transport.open("GET", f"/v1/repos/{repo}/content", params=params) as response:
        size = int(response.headers.get("content-length", "-1"))
        with writer.create(target, 0o666, sync=True) as fd:
            if size >= 0:
                writer.copy(response.readinto, fd, size, tick)
            else:  # an older server without a length: as much as comes
                for piece in response.iter_bytes(PIECE):
                    _write_all(fd, piece)
                    tick(len(piece))
                size = os.fstat(fd).st_size
    _sync_dir(target.rpartition("/")[0])
    return size


def get_dir(
    client: Client, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
) -> tuple[int, int]:
    """Extract the folder at `path` into `dest`; returns (files, bytes)."""
    tick = progress or (lambda n: None)
    root = str(dest.absolute()).rstrip("/") or "/"
    writer = _Writer()
    files = nbytes = 0
    params = {"ref": ref, "path": path}
    with client.transport.open("GET", f"/v1/repos/{repo}/archive", params=params) as response:
        stream = response.reader(PIECE)
        os.makedirs(root, exist_ok=True)
        pending = 0  # progress of small files, reported a megabyte at a time
        for member in untar.members(stream):
            if member.kind not in untar.REGULAR:
                untar.skip(stream, member.size)
                continue
            target = _inside(root, member.name)
            with writer.create(target, _file_mode(member.mode), sync=False) as fd:
                if member.size <= PIECE:  # one read from the buffered stream, one write
                    _write_all(fd, _read_exactly(stream, member.size))
                    pending += member.size
                else:
                    writer.copy(stream.readinto, fd, member.size, tick)
            files += 1
            nbytes += member.size
            if pending >= PIECE:
                tick(pending)
                pending = 0
        tick(pending)
    _syncfs(root)
    return files, nbytes


def _inside(root: str, name: str) -> str:
    """The local path of member `name` under `root`; refused if it would leave it."""
    try:
        rel = paths.normalize("/" + name)
    except InvalidInput:
        rel = ""
    if rel == "/" or not rel:
        raise InvalidInput(f"refusing to write {name!r} outside {root}")
    return root.rstrip("/") + rel


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise _cut()
    return data


def _cut() -> BackendUnavailable:
    return BackendUnavailable("the server's answer ended early: try the get again")
