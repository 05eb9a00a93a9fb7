"""MemoryUploadStore: the UploadStore port in this process (one lock: atomic as the port asks)."""

from __future__ import annotations

import threading

from kaon.core.s3.uploads import Part, Upload
from kaon.ports.s3uploads import StoredPart, UploadRecord


class MemoryUploadStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, UploadRecord] = {}
        self._parts: dict[str, dict[int, StoredPart]] = {}

    def create(self, upload: Upload) -> None:
        with self._lock:
            self._uploads[upload.id] = UploadRecord(upload, None, None)
            self._parts[upload.id] = {}

    def get(self, upload_id: str) -> UploadRecord | None:
        with self._lock:
            return self._uploads.get(upload_id)

    def add_part(self, upload_id: str, part: Part, key: str) -> str | None:
        with self._lock:
            found = self._uploads.get(upload_id)
            if found is None or found.completed is not None:
                return None
            old = self._parts[upload_id].get(part.number)
            self._parts[upload_id][part.number] = StoredPart(part, key)
            return old.key if old else ""

    def parts(self, upload_id: str) -> list[StoredPart]:
        with self._lock:
            parts = self._parts.get(upload_id, {})
            return [parts[n] for n in sorted(parts)]

    def finish(self, upload_id: str, answer: dict[str, str], now: float) -> list[str] | None:
        with self._lock:
            found = self._uploads.get(upload_id)
            if found is None or found.completed is not None:
                return None
            self._uploads[upload_id] = UploadRecord(found.upload, now, dict(answer))
            keys = [p.key for p in self._parts[upload_id].values()]
            self._parts[upload_id] = {}
            return keys

    def remove(self, upload_id: str) -> list[str]:
        with self._lock:
            self._uploads.pop(upload_id, None)
            return [p.key for p in self._parts.pop(upload_id, {}).values()]

    def uploads(self, bucket: str | None = None) -> list[UploadRecord]:
        with self._lock:
            return [
                r for r in self._uploads.values() if bucket is None or r.upload.bucket == bucket
            ]
