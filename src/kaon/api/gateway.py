"""The prediction gateway: a raw ASGI layer in front of the API (no routing framework on the
hot path). For any first path segment the serving service resolves — a release (`petset`,
its traffic picks the version), a version (`petset-c517ec`) or a wave-1 name
(`serve-<ws>-<hex>`) — it serves

    POST /<name>/invocations, GET /<name>/ping, POST /<name>/feedback    kaos (kaon.api.kaos)
    POST [/seldon/<ns>]/<name>/api/v0.1|v1.0/predictions|feedback       Seldon (kaon.api.seldongate)
    /v2/...                  Open Inference Protocol v2 (kaon.api.oipgate)
    GET  /metrics            Prometheus: per endpoint, per release and version, shadows
    /<notebook>/...          a notebook's JupyterLab, HTTP and websockets (kaon.api.notebookgate;
                             one another server runs: through its gateway, kaon.api.notebookhop)

With several servers, a version another server runs is answered through it
(kaon.services.endpointsync; `POST /_kaon/replica/<version>` between the servers).

Reserved names (kaon.core.releases.RESERVED: the API's `/v1`, `/docs`, ...) never reach an
endpoint; a name that does not resolve goes to the API unless its path is an endpoint's
(then 404 or 503 saying why: kaon.api.gatecore.unrouted). Requests go round-robin to the
answering version's ready replicas (kaon.api.forwarding), mirrored to the release's shadow
version if it has one (kaon.api.shadow). Every answer carries X-Kaon-Model-Id,
X-Kaon-Version and X-Request-Id. Endpoints answer without the API token, like kaos', unless
deployed with --auth: then predictions and feedback need `Authorization: Bearer <token>` of a
user or job that may read the endpoint's workspace; health probes stay open.
"""

from __future__ import annotations

from kaon.api.feedback import FeedbackLimits
from kaon.api.gatecore import GatewayCore, unrouted
from kaon.api.kaos import ACTIONS, KaosRoutes
from kaon.api.notebookgate import NotebookGate
from kaon.api.notebookhop import NotebookHop
from kaon.api.oipgate import OipRoutes
from kaon.api.ratehistory import RateHistory
from kaon.api.replies import ASGIApp, Message, Receive, Scope, Send, reply
from kaon.api.seldongate import SeldonRoutes, seldon_path
from kaon.core.releases import RESERVED
from kaon.wiring import Platform

__all__ = ["MAX_BODY", "ASGIApp", "Gateway", "Message", "Receive", "Scope", "Send", "unrouted"]

MAX_BODY = 5 * 1024 * 1024
_METRICS_TYPE = b"text/plain; version=0.0.4"


class Gateway:
    def __init__(
        self,
        platform: Platform,
        inner: ASGIApp,
        max_body: int = MAX_BODY,
        feedback: FeedbackLimits | None = None,
    ) -> None:
        self._inner = inner
        self._core = GatewayCore(platform, max_body, feedback or FeedbackLimits())
        self._kaos = KaosRoutes(self._core)
        self._seldon = SeldonRoutes(self._core)
        self._oip = OipRoutes(self._core)
        self.rates = RateHistory(self._core.forwarder.registry)  # GET /v1/endpoints/<e>/rates
        self._notebooks = NotebookGate()  # /<notebook>/...: JupyterLab (kaon.api.notebookgate)
        self._hop = NotebookHop(platform.notebooks, platform.cluster.id)  # another server's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._inner(scope, self._closing(receive), send)
            return
        if scope["type"] == "http":
            self.rates.start()  # on the serving loop, once
        path: str = scope.get("path", "")
        first, _, tail = path[1:].partition("/")
        gate = self._core.platform.notebooks.gate(first)
        if gate is not None:
            await self._notebooks(first, gate, scope, receive, send)
        elif scope["type"] != "http":
            await self._elsewhere(first, scope, receive, send)
        elif first == "v2":
            await self._oip(tail.split("/"), scope, receive, send)
        elif first == "metrics" and not tail:
            await reply(send, 200, self._core.forwarder.metrics(), _METRICS_TYPE)
        elif first == "seldon":
            parts = tail.split("/")
            if len(parts) >= 2 and parts[1] == "api":  # /seldon/<name>/api/...: no namespace
                await self._seldon(parts[0], None, parts[1:], scope, receive, send)
            elif len(parts) >= 2:
                await self._seldon(parts[1], parts[0], parts[2:], scope, receive, send)
            else:
                await self._inner(scope, receive, send)
        elif first == "_kaon":  # between the servers of one platform
            await self._core.hopped(tail, scope, receive, send)
        elif not first or first in RESERVED:
            await self._inner(scope, receive, send)
        else:
            await self._endpoint(first, tail, scope, receive, send)

    async def _endpoint(
        self, name: str, tail: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        rest = tail.split("/")
        if rest[0] == "api" and seldon_path(rest):
            await self._seldon(name, None, rest, scope, receive, send)
            return
        choice = self._core.resolve(name)
        if choice is not None:
            await self._kaos(name, choice, tail, scope, receive, send)
        elif name.startswith("serve-") or tail in ACTIONS:
            await self._core.unrouted(name, send)  # an endpoint's path: say why it is not here
        else:
            await self._elsewhere(name, scope, receive, send)

    async def _elsewhere(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A notebook another server runs (a database read: never on an endpoint's path), else
        the API."""
        away = None if name in RESERVED else await self._hop.find(name)
        if away is not None:
            await self._hop(away, scope, receive, send)
        else:
            await self._inner(scope, receive, send)

    async def close(self) -> None:
        await self.rates.close()
        await self._notebooks.close()
        await self._hop.close()
        await self._core.close()

    def _closing(self, receive: Receive) -> Receive:
        """The lifespan's `receive`: at shutdown the gateway closes its connections to the
        replicas (pooled, open until then) before the app below it shuts down."""

        async def closing() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                await self.close()
            return message

        return closing
