"""PackSender: how an upload's bytes reach the server.

Over HTTP, or - when the server runs on this machine - through its drop folder
(kaon.store.drop): a pack is written there, chunks stored raw copied file to file by the
kernel, and named in one small request; a big file is not even read here: the server chunks
it itself from its path (kaon.services.ingest). The server names the folder; the client reads
the random token the server wrote in it (readable by the platform's user only) and sends it
back, which proves it runs on the same machine as that user. Anything else (another machine,
an older server, a folder this user cannot read) means HTTP. KAON_PACK_DROP=0 turns the drop
off.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable
from typing import cast

from kaon.client.packer import PackBuilder, Source
from kaon.client.rest import RestApi
from kaon.core.errors import KaonError, NotFound, PermissionDenied

LOCAL_STEP = 1024 * 1024 * 1024  # bytes the server chunks per request (progress in between)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DROP_TOKEN = ".token"  # kaon.store.drop.TOKEN_FILE (the client does not import the server)


def find_drop(client: RestApi) -> tuple[str, str] | None:
    """(drop folder, token) when the server runs on this machine as a user whose files this
    client may read; None otherwise (another machine, an older server)."""
    try:
        folder = client.pack_drop()
        with open(os.path.join(folder, _DROP_TOKEN)) as f:  # noqa: PTH118
            return folder, f.read()
    except (KaonError, OSError):  # an older server, or one on another machine
        return None


def drop_enabled() -> bool:
    """KAON_PACK_DROP=0 turns the same-machine paths off (HTTP only, as a remote client)."""
    return os.environ.get("KAON_PACK_DROP", "1") != "0"


class PackSender:
    """Thread-safe: the upload's sender threads share one."""

    def __init__(self, client: RestApi, drop: bool | None = None, lease: str | None = None) -> None:
        self._client = client
        self._lease = lease  # the upload's (kaon.client.upload): gc spares what it sends
        self._packer = PackBuilder()  # each sender thread reuses its own buffer
        if drop is None:
            drop = drop_enabled()
        self._use_drop = drop
        self._drop: tuple[str, str] | None = None  # (folder, token), once known to be here
        self._lock = threading.Lock()

    def send(self, frames: list[tuple[str, Source]]) -> tuple[int, int]:
        """Send the pack of `frames`; returns (raw bytes in it, bytes sent)."""
        drop = self._drop_folder()
        if drop is not None:
            try:
                return self._send_dropped(drop, frames)
            except (OSError, PermissionDenied):  # cannot write there, or not the server's
                self._give_up_drop()
        view, raw_total = self._packer.build(frames)
        # http.client sends any buffer as is; a bytes copy would cost a page-faulted pack
        self._client.upload_pack(cast(bytes, view), self._lease)
        return raw_total, len(view)

    def chunk_on_server(
        self, key: tuple[str, int, int, int], progress: Callable[[int], None]
    ) -> tuple[list[tuple[str, int]], int, int] | None:
        """(chunks, new chunks, new bytes) of the local file of `key` (path, size, mtime_ns,
        inode), chunked and stored by the server itself; None when it is not on this machine
        or cannot read the file (the caller cuts it here then)."""
        drop = self._drop_folder()
        if drop is None:
            return None
        chunks: list[tuple[str, int]] = []
        new_chunks = new_bytes = start = 0
        try:
            while start < key[1]:
                doc = self._client.chunk_local_file(key, start, LOCAL_STEP, drop[1], self._lease)
                chunks += [(str(d), int(n)) for d, n in doc["chunks"]]
                new_chunks += int(doc["new_chunks"])
                new_bytes += int(doc["new_bytes"])
                start += int(doc["consumed"])
                progress(int(doc["consumed"]))
        except (PermissionDenied, NotFound):  # not the server's folder, a file only we may
            return None  # read or see: cut here, whole (what it stored is not sent again)
        return chunks, new_chunks, new_bytes

    @property
    def via(self) -> str:
        """How bytes went: "drop" or "http" (known after the first send)."""
        return "drop" if self._use_drop and self._drop is not None else "http"

    def _give_up_drop(self) -> None:
        with self._lock:
            self._use_drop = False

    def _drop_folder(self) -> tuple[str, str] | None:
        with self._lock:
            if self._use_drop and self._drop is None:
                self._drop = self._find_drop()
                self._use_drop = self._drop is not None
            return self._drop if self._use_drop else None

    def _find_drop(self) -> tuple[str, str] | None:
        return find_drop(self._client)

    def _send_dropped(
        self, drop: tuple[str, str], frames: list[tuple[str, Source]]
    ) -> tuple[int, int]:
        name = f"{uuid.uuid4().hex}.pack"
        path = os.path.join(drop[0], name)  # noqa: PTH118 - plain strings on the hot path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
        try:
            try:
                size, raw_total = self._packer.write(fd, frames)
            finally:
                os.close(fd)
            self._client.store_dropped_pack(name, drop[1], self._lease)
        finally:  # claimed (renamed) by the server once it answers; else ours to remove
            with contextlib.suppress(OSError):
                os.unlink(path)  # noqa: PTH108
        return raw_total, size
