"""Download: a file, or a folder streamed as a tar and extracted member by member with every
path checked to stay inside the target folder. A file's content is copied by the kernel from
the server's pack files when the server runs on this machine (as with uploads, the drop
folder's token proves it; KAON_PACK_DROP=0 turns it off), else it comes over HTTP.

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
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from kaon.client import durable, untar
from kaon.client.rest import RestApi
from kaon.client.sender import drop_enabled, find_drop
from kaon.core import paths
from kaon.core.errors import (
    BackendUnavailable,
    CorruptObject,
    InvalidInput,
    KaonError,
    StorageFull,
)
from kaon.core.pack import RAW, decode_chunk

Progress = Callable[[int], None]
PIECE = 1024 * 1024
WRITEBACK = 64 * 1024 * 1024
PREFETCH = 128 * 1024 * 1024
_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC
_EXECUTABLE = 0o111


def _file_mode(tar_mode: int) -> int:
    """The mode a file is created with (the umask applies): 0777 if executable, else 0666."""
    return 0o777 if tar_mode & _EXECUTABLE else 0o666


class _Writer:
    """Writes files under temp names and renames them into place; removes the temp file of
    the one being written when interrupted."""

    def __init__(self) -> None:
        self._token = secrets.token_hex(4)
        self._count = 0
        self._made: set[str] = set()
        self._buffer = bytearray(PIECE)
        self._kernel_copy = hasattr(os, "copy_file_range")
        self._unflushed = 0

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
            if exc.errno == errno.ENOSPC:
                raise StorageFull(f"no space left on the device while writing {dest}") from exc
            raise
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
            self.written(fd, n)

    def copy_range(self, source: int, offset: int, length: int, fd: int) -> None:
        """`length` bytes of file `source` from `offset` appended to `fd`: copied by the
        kernel (copy_file_range) where it can, else read and written here."""
        end = offset + length
        while offset < end:
            if self._kernel_copy:
                try:
                    n = os.copy_file_range(source, fd, end - offset, offset)
                except OSError as exc:
                    if exc.errno not in _NO_KERNEL_COPY:
                        raise
                    self._kernel_copy = False
                    continue
            else:
                piece = os.pread(source, min(end - offset, PIECE), offset)
                _write_all(fd, piece)
                n = len(piece)
            if n <= 0:
                raise CorruptObject(f"a pack file of the store ends early ({offset} of {end})")
            offset += n

    def written(self, fd: int, n: int) -> None:
        """Count `n` bytes written to `fd`; every WRITEBACK bytes, start their writeback (the
        final fsync then waits for little: what cp + sync would wait for at the end)."""
        self._unflushed += n
        if self._unflushed >= WRITEBACK:
            durable.start_writeback(fd)
            self._unflushed = 0


def _write_all(fd: int, data: bytes | memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def get_file(
    client: RestApi, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
) -> int:
    """Write one file to `dest` (temp name, fsync, rename, fsync of its folder); its size.

    When the server runs on this machine and keeps its packs as local files this client may
    read, the content is copied from them by the kernel (copy_file_range), not over HTTP."""
    tick = progress or (lambda n: None)
    target = str(dest.absolute())
    writer = _Writer()
    local = _local_plan(client, repo, ref, path)
    size = None if local is None else _copy_local(writer, local, target, tick)
    if size is None:
        size = _get_over_http(client, writer, repo, ref, path, target, tick)
    durable.sync_dir(target.rpartition("/")[0])
    return size


def _get_over_http(
    client: RestApi, writer: _Writer, repo: str, ref: str, path: str, target: str, tick: Progress
) -> int:
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
    return size


def _local_plan(client: RestApi, repo: str, ref: str, path: str) -> dict[str, Any] | None:
    """The server's answer to where the file's chunks lie on this machine, or None (the
    drop is off, another machine, an older server, a store without local files; an error
    such as a missing path is then reported by the HTTP get)."""
    if not drop_enabled():
        return None
    drop = find_drop(client)
    if drop is None:
        return None
    try:
        return client.local_content(repo, ref, path, drop[1])
    except KaonError:
        return None


def _prefetcher(chunks: list[list[Any]], packs: dict[str, int]) -> Iterator[None]:
    """Advance once per chunk copied: keeps the kernel reading PREFETCH bytes ahead of the
    copy (the packs of a fresh put were written past the page cache, so they come from the
    disk; read ahead, the disk reads while the copy writes)."""
    ahead = 0  # chunks announced so far
    announced = 0  # their bytes
    copied = 0
    for _, _, stored_len, _, _ in chunks:
        while ahead < len(chunks) and announced - copied < PREFETCH:
            name, offset, length = chunks[ahead][0], chunks[ahead][1], chunks[ahead][2]
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(packs[name], offset, length, os.POSIX_FADV_WILLNEED)
            ahead += 1
            announced += length
        yield
        copied += stored_len


def _copy_local(writer: _Writer, plan: dict[str, Any], target: str, tick: Progress) -> int | None:
    """Copy the file's chunks from the server's pack files; None when one cannot be opened
    (another user's files, or a pack gc moved since: the caller gets it over HTTP)."""
    packs: dict[str, int] = {}
    try:
        for name in dict.fromkeys(c[0] for c in plan["chunks"]):
            packs[name] = os.open(name, os.O_RDONLY | _O_CLOEXEC)
    except OSError:
        for fd in packs.values():
            os.close(fd)
        return None
    size = int(plan["size"])
    try:
        with writer.create(target, 0o666, sync=True) as out:
            done = 0
            prefetch = _prefetcher(plan["chunks"], packs)
            for name, offset, stored_len, raw_len, codec in plan["chunks"]:
                next(prefetch)
                if codec == RAW:
                    writer.copy_range(packs[name], offset, stored_len, out)
                else:
                    stored = os.pread(packs[name], stored_len, offset)
                    _write_all(out, decode_chunk(codec, raw_len, stored))
                done += raw_len
                tick(raw_len)
                writer.written(out, raw_len)
            if done != size:
                raise CorruptObject(f"the chunks of {target} hold {done} bytes, not {size}")
    finally:
        for fd in packs.values():
            os.close(fd)
    return size


def get_dir(
    client: RestApi, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
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
    durable.sync_filesystem(root)
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
