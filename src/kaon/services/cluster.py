"""ClusterService: this server among the others sharing its database (kaon.core.cluster).

It beats (a ServerRecord renewed every `heartbeat` seconds, with every claim it holds), claims
live work for itself, tells who runs a piece of work (so a request can be sent to that server),
and takes over work whose owner stopped renewing: for each claim kind a handler registered
with `on_orphan` is called (in a thread of its own) with the key this server just claimed.
A single server is the same platform with one member: it claims what it starts, and a
server restarted on the same KAON_HOME keeps its id (`server_id`), so what it held before a
crash is its own again at once (its restart recovery, not a takeover, ends it).

Work only one server does (the pipelines' scheduler, gc) is `want`ed: each beat, a server
that does not hold it claims it when no live server does (its holder died, or stopped and
gave it up) and calls the handler. `watch` callbacks run on every beat (gc's quiescing).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from kaon.core.cluster import CLAIM_SECONDS, HEARTBEAT_SECONDS, Claim, ClaimKind, ServerRecord
from kaon.ports.cluster import ClusterStore

log = logging.getLogger("kaon.cluster")


class ClusterService:
    def __init__(
        self,
        store: ClusterStore,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        heartbeat: float = HEARTBEAT_SECONDS,
        ttl: float = CLAIM_SECONDS,
        server_id: str | None = None,
    ) -> None:
        self.store = store
        self.id = server_id or uuid.uuid4().hex
        self.url = url
        self._clock = clock
        self.heartbeat_seconds = heartbeat
        self.ttl = ttl
        self._started = clock()
        self._handlers: dict[ClaimKind, Callable[[str], None]] = {}
        self._wanted: dict[tuple[ClaimKind, str], Callable[[str], None]] = {}
        self._watchers: list[Callable[[], None]] = []
        self._lost: dict[tuple[ClaimKind, str], str] = {}  # who held what this server took
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def me(self) -> ServerRecord:
        return ServerRecord(self.id, self.url, self._started, self._clock())

    def on_orphan(self, kind: ClaimKind, handler: Callable[[str], None]) -> None:
        """Call `handler(key)` for each claim of `kind` this server takes over (register
        before `start`)."""
        self._handlers[kind] = handler

    def want(self, kind: ClaimKind, key: str, handler: Callable[[str], None]) -> None:
        """Each beat, take `key` when no live server holds it and call `handler(key)` (in a
        thread of its own); the caller claims it itself first where it starts with it."""
        self._wanted[(kind, key)] = handler

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback()` on every beat (after the claims are renewed)."""
        self._watchers.append(callback)

    def lost(self, kind: ClaimKind, key: str) -> str:
        """Who held `key` before this server took it over: "server <url>" (for reasons)."""
        return self._lost.get((kind, key), "another server")

    def start(self) -> None:
        self.store.heartbeat(self.me())
        self._thread = threading.Thread(target=self._beat, name="kaon-cluster", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop beating and give every claim up (a clean stop: the others take over at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.store.forget_server(self.id)
        except Exception:  # the database may be gone at shutdown
            log.warning("could not remove this server's record", exc_info=True)

    def claim(self, kind: ClaimKind, key: str) -> bool:
        """Take `key` for this server; False when another live server holds it."""
        return self.store.claim(kind, key, self.id, self._clock(), self.ttl) is not None

    def release(self, kind: ClaimKind, key: str) -> None:
        self.store.release(kind, key, self.id)

    def owns(self, kind: ClaimKind, key: str) -> bool:
        held = self.store.holder(kind, key, self._clock())
        return held is not None and held.owner == self.id

    def owner(self, kind: ClaimKind, key: str) -> ServerRecord | None:
        """The live server holding `key` (this one included); None when no one does."""
        held = self.store.holder(kind, key, self._clock())
        if held is None:
            return None
        if held.owner == self.id:
            return self.me()
        for server in self.store.servers(self._clock() - self.ttl):
            if server.id == held.owner:
                return server
        return None

    def claims(self, kind: ClaimKind) -> list[Claim]:
        """Every live claim of `kind`, whoever holds it."""
        return self.store.claims(kind, self._clock())

    def servers(self) -> list[ServerRecord]:
        """The live servers, oldest first."""
        return self.store.servers(self._clock() - self.ttl)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.beat_once()
            except Exception:  # a database hiccup: try again next beat
                log.warning("cluster heartbeat failed", exc_info=True)

    def beat_once(self) -> None:
        """Renew this server and its claims, then take over orphaned work (tests call it)."""
        now = self._clock()
        self.store.heartbeat(self.me())
        self.store.renew(self.id, now, self.ttl)
        for kind, handler in self._handlers.items():
            for orphan in self.store.expired(kind, now):
                if orphan.owner == self.id:
                    continue  # renewed above: this server's own (its beat was late)
                self._take(kind, orphan.key, orphan.owner, handler, now)
        for (kind, key), handler in list(self._wanted.items()):
            held = self.store.holder(kind, key, now)
            if held is None:
                gone = next((c.owner for c in self.store.expired(kind, now) if c.key == key), "")
                self._take(kind, key, gone, handler, now)
        for callback in self._watchers:
            try:
                callback()
            except Exception:
                log.warning("a cluster watcher failed", exc_info=True)

    def _take(
        self, kind: ClaimKind, key: str, owner: str, handler: Callable[[str], None], now: float
    ) -> None:
        if self.store.claim(kind, key, self.id, now, self.ttl) is None:
            return  # another server was quicker
        self._lost[(kind, key)] = self._describe(owner)
        log.info("taking over %s %s from %s", kind.value, key, self._lost[(kind, key)])
        threading.Thread(target=self._run, args=(handler, kind, key), daemon=True).start()

    def _describe(self, owner: str) -> str:
        if not owner:
            return "a server that stopped"
        for server in self.store.servers(0.0):
            if server.id == owner:
                return f"server {server.url}"
        return f"server {owner[:12]}"

    def _run(self, handler: Callable[[str], None], kind: ClaimKind, key: str) -> None:
        try:
            handler(key)
        except Exception:  # logged; the claim is given up for another try
            log.exception("taking over %s %s failed", kind.value, key)
            self.release(kind, key)
