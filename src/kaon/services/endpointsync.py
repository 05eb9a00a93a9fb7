"""Endpoints across several servers sharing one database (kaon.core.cluster, kaon.core.placement).

The server that starts a version (deploy, update, rollback, restart recovery, takeover) claims
it (ClaimKind.ENDPOINT, key = the version's row name), runs its replicas and records where
they listen (`EndpointPlaces`). Every `SYNC_SECONDS` each server (`EndpointSync`):
  * stops the versions it runs that were killed or drained through another server (their row
    says KILLED), or that another server holds now; renews the placement of the others and
    saves the state their replicas show (so `kaon serve list` through any server is true);
  * takes a version no one runs (its server stopped cleanly and gave its claims up) over,
    once it has seen it unclaimed twice in a row (a kill in flight releases the claim just
    before it saves KILLED); a dead server's versions come through ClusterService.on_orphan;
  * republishes every release's traffic table from the database (a change made through
    another server reaches this gateway within SYNC_SECONDS) and the routes to the versions
    other servers run: straight to their replicas when those listen on TCP (`tcp://`, Ray),
    else through the owner's gateway (`Route.via`).
The gateway's lookups stay in memory (kaon.services.endpointrun): a version this server runs
is resolved exactly as on a single server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from kaon.core.cluster import ClaimKind
from kaon.core.endpoints import Endpoint
from kaon.core.placement import Placement
from kaon.core.releases import Release
from kaon.ports.endpoints import EndpointStore, ReleaseStore
from kaon.ports.placement import PlacementStore
from kaon.services.cluster import ClusterService
from kaon.services.endpointrun import EndpointRunner, Route
from kaon.services.releases import ReleaseEngine

log = logging.getLogger("kaon.serving")

SYNC_SECONDS = 0.5  # how often a server looks at what the others changed
MIN_GAP = 0.05  # s between two syncs, however often they are asked for


class EndpointPlaces:
    """The claims and placements of the versions this server runs."""

    def __init__(
        self, cluster: ClusterService, store: PlacementStore, clock: Callable[[], float]
    ) -> None:
        self._cluster = cluster
        self._store = store
        self._clock = clock
        self._written: dict[str, tuple[str, ...]] = {}  # what was placed, per version
        self.others: dict[str, Placement] = {}  # the versions other servers run (last sync)
        self._lock = threading.Lock()

    @property
    def me(self) -> str:
        return self._cluster.id

    def claim(self, name: str) -> bool:
        """Take version `name` for this server (False: another live server runs it)."""
        if not self._cluster.claim(ClaimKind.ENDPOINT, name):
            return False
        self._place(name, ())
        return True

    def release(self, name: str) -> None:
        """This server no longer runs `name`."""
        with self._lock:
            self._written.pop(name, None)
        self._cluster.release(ClaimKind.ENDPOINT, name)
        self._store.unplace(name, self.me)

    def listening(self, name: str, addresses: tuple[str, ...]) -> None:
        """The ready replicas of `name` listen at `addresses` (placed when they changed)."""
        with self._lock:
            same = self._written.get(name) == addresses
        if not same:
            self._place(name, addresses)

    def holders(self) -> dict[str, str]:
        """Version name -> the id of the live server holding it."""
        now = self._clock()
        return {c.key: c.owner for c in self._cluster.store.claims(ClaimKind.ENDPOINT, now)}

    def remote(
        self, rows: Mapping[str, Endpoint], held: Mapping[str, str], local: set[str]
    ) -> dict[str, Route]:
        """The routes to the live versions other live servers run."""
        urls = {s.id: s.url for s in self._cluster.servers()}
        routes: dict[str, Route] = {}
        others: dict[str, Placement] = {}
        for placed in self._store.placements():
            name = placed.endpoint
            row = rows.get(name)
            if placed.server == self.me or name in local or row is None or not row.live:
                continue
            if held.get(name) != placed.server or placed.server not in urls:
                continue  # being taken over: no route until its new server places it
            routes[name] = _route(row, placed, urls[placed.server])
            others[name] = placed
        self.others = others
        return routes

    def runs_on(self, name: str) -> str | None:
        """The URL of the other live server running version `name` (None: this one, or none)."""
        owner = self._cluster.owner(ClaimKind.ENDPOINT, name)
        return None if owner is None or owner.id == self.me else owner.url

    def _place(self, name: str, addresses: tuple[str, ...]) -> None:
        self._store.place(Placement(name, self.me, self._cluster.url, addresses, self._clock()))
        with self._lock:
            self._written[name] = addresses


def _route(row: Endpoint, placed: Placement, url: str) -> Route:
    """The route to `row`'s replicas placed on another server reachable at `url`."""
    batch = row.batch if row.env.get("batchable", True) else None
    if placed.direct:  # on TCP: this gateway talks to them itself, batching included
        addresses, via = placed.addresses, ""
    else:  # Unix sockets of another machine: through that server's gateway (it batches)
        addresses, via, batch = ((url,) if placed.addresses else ()), url, None
    return Route(
        row.name,
        row.workspace,
        row.model_id,
        addresses,
        batch,
        row.timeout,
        row.auth,
        row.release_name,
        row.version_label,
        via,
    )


class EndpointSync:
    """The loop that keeps this server's view of the others' endpoints (see the module doc)."""

    def __init__(
        self,
        places: EndpointPlaces,
        runner: EndpointRunner,
        endpoints: EndpointStore,
        releases: ReleaseStore,
        engine: ReleaseEngine,
        halt: Callable[[str], None],
        observe: Callable[[str], None],
        take_over: Callable[[str], None],
        every: float = SYNC_SECONDS,
    ) -> None:
        self._places = places
        self._run = runner
        self._endpoints = endpoints
        self._releases = releases
        self._engine = engine
        self._halt = halt  # stop a version this server runs (and give its claim up)
        self._observe = observe  # save the state a local version's replicas show
        self._take_over = take_over  # start a version this server just claimed
        self._every = every
        self._free: set[str] = set()  # live versions no one held at the last sync
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Sync now (a request named an endpoint this gateway has no route to)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="kaon-endpoints", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._every)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.sync_once()
            except Exception:  # a database hiccup: again at the next sync
                log.warning("endpoint sync failed", exc_info=True)
            self._stop.wait(MIN_GAP)  # pokes never make it busier than this

    def sync_once(self) -> None:
        me = self._places.me
        with self._engine.lock:  # no traffic change of this server in between
            rows = {e.name: e for e in self._endpoints.list_endpoints()}
            releases = self._releases.list_releases()
            held = self._places.holders()
            for name in self._run.local():
                row = rows.get(name)
                owner = held.get(name, me)
                if row is None or not row.live or owner != me:
                    self._halt(name)  # killed or drained elsewhere, or lost to another server
                    continue
                if name not in held:
                    self._places.claim(name)  # the claim vanished (a database reset): again
                self._observe(name)
                status = self._run.status(name)
                self._places.listening(name, status.addresses if status else ())
            for name, owner in held.items():  # claimed here, never ran: its build failed
                row = rows.get(name)
                if owner == me and not self._run.routed(name) and (row is None or not row.live):
                    self._places.release(name)
            free = {n for n in _wanted(releases, rows) if n not in held}
            for name in sorted(free & self._free):  # unclaimed at two syncs in a row
                if not self._run.routed(name) and self._places.claim(name):
                    log.info("endpoint version %s runs nowhere: starting it here", name)
                    self._take_over(name)
            self._free = free
            self._engine.republish(releases, list(rows.values()))
            local = set(self._run.local())
        self._run.place_remote(self._places.remote(rows, held, local))


def _wanted(releases: list[Release], rows: Mapping[str, Endpoint]) -> set[str]:
    """The live versions some release's traffic (or pending change) needs running."""
    labels = {
        r.name: set(r.traffic.versions) | set(r.pending.versions if r.pending else ())
        for r in releases
    }
    return {
        e.name
        for e in rows.values()
        if e.live and e.version_label in labels.get(e.release_name, set())
    }
