"""Making downloaded files durable with few flushes: start the writeback of a big file early,
sync a whole filesystem once (Linux syncfs; os.sync elsewhere), fsync a folder after a rename.

(kaon.store.localio does the same for the server; the SDK does not import server code.)"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _libc() -> dict[str, Callable[..., Any]]:
    """syncfs and sync_file_range when this is Linux with glibc/musl; else nothing."""
    found: dict[str, Callable[..., Any]] = {}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return found
    for name, args in (
        ("syncfs", [ctypes.c_int]),
        ("sync_file_range", [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]),
    ):
        fn = getattr(libc, name, None)
        if fn is not None:
            fn.argtypes = args
            found[name] = fn
    return found


def start_writeback(fd: int) -> None:
    """Have the kernel start writing the file's dirty pages now, without waiting (the final
    fsync then has little left to do)."""
    sfr = _libc().get("sync_file_range")
    if sfr is not None:
        sfr(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def sync_dir(folder: str) -> None:
    """fsync a folder (a rename in it is durable once this returns)."""
    fd = os.open(folder or ".", _DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(folder: str) -> None:
    """Flush everything written to the filesystem holding `folder`: one syncfs (Linux),
    else os.sync()."""
    syncfs = _libc().get("syncfs")
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
