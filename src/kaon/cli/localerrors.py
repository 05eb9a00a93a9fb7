"""Errors of this machine's filesystem met by a command (writing `get -o`, the client's stat
cache on a full disk) as KaonErrors: one line naming the path, and the documented exit code
(7 for a full disk, 2 for a local path that cannot be used) instead of "unexpected ..."."""

from __future__ import annotations

import errno
import sqlite3

from kaon.config import kaon_home
from kaon.core.errors import InvalidInput, KaonError, StorageFull

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_WHAT = {
    errno.EEXIST: "a file is in the way (a folder is needed there)",
    errno.ENOTDIR: "a file is in the way (a folder is needed there)",
    errno.EISDIR: "is a folder (a file is needed there)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "name too long",
}


def local_error(exc: BaseException) -> KaonError | None:
    """The KaonError to report for `exc` if this machine's filesystem raised it (an OSError
    naming a file, a full disk, the stat cache's SQLite); None for anything else."""
    if isinstance(exc, sqlite3.Error):
        cache = kaon_home() / "cache" / "stat.db"
        text = str(exc)
        if "full" in text or "I/O" in text:
            return StorageFull(
                f"{cache}: {text} (the client's stat cache): free space on that disk, then retry"
            )
        return InvalidInput(f"{cache}: {text} (the client's stat cache): remove it and retry")
    if not isinstance(exc, OSError) or isinstance(exc, ConnectionError):
        return None
    if exc.filename is None and exc.errno not in _FULL:
        return None  # not about a file we can name: reported as unexpected, with its type
    where = exc.filename if exc.filename is not None else "local file"
    if exc.errno in _FULL:
        return StorageFull(f"{where}: no space left on device: free space there, then retry")
    what = _WHAT.get(exc.errno or 0) or exc.strerror or type(exc).__name__
    return InvalidInput(f"{where}: {what}")
