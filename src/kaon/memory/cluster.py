"""MemoryClusterStore: the ClusterStore port in this process (one lock: atomic as the port asks)."""

from __future__ import annotations

import threading
from dataclasses import replace

from kaon.core.cluster import Claim, ClaimKind, ServerRecord


class MemoryClusterStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, ServerRecord] = {}
        self._claims: dict[tuple[ClaimKind, str], Claim] = {}

    def heartbeat(self, server: ServerRecord) -> None:
        with self._lock:
            self._servers[server.id] = server

    def servers(self, seen_since: float) -> list[ServerRecord]:
        with self._lock:
            alive = [s for s in self._servers.values() if s.seen >= seen_since]
        return sorted(alive, key=lambda s: (s.started, s.id))

    def forget_server(self, server_id: str) -> None:
        with self._lock:
            self._servers.pop(server_id, None)
            for k in [k for k, c in self._claims.items() if c.owner == server_id]:
                del self._claims[k]

    def claim(self, kind: ClaimKind, key: str, owner: str, now: float, ttl: float) -> Claim | None:
        with self._lock:
            held = self._claims.get((kind, key))
            if held is not None and held.owner != owner and held.expires > now:
                return None
            claim = Claim(kind, key, owner, now + ttl)
            self._claims[(kind, key)] = claim
            return claim

    def renew(self, owner: str, now: float, ttl: float) -> int:
        with self._lock:
            mine = [k for k, c in self._claims.items() if c.owner == owner]
            for k in mine:
                self._claims[k] = replace(self._claims[k], expires=now + ttl)
            return len(mine)

    def release(self, kind: ClaimKind, key: str, owner: str) -> None:
        with self._lock:
            held = self._claims.get((kind, key))
            if held is not None and held.owner == owner:
                del self._claims[(kind, key)]

    def holder(self, kind: ClaimKind, key: str, now: float) -> Claim | None:
        with self._lock:
            held = self._claims.get((kind, key))
        return held if held is not None and held.expires > now else None

    def claims(self, kind: ClaimKind, now: float) -> list[Claim]:
        with self._lock:
            return [c for c in self._claims.values() if c.kind == kind and c.expires > now]

    def expired(self, kind: ClaimKind, now: float) -> list[Claim]:
        with self._lock:
            return [c for c in self._claims.values() if c.kind == kind and c.expires <= now]
