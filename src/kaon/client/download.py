"""Download: a file streamed into a temp file then renamed; a folder as a streamed tar,
extracted member by member with every path checked to stay inside the target folder."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from kaon.client.client import Client
from kaon.core import paths
from kaon.core.errors import InvalidInput, StorageFull

Progress = Callable[[int], None]
PIECE = 1024 * 1024


class _IterReader(io.RawIOBase):
    """A readable file over an iterator of byte strings (for tarfile's stream mode)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._pieces)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@contextlib.contextmanager
def _atomic_write(dest: Path) -> Iterator[io.BufferedWriter]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.kaon-{uuid.uuid4().hex[:8]}"
    try:
        with tmp.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == 28:
            raise StorageFull(f"no space left on the device while writing {dest}") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def get_file(
    client: Client, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
) -> int:
    """Write one file to `dest` atomically; returns its size."""
    tick = progress or (lambda n: None)
    total = 0
    params = {"ref": ref, "path": path}
    with (
        client.transport.open("GET", f"/v1/repos/{repo}/content", params=params) as response,
        _atomic_write(dest) as out,
    ):
        for piece in response.iter_bytes(PIECE):
            out.write(piece)
            total += len(piece)
            tick(len(piece))
    return total


def get_dir(
    client: Client, repo: str, ref: str, path: str, dest: Path, progress: Progress | None = None
) -> tuple[int, int]:
    """Extract the folder at `path` into `dest`; returns (files, bytes)."""
    tick = progress or (lambda n: None)
    root = dest.absolute()
    files = nbytes = 0
    params = {"ref": ref, "path": path}
    with client.transport.open("GET", f"/v1/repos/{repo}/archive", params=params) as response:
        reader = io.BufferedReader(_IterReader(response.iter_bytes(PIECE)), PIECE)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                rel = paths.normalize(member.name).lstrip("/")
                target = (root / rel).absolute()
                if not rel or root not in target.parents:
                    raise InvalidInput(f"refusing to write {member.name!r} outside {root}")
                source = tar.extractfile(member)
                if source is None:
                    continue
                with _atomic_write(target) as out:
                    while piece := source.read(PIECE):
                        out.write(piece)
                        tick(len(piece))
                files += 1
                nbytes += member.size
    return files, nbytes
