"""PackSender: how an upload's packs reach the server.

Over HTTP, or - when the server runs on this machine - through its drop folder
(kaon.store.drop): the pack is written there, chunks stored raw copied file to file by the
kernel, and named in one small request. The server sends the folder and a random token it
wrote in it; a client that reads the same token sees the same folder. Anything else (another
machine, an older server, a folder this user cannot write) means HTTP. KAON_PACK_DROP=0
turns the drop off.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import uuid
from typing import cast

from kaon.client.client import Client
from kaon.client.packer import PackBuilder, Source
from kaon.core.errors import KaonError

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DROP_TOKEN = ".token"  # kaon.store.drop.TOKEN_FILE (the client does not import the server)


class PackSender:
    """Thread-safe: the upload's sender threads share one."""

    def __init__(self, client: Client, drop: bool | None = None) -> None:
        self._client = client
        self._packer = PackBuilder()  # each sender thread reuses its own buffer
        if drop is None:
            drop = os.environ.get("KAON_PACK_DROP", "1") != "0"
        self._use_drop = drop
        self._drop: str | None = None  # the server's drop folder, once it is known to be here
        self._lock = threading.Lock()

    def send(self, frames: list[tuple[str, Source]]) -> tuple[int, int]:
        """Send the pack of `frames`; returns (raw bytes in it, bytes sent)."""
        folder = self._drop_folder()
        if folder is not None:
            try:
                return self._send_dropped(folder, frames)
            except OSError:  # cannot write there (full, permissions...): over HTTP instead
                with self._lock:
                    self._use_drop = False
        view, raw_total = self._packer.build(frames)
        # http.client sends any buffer as is; a bytes copy would cost a page-faulted pack
        self._client.upload_pack(cast(bytes, view))
        return raw_total, len(view)

    @property
    def via(self) -> str:
        """How packs went: "drop" or "http" (known after the first send)."""
        return "drop" if self._use_drop and self._drop is not None else "http"

    def _drop_folder(self) -> str | None:
        with self._lock:
            if self._use_drop and self._drop is None:
                self._drop = self._find_drop()
                self._use_drop = self._drop is not None
            return self._drop if self._use_drop else None

    def _find_drop(self) -> str | None:
        try:
            folder, token = self._client.pack_drop()
            with open(os.path.join(folder, _DROP_TOKEN)) as f:  # noqa: PTH118
                seen = f.read()
        except (KaonError, OSError):  # an older server, or one on another machine
            return None
        return folder if secrets.compare_digest(seen, token) else None

    def _send_dropped(self, folder: str, frames: list[tuple[str, Source]]) -> tuple[int, int]:
        name = f"{uuid.uuid4().hex}.pack"
        path = os.path.join(folder, name)  # noqa: PTH118 - plain strings on the hot path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
        try:
            try:
                size, raw_total = self._packer.write(fd, frames)
            finally:
                os.close(fd)
            self._client.store_dropped_pack(name)
        finally:  # claimed (renamed) by the server once it answers; else ours to remove
            with contextlib.suppress(OSError):
                os.unlink(path)  # noqa: PTH108
        return raw_total, size
