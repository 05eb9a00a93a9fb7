"""MemoryStagingStore: the StagingStore port in this process (one lock: atomic as the port asks)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from kaon.core.tree import FileContent
from kaon.ports.stagings import StagingRecord


class MemoryStagingStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stagings: dict[str, StagingRecord] = {}
        self._files: dict[str, dict[str, FileContent]] = {}
        self._rows: dict[str, int] = {}  # rows staged, per staging

    def open(self, staging: StagingRecord) -> None:
        with self._lock:
            self._stagings[staging.id] = staging
            self._files[staging.id] = {}
            self._rows[staging.id] = 0

    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        with self._lock:
            found = self._stagings.get(staging_id)
            if found is None or found.touched < idle_before:
                self._stagings.pop(staging_id, None)
                self._files.pop(staging_id, None)
                self._rows.pop(staging_id, None)
                return None
            found = self._stagings[staging_id] = found._replace(touched=now)
            return found

    def add(self, staging_id: str, rows: Mapping[str, FileContent]) -> int | None:
        with self._lock:
            files = self._files.get(staging_id)
            if files is None:
                return None
            files.update(rows)
            self._rows[staging_id] += len(rows)
            return self._rows[staging_id]

    def puts(self, staging_id: str) -> dict[str, FileContent]:
        with self._lock:
            return dict(self._files.get(staging_id, {}))

    def drop(self, staging_id: str) -> None:
        with self._lock:
            self._stagings.pop(staging_id, None)
            self._files.pop(staging_id, None)
            self._rows.pop(staging_id, None)

    def expire(self, idle_before: float, keep: int) -> int:
        with self._lock:
            used = sorted(self._stagings.values(), key=lambda s: (s.touched, s.id), reverse=True)
            doomed = [s.id for i, s in enumerate(used) if s.touched < idle_before or i >= keep]
            for sid in doomed:
                del self._stagings[sid]
                del self._files[sid]
                del self._rows[sid]
            return len(doomed)
