"""MemoryPlacementStore: the PlacementStore port in this process."""

from __future__ import annotations

import threading

from kaon.core.placement import Placement


class MemoryPlacementStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Placement] = {}

    def place(self, placement: Placement) -> None:
        with self._lock:
            self._rows[placement.endpoint] = placement

    def placement(self, endpoint: str) -> Placement | None:
        with self._lock:
            return self._rows.get(endpoint)

    def placements(self) -> list[Placement]:
        with self._lock:
            return [self._rows[k] for k in sorted(self._rows)]

    def unplace(self, endpoint: str, server: str) -> None:
        with self._lock:
            held = self._rows.get(endpoint)
            if held is not None and held.server == server:
                del self._rows[endpoint]
