"""MemoryStagingStore: the StagingStore port in this process (one lock: atomic as the port asks)."""

from __future__ import annotations

import threading

from kaon.core.tree import FileContent
from kaon.ports.stagings import Staged, StagingKind, StagingRecord


class MemoryStagingStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stagings: dict[str, StagingRecord] = {}
        self._files: dict[str, dict[str, FileContent | None]] = {}
        self._rows: dict[str, int] = {}  # rows staged, per staging

    def open(self, staging: StagingRecord) -> None:
        with self._lock:
            if staging.id not in self._stagings:
                self._stagings[staging.id] = staging
                self._files[staging.id] = {}
                self._rows[staging.id] = 0

    def touch(self, staging_id: str, now: float, idle_before: float) -> StagingRecord | None:
        with self._lock:
            found = self._stagings.get(staging_id)
            if found is None or found.touched < idle_before:
                self._forget(staging_id)
                return None
            found = self._stagings[staging_id] = found._replace(touched=now)
            return found

    def add(self, staging_id: str, rows: Staged) -> int | None:
        with self._lock:
            files = self._files.get(staging_id)
            if files is None:
                return None
            files.update(rows)
            self._rows[staging_id] += len(rows)
            return self._rows[staging_id]

    def puts(self, staging_id: str) -> dict[str, FileContent | None]:
        with self._lock:
            return dict(self._files.get(staging_id, {}))

    def take(self, staging_id: str) -> dict[str, FileContent | None] | None:
        with self._lock:
            files = self._files.get(staging_id)
            self._forget(staging_id)
            return files

    def drop(self, staging_id: str) -> None:
        with self._lock:
            self._forget(staging_id)

    def stagings(self, repo: str, kind: StagingKind) -> list[StagingRecord]:
        with self._lock:
            return [s for s in self._stagings.values() if s.repo == repo and s.kind == kind]

    def expire(self, idle_before: float, keep: int, kind: StagingKind = StagingKind.PUT) -> int:
        with self._lock:
            mine = [s for s in self._stagings.values() if s.kind == kind]
            used = sorted(mine, key=lambda s: (s.touched, s.id), reverse=True)
            doomed = [s.id for i, s in enumerate(used) if s.touched < idle_before or i >= keep]
            for sid in doomed:
                self._forget(sid)
            return len(doomed)

    def _forget(self, staging_id: str) -> None:
        self._stagings.pop(staging_id, None)
        self._files.pop(staging_id, None)
        self._rows.pop(staging_id, None)
