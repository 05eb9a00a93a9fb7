"""An endpoint's run step: its replicas (through the Replicas port), the gateway's routes to
them, and the endpoint state their health shows."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

from kaon.core.endpoints import Batching, Endpoint, EndpointFailure, EndpointState
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


@dataclass(frozen=True)
class Choice:
    """The gateway's pick for one request: the version that answers, and the shadow version
    the request is mirrored to (its answer recorded, not returned), if any."""

    route: Route
    shadow: Route | None = None


class EndpointRunner:
    """The replicas of running endpoints and the routes to them; thread-safe."""

    def __init__(self, replicas: Replicas, hidden: tuple[Path, ...] = ()) -> None:
        self._replicas = replicas
        self._hidden = hidden  # what user code must not see (the platform's own files)
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()

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
        self._replicas.stop_all()

    def routed(self, name: str) -> bool:
        return name in self._routes

    def route(self, name: str) -> Route | None:
        """The gateway's fast path: no database access."""
        route = self._routes.get(name)
        if route is None:
            return None
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
