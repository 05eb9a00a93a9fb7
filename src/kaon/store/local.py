"""LocalObjectStore: one file per key under a root directory.

A key 'packs/ab/abcd' lives at `root/packs/ab/abcd`. Writes go to a uniquely named temp file
('.tmp-<uuid>') in the destination directory and are renamed over the final name with
os.replace: readers see the whole object or nothing, and a killed writer leaves at most a temp
file, which `list` hides and `clean_temp` (run by gc) removes. Durability is batched: big
objects go to the disk as they are written (O_DIRECT, kaon.store.localio), small ones start
their writeback without waiting (sync_file_range), and `sync()` flushes the whole filesystem
once (syncfs) - one journal commit per kaon commit instead of two fsyncs per object, which
stalled concurrent writers (the cp + sync pattern).

The store holds no mutable state of its own, so one instance may be shared by many threads.
Note that, unlike memory and S3, the filesystem cannot hold both an object 'a' and an object
'a/b': storing the second raises Conflict.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
import uuid
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    KaonError,
    NotFound,
    StorageFull,
)
from kaon.core.units import human_size
from kaon.ports.objectstore import STREAM_PIECE, ObjectInfo
from kaon.store import TEMP_PREFIX, validate_key, validate_prefix
from kaon.store.localio import start_writeback, syncfs, write_object

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CREATE_RETRIES = 16
_MAX_READ = 1 << 30

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_CLASH_ERRNOS = {errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
_ACCESS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def translate_os_error(exc: OSError, *, action: str, key: str, path: Path | str) -> KaonError:
    """Turn an OSError met while doing `action` ('store', 'read', ...) on `key` into a KaonError.

    The message says what failed, where, and what to do about it.
    """
    code = exc.errno
    name = errno.errorcode.get(code, "?") if code is not None else "?"
    details = {"key": key, "path": str(path), "errno": name}
    if code in _FULL_ERRNOS:
        what = "no space left on device" if code == errno.ENOSPC else "disk quota exceeded"
        return StorageFull(
            f"cannot {action} object {key!r}: {what} at {path}. "
            "Free space on that filesystem or run `kaon gc` to reclaim unreferenced data, "
            "then retry.",
            **details,
        )
    if code == errno.ENAMETOOLONG:
        return InvalidInput(
            f"cannot {action} object {key!r}: the name is too long for the filesystem at {path}",
            **details,
        )
    if code in _CLASH_ERRNOS:
        return Conflict(
            f"cannot {action} object {key!r}: it clashes with an existing object or directory "
            f"at {path} (on the local store a key cannot also be the prefix 'key/' of another)",
            **details,
        )
    if code in _ACCESS_ERRNOS:
        return BackendUnavailable(
            f"cannot {action} object {key!r}: access denied or read-only filesystem at {path} "
            f"({name}). Check the ownership and permissions of the object store directory.",
            **details,
        )
    reason = exc.strerror or str(exc)
    return BackendUnavailable(
        f"cannot {action} object {key!r} at {path}: {reason} ({name}). "
        "Check the disk and the object store directory.",
        **details,
    )


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class LocalObjectStore:
    """ObjectStore on a local (or mounted) filesystem; see the module docstring."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise translate_os_error(exc, action="open", key="", path=self.root) from exc
        if not self.root.is_dir():
            raise BackendUnavailable(f"object store root {self.root} is not a directory")

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def health(self) -> BackendHealth:
        """The root is a folder this server can write, and how much room it has."""
        url = f"file://{self.root}"
        try:
            room = os.statvfs(self.root)
        except OSError as exc:
            why = f"cannot reach {self.root} ({exc.strerror}): is the filesystem mounted?"
            return BackendHealth(BackendRole.STORE, url, False, "", why)
        if not os.access(self.root, os.W_OK | os.X_OK):
            why = f"{self.root} is not writable by this server: fix its owner or mode"
            return BackendHealth(BackendRole.STORE, url, False, "", why)
        free = human_size(room.f_bavail * room.f_frsize)
        return BackendHealth(BackendRole.STORE, url, True, "local filesystem", f"{free} free")

    @staticmethod
    def _not_found(key: str) -> NotFound:
        return NotFound(f"object {key!r} not found in the object store", key=key)

    # -- writing ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview | Iterable[bytes | memoryview]) -> None:
        """Store `data` under `key` atomically and durably; an iterable is streamed to disk."""
        path = self._path(key)
        if isinstance(data, str):
            raise TypeError("ObjectStore.put takes bytes, memoryview or an iterable of bytes")
        tmp = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        fd = self._create_temp(key, tmp)
        try:
            try:
                write_object(fd, data)
            finally:
                os.close(fd)
            tmp.replace(path)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise translate_os_error(exc, action="store", key=key, path=path) from exc
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def put_file(self, key: str, path: str) -> None:
        """Move the file at `path` into place (a rename on the same filesystem, else a copy
        then an unlink) and start its writeback, like `put`."""
        final = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"cannot store object {key!r}: no file at {path}", key=key) from None
        except OSError as exc:
            raise translate_os_error(exc, action="store", key=key, path=path) from exc
        try:
            try:
                start_writeback(fd)
            finally:
                os.close(fd)
            for _ in range(_CREATE_RETRIES):
                try:
                    Path(path).replace(final)
                    return
                except FileNotFoundError:
                    if not os.path.lexists(path):
                        raise
                    self._make_dirs(final.parent)
        except FileNotFoundError:
            raise NotFound(f"cannot store object {key!r}: no file at {path}", key=key) from None
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise translate_os_error(exc, action="store", key=key, path=final) from exc
            with open(path, "rb") as f:  # another filesystem: copied, then the file removed
                self.put(key, iter(lambda: f.read(1 << 20), b""))
            _unlink_quietly(Path(path))
            return
        raise BackendUnavailable(
            f"cannot store object {key!r}: directory {final.parent} keeps disappearing "
            "(is something deleting it concurrently?)",
            key=key,
        )

    def sync(self) -> None:
        """Flush every write made so far on the store's filesystem (syncfs, else sync)."""
        try:
            fd = os.open(self.root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise translate_os_error(exc, action="sync", key="", path=self.root) from exc
        try:
            if syncfs is None or syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def _create_temp(self, key: str, tmp: Path) -> int:
        """Open a fresh temp file, creating missing directories (retried: delete prunes them)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC
        for _ in range(_CREATE_RETRIES):
            try:
                try:
                    return os.open(tmp, flags, 0o600)
                except FileNotFoundError:
                    self._make_dirs(tmp.parent)
            except OSError as exc:
                raise translate_os_error(exc, action="store", key=key, path=tmp.parent) from exc
        raise BackendUnavailable(
            f"cannot store object {key!r}: directory {tmp.parent} keeps disappearing "
            "(is something deleting it concurrently?)",
            key=key,
        )

    def _make_dirs(self, directory: Path) -> None:
        """mkdir -p up to root (made durable by the next `sync()`)."""
        missing: list[Path] = []
        current = directory
        while current != self.root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for new_dir in reversed(missing):
            try:
                new_dir.mkdir()
            except FileExistsError:
                continue  # made by a concurrent writer (or a file: the next step says Conflict)
            except FileNotFoundError:
                return  # pruned concurrently; the caller retries

    def delete(self, key: str) -> None:
        """Remove `key` (absent is fine), then prune now-empty directories up to root."""
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except PermissionError as exc:
            if path.is_dir():  # macOS reports EPERM for unlink(directory)
                return
            raise translate_os_error(exc, action="delete", key=key, path=path) from exc
        except OSError as exc:
            raise translate_os_error(exc, action="delete", key=key, path=path) from exc
        self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, directory: Path) -> None:
        current = directory
        while current != self.root and self.root in current.parents:
            try:
                current.rmdir()
            except OSError:  # not empty, already gone, or a race with a writer: stop
                return
            current = current.parent

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise self._not_found(key) from exc
        except OSError as exc:
            raise translate_os_error(exc, action="read", key=key, path=path) from exc

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer if the object ends first; b'' past its end)."""
        return b"".join(self._pieces(key, offset, length, _MAX_READ))

    def get_stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        return self._pieces(key, offset, length, STREAM_PIECE)

    def _pieces(
        self, key: str, offset: int, length: int, piece: int
    ) -> Generator[bytes, None, None]:
        if offset < 0 or length < 0:
            raise InvalidInput(
                f"invalid range for object {key!r}: offset {offset} and length {length} "
                "must not be negative"
            )
        return self._preads(key, offset, length, piece)

    def _preads(
        self, key: str, offset: int, length: int, piece: int
    ) -> Generator[bytes, None, None]:
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise self._not_found(key) from exc
        except OSError as exc:
            raise translate_os_error(exc, action="read", key=key, path=path) from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._not_found(key)
            position, remaining = offset, length
            while remaining > 0:
                buf = os.pread(fd, min(remaining, piece), position)
                if not buf:
                    break
                yield buf
                position += len(buf)
                remaining -= len(buf)
        except OSError as exc:
            raise translate_os_error(exc, action="read", key=key, path=path) from exc
        finally:
            os.close(fd)

    def local_file(self, key: str) -> str | None:
        return str(self._path(key))

    def has(self, key: str) -> bool:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise translate_os_error(exc, action="check", key=key, path=path) from exc
        return stat.S_ISREG(st.st_mode)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`; directories that cannot match are skipped."""
        return self._list(validate_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        for key, entry in self._walk(prefix):
            if entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # deleted while listing
            except OSError as exc:
                raise translate_os_error(exc, action="list", key=key, path=entry.path) from exc
            yield ObjectInfo(key, size)

    def _walk(self, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """(key, entry) for every regular file (temp files included) whose key starts with
        `prefix`, descending only into directories whose keys could start with `prefix`."""
        head = prefix.rpartition("/")[0]
        stack: list[tuple[str, str]] = [(str(self.root / head) if head else str(self.root), head)]
        while stack:
            directory, rel = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = list(it)  # close the directory before yielding to the caller
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise translate_os_error(exc, action="list", key=prefix, path=directory) from exc
            for entry in entries:
                key = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        as_prefix = key + "/"
                        if as_prefix.startswith(prefix) or prefix.startswith(as_prefix):
                            stack.append((entry.path, key))
                    elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                        yield key, entry
                except OSError:
                    continue  # vanished while listing

    # -- maintenance -----------------------------------------------------------------------

    def clean_temp(self, older_than_seconds: float) -> int:
        """Remove temp files of crashed writers last modified at least `older_than_seconds`
        ago; return the bytes freed. Use a generous age (e.g. an hour) while writers may be
        running: removing a live writer's temp file makes its put fail."""
        cutoff = time.time() - older_than_seconds
        freed = 0
        for key, entry in self._walk(""):
            if not entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_mtime > cutoff:
                    continue
                Path(entry.path).unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise translate_os_error(exc, action="clean", key=key, path=entry.path) from exc
            freed += st.st_size
            self._prune_empty_dirs(Path(entry.path).parent)
        return freed
