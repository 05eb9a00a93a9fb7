"""An endpoint's run step: its replicas (through the Replicas port), the gateway's routes to
them, and the endpoint state their health shows; and, in memory, each release's traffic so
that the gateway resolves a name to the version that answers without the database. With
several servers, the routes to the versions other servers run sit beside this server's own
(`place_remote`, refreshed by kaon.services.endpointsync): this server's are looked up first."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from kaon.core.endpoints import Batching, Endpoint, EndpointFailure, EndpointState
from kaon.core.releases import Traffic
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment, LogSink
from kaon.ports.replicas import Replicas, ReplicaSpec, ReplicaStatus

GIVE_UP_AFTER = 3  # restarts without any ready replica before the state says FAILURE


@dataclass(frozen=True)
class Route:
    """What the gateway needs to forward a request to an endpoint."""

    name: str
    workspace: str
    model_id: str | None
    addresses: tuple[str, ...]  # of the ready replicas, as URLs (kaon.ports.replicas)
    batch: Batching | None
    timeout: float
    auth: bool = False  # predictions need a token that may read `workspace` (--auth)
    release: str = ""  # the named endpoint (kaon.core.releases); "" = `name`
    version: str = ""  # the version label answers carry (X-Kaon-Version, Seldon meta)
    via: str = ""  # another server runs it: predictions go through that server's gateway


@dataclass(frozen=True)
class Choice:
    """The gateway's pick for one request: the version that answers, and the shadow version
    the request is mirrored to (its answer recorded, not returned), if any."""

    route: Route
    shadow: Route | None = None


@dataclass(frozen=True)
class Table:
    """A release as the gateway sees it: its traffic, and the row of each version label."""

    name: str
    workspace: str
    traffic: Traffic
    rows: Mapping[str, str]  # version label -> endpoint (row) name


class EndpointRunner:
    """The replicas of running endpoints and the routes to them; thread-safe."""

    def __init__(self, replicas: Replicas, hidden: tuple[Path, ...] = ()) -> None:
        self._replicas = replicas
        self._hidden = hidden  # what user code must not see (the platform's own files)
        self._routes: dict[str, Route] = {}
        self._tables: dict[str, Table] = {}
        self._remote: dict[str, Route] = {}  # versions other servers run (replaced whole)
        self._lock = threading.Lock()
        self._random = random.Random()

    def run(
        self,
        endpoint: Endpoint,
        code: TreeRef,
        env: Environment,
        batch: Batching | None,
        log: LogSink,
    ) -> None:
        """Route `endpoint` and start its replicas running `code` in `env`."""
        with self._lock:
            self._routes[endpoint.name] = Route(
                endpoint.name,
                endpoint.workspace,
                endpoint.model_id,
                (),
                batch,
                endpoint.timeout,
                endpoint.auth,
                endpoint.release_name,
                endpoint.version_label,
            )
        spec = ReplicaSpec(
            name=endpoint.name,
            code=code,
            module=endpoint.module,
            env=env,
            folder=endpoint.folder,
            replicas=endpoint.replicas,
            variables=dict(endpoint.variables),  # --env (names checked not to collide)
            hidden=self._hidden,
        )
        self._replicas.start(spec, log)

    def stop(self, name: str) -> None:
        with self._lock:
            self._routes.pop(name, None)
        self._replicas.stop(name)

    def stop_all(self) -> None:
        with self._lock:
            self._routes.clear()
            self._tables.clear()
            self._remote = {}
        self._replicas.stop_all()

    def publish(self, table: Table) -> None:
        """Resolve release `table.name` by its traffic from now on."""
        self._tables[table.name] = table

    def table(self, name: str) -> Table | None:
        return self._tables.get(name)

    def resolve(self, name: str, version: str | None = None) -> tuple[Route, Route | None] | None:
        """The route that answers a request to `name` (a release: drawn by its traffic, with
        its shadow's route; else a version's row) pinned to `version` (a label or a model id)
        if given. None: no such route, or that version is not routed."""
        table = self._tables.get(name)
        if table is None:
            route = self.route(name)
            if route is None or version not in (None, route.version, route.model_id):
                return None
            return route, None
        if version is not None:
            return self._pinned(table, version)
        traffic = table.traffic
        label = traffic.main if len(traffic.serving) == 1 else traffic.pick(self._random.random())
        route = self.route(table.rows.get(label, ""))
        if route is None:
            return None
        shadow = self.route(table.rows.get(traffic.shadow, "")) if traffic.shadow else None
        return route, shadow

    def _pinned(self, table: Table, version: str) -> tuple[Route, Route | None] | None:
        row = table.rows.get(version)
        if row is not None:
            route = self.route(row)
            return None if route is None else (route, None)
        for label in table.traffic.versions + tuple(table.rows):  # a model id: serving first
            route = self.route(table.rows.get(label, ""))
            if route is not None and route.model_id == version:
                return route, None
        return None

    def routed(self, name: str) -> bool:
        """Whether this server runs `name`'s replicas."""
        return name in self._routes

    def local(self) -> list[str]:
        """The versions this server runs."""
        with self._lock:
            return list(self._routes)

    def place_remote(self, routes: dict[str, Route]) -> None:
        """The routes to the versions other servers run, from now on (all of them)."""
        self._remote = routes

    def route(self, name: str) -> Route | None:
        """The gateway's fast path: no database access (this server's replicas first)."""
        route = self._routes.get(name)
        if route is None:
            return self._remote.get(name)
        status = self._replicas.status(name)
        addresses = status.addresses if status else ()
        if addresses != route.addresses:
            route = replace(route, addresses=addresses)
            self._routes[name] = route
        return route

    def status(self, name: str) -> ReplicaStatus | None:
        return self._replicas.status(name)

    def recycle(self, name: str, address: str) -> bool:
        return self._replicas.recycle(name, address)

    def observed(self, endpoint: Endpoint) -> Endpoint:
        """`endpoint` in the state its replicas show now (itself when nothing changed)."""
        if endpoint.state is EndpointState.KILLED or endpoint.build_failed:
            return endpoint
        if not self.routed(endpoint.name):
            return endpoint
        status = self._replicas.status(endpoint.name)
        if status is None:
            return endpoint
        if status.ready > 0:
            state, reason = EndpointState.RUNNING, ""
        elif status.restarts >= GIVE_UP_AFTER:
            why = status.last_error or "replicas keep failing"
            if endpoint.state is EndpointState.FAILURE and endpoint.reason == why:
                return endpoint
            return endpoint.failed(EndpointFailure.CRASH, why)
        elif status.restarts > 0:
            state, reason = EndpointState.RESTARTING, status.last_error
        else:
            state, reason = EndpointState.STARTING, ""
        if state is endpoint.state and reason == endpoint.reason:
            return endpoint
        return endpoint.moved(state, reason=reason)
