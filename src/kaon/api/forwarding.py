"""Predictions from the gateway to an endpoint's replicas: round-robin over the ready ones (or
through its batcher), within the endpoint's timeout (a replica that held a request past it is
recycled), counted and timed for /metrics. A version another server runs on Unix sockets
(`Route.via`) is reached through that server's gateway (`POST <via>/_kaon/replica/<version>`,
kaon.core.placement), the caller's token passed on for an --auth endpoint."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kaon.api.batching import Batcher, ReplicaError, ReplicaPool
from kaon.api.replies import err_body
from kaon.core.placement import FORWARDED, REPLICA_PATH
from kaon.services.endpointrun import Route

if TYPE_CHECKING:
    import httpx

Recycle = Callable[[str, str], bool]  # (endpoint, replica address): restart that replica

# the token an --auth endpoint's request was admitted with (kaon.api.gatecore.admitted): what
# a hop to the server running the version sends on
ADMITTED: contextvars.ContextVar[str] = contextvars.ContextVar("kaon_admitted", default="")
HOP_MARGIN = 5.0  # s a hop waits beyond the endpoint's timeout (the owner answers 504 itself)
ASK_TIMEOUT = 3.0  # s another server has to say whether it gave an answer (feedback lookups)


class Forwarder:
    def __init__(self, recycle: Recycle, server: str = "") -> None:
        self._recycle = recycle
        self._server = server  # this server's id: X-Kaon-Forwarded on a hop
        self._hops: httpx.AsyncClient | None = None
        self._pool = ReplicaPool()
        self._batchers: dict[str, Batcher] = {}
        self._rr = itertools.count()
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "kaon_requests",
            "Predictions by endpoint and status",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self._errors = Counter(
            "kaon_request_errors",
            "Failed predictions by endpoint",
            ["endpoint"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "kaon_request_seconds",
            "Prediction latency through the gateway",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def metrics(self) -> bytes:
        return generate_latest(self.registry)

    async def predict(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        started = time.perf_counter()
        status, out = await self._forward(route, content_type, body)
        self._latency.labels(route.name).observe(time.perf_counter() - started)
        self._requests.labels(route.name, str(status)).inc()
        if status >= 400:
            self._errors.labels(route.name).inc()
        return status, out

    async def relay(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        """A prediction another server's gateway sent here (it counts it in its /metrics)."""
        return await self._forward(route, content_type, body)

    async def close(self) -> None:
        await self._pool.close()
        if self._hops is not None:
            await self._hops.aclose()

    async def _forward(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        if route.via:  # its server knows best whether a replica is ready (placed later)
            return await self._hop(route, content_type, body)
        if not route.addresses:
            return 503, err_body(
                f"endpoint {route.name} has no ready replica: see `kaon serve list` and "
                f"`kaon serve logs -e {route.name}`"
            )
        call: Awaitable[tuple[int, bytes]]
        try:
            if route.batch is not None:
                batcher = self._batchers.get(route.name)
                if batcher is None:
                    batcher = self._batchers[route.name] = Batcher(self._pool, route.batch)
                call = batcher.submit(route, content_type, body)
            else:
                call = self._pool.predict(route.addresses, next(self._rr), content_type, body)
            return await asyncio.wait_for(call, route.timeout)
        except TimeoutError:
            loop = asyncio.get_running_loop()
            for address in self._pool.take_stuck():  # a hung predict: restart that replica
                await loop.run_in_executor(None, self._recycle, route.name, address)
            return 504, err_body(
                f"endpoint {route.name}: no prediction within {route.timeout:g} s "
                f"(see `kaon serve logs -e {route.name}`)"
            )
        except ReplicaError as exc:
            return 503, err_body(f"endpoint {route.name}: {exc}")

    async def ask(self, url: str) -> tuple[int, bytes]:
        """GET `url` of another server's gateway (a hop: X-Kaon-Forwarded, the admitted
        token passed on); (0, b"") when it does not answer within a few seconds."""
        headers = {FORWARDED.decode(): self._server}
        token = ADMITTED.get()
        if token:
            headers["authorization"] = f"Bearer {token}"
        import httpx  # on first use: httpx (~40 ms) is no part of a server's start

        try:
            answer = await self._client().get(url, headers=headers, timeout=ASK_TIMEOUT)
        except httpx.HTTPError:
            return 0, b""
        return answer.status_code, answer.content

    def _client(self) -> httpx.AsyncClient:
        if self._hops is None:
            import httpx  # on first use: httpx (~40 ms) is no part of a server's start

            self._hops = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        return self._hops

    async def _hop(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        """Through the gateway of the server running `route` (its answer as it gives it)."""
        headers = {"content-type": content_type, FORWARDED.decode(): self._server}
        token = ADMITTED.get()
        if token:
            headers["authorization"] = f"Bearer {token}"
        url = f"{route.via}{REPLICA_PATH}{route.name}"
        import httpx  # on first use: httpx (~40 ms) is no part of a server's start

        try:
            answer = await asyncio.wait_for(
                self._client().post(url, content=body, headers=headers), route.timeout + HOP_MARGIN
            )
        except TimeoutError:
            return 504, err_body(
                f"endpoint {route.name}: no prediction within {route.timeout:g} s from the "
                f"server running it ({route.via})"
            )
        except httpx.HTTPError as exc:
            return 503, err_body(
                f"endpoint {route.name}: the server running it ({route.via}) did not answer "
                f"({type(exc).__name__}); another server takes it over if it is gone: retry"
            )
        return answer.status_code, answer.content
