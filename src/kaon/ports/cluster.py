"""ClusterStore: the servers of one platform and the claims on live work (kaon.core.cluster).

Every method is one atomic statement or transaction: two servers claiming the same key at the
same moment get one winner. Backends: kaon.db (SQLite, PostgreSQL), kaon.memory.
"""

from __future__ import annotations

from typing import Protocol

from kaon.core.cluster import Claim, ClaimKind, ServerRecord


class ClusterStore(Protocol):
    def heartbeat(self, server: ServerRecord) -> None:
        """Insert or refresh `server` (its `seen`)."""
        ...

    def servers(self, seen_since: float) -> list[ServerRecord]:
        """The servers heard from at or after `seen_since`, oldest first."""
        ...

    def forget_server(self, server_id: str) -> None:
        """Drop a server's record and every claim it holds (a clean shutdown)."""
        ...

    def claim(self, kind: ClaimKind, key: str, owner: str, now: float, ttl: float) -> Claim | None:
        """Take (or renew, when `owner` holds it) the claim on `key` until `now + ttl`; None
        when another owner holds it unexpired."""
        ...

    def renew(self, owner: str, now: float, ttl: float) -> int:
        """Extend every claim `owner` holds to `now + ttl`; how many it holds."""
        ...

    def release(self, kind: ClaimKind, key: str, owner: str) -> None:
        """Give the claim up (nothing when `owner` does not hold it)."""
        ...

    def holder(self, kind: ClaimKind, key: str, now: float) -> Claim | None:
        """The unexpired claim on `key`, whoever holds it."""
        ...

    def claims(self, kind: ClaimKind, now: float) -> list[Claim]:
        """Every unexpired claim of `kind`."""
        ...

    def expired(self, kind: ClaimKind, now: float) -> list[Claim]:
        """Every claim of `kind` whose owner stopped renewing it (work to take over)."""
        ...
