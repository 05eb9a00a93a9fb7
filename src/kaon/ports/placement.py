"""PlacementStore: where each endpoint version's replicas run and listen (kaon.core.placement).

Written by the server that runs the version, read by every server's gateway. Backends:
kaon.db (SQLite, PostgreSQL), kaon.memory.
"""

from __future__ import annotations

from typing import Protocol

from kaon.core.placement import Placement


class PlacementStore(Protocol):
    def place(self, placement: Placement) -> None:
        """Insert or replace the placement of `placement.endpoint`."""
        ...

    def placement(self, endpoint: str) -> Placement | None: ...

    def placements(self) -> list[Placement]:
        """Every placement, by endpoint name."""
        ...

    def unplace(self, endpoint: str, server: str) -> None:
        """Forget where `endpoint` runs if `server` runs it (nothing otherwise)."""
        ...
