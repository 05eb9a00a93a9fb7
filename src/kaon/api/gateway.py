"""The prediction gateway: a raw ASGI layer in front of the API (no routing framework on the
hot path). Per endpoint it serves

    POST /<endpoint>/invocations      kaos: the body goes to predict(payload, ctx) as is
    GET  /<endpoint>/ping             200 when a replica is ready
    POST /<endpoint>/feedback         {request_id, truth | reward}, stored as versioned data
    /v2/...                           Open Inference Protocol v2 (health, metadata, infer)
    GET  /metrics                     Prometheus: requests, latency, errors per endpoint

Requests go round-robin to the endpoint's ready replicas over pooled Unix-socket connections
(kaon.runtime.protocol); a replica that fails is skipped for the next one. Every response
carries X-Kaon-Model-Id and X-Request-Id. Endpoints answer without the API token, like kaos'
(the platform listens on loopback unless told otherwise), unless deployed with --auth: then
invocations, feedback and the OIP model routes (metadata, infer) need `Authorization: Bearer
<token>` of a user or job that may read the endpoint's workspace (401 without a valid token,
404 without a role there), the token looked up on every request; the health probes (`ping`, OIP
`ready`, `/v2/health/*`) stay open, without the model id, for load balancers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from kaon.api.batching import Batcher, ReplicaError, ReplicaPool
from kaon.api.feedback import FeedbackGate, FeedbackLimits
from kaon.api.oip import infer_payload, infer_response, metadata
from kaon.app import Platform
from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import KaonError, PermissionDenied
from kaon.core.users import Action
from kaon.services.endpointrun import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 5 * 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024  # larger bodies get their 413 before they are read
REMEMBERED = 100_000  # recent requests feedback can refer to
JSON_TYPE = b"application/json"
_FED = "_feedback"  # marks a remembered request whose feedback was taken


class TooLarge(Exception):
    pass


class Gateway:
    def __init__(
        self,
        platform: Platform,
        inner: ASGIApp,
        max_body: int = MAX_BODY,
        feedback: FeedbackLimits | None = None,
    ) -> None:
        self._platform = platform
        self._inner = inner
        self._max_body = max_body
        self._gate = FeedbackGate(feedback or FeedbackLimits())
        self._pool = ReplicaPool()
        self._batchers: dict[str, Batcher] = {}
        self._rr = itertools.count()
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
        elif path.startswith("/serve-"):
            name, _, action = path[1:].partition("/")
            await self._endpoint(name, action, scope, receive, send)
        elif path.startswith("/v2/"):
            await self._oip(path[4:].split("/"), scope, receive, send)
        elif path == "/metrics":
            await _reply(send, 200, generate_latest(self.registry), b"text/plain; version=0.0.4")
        else:
            await self._inner(scope, receive, send)

    async def close(self) -> None:
        await self._pool.close()

    # kaos routes -------------------------------------------------------------------------
    async def _endpoint(
        self, name: str, action: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        route = self._platform.serving.route(name)
        if route is None:
            await self._unrouted(name, send)
            return
        method = scope["method"]
        if action == "ping" and method == "GET":
            ok = bool(route.addresses)
            shown = None if route.auth else route  # a probe: no model id when guarded
            await _json(send, 200 if ok else 503, {"endpoint": name, "ready": ok}, shown)
        elif route.auth and not await self._admitted(route, scope, receive, send):
            return
        elif action == "invocations" and method == "POST":
            try:
                body = await self._body(scope, receive)
            except TooLarge:
                await _error(send, 413, f"request body larger than {self._max_body} bytes")
                return
            ctype = (
                _header(scope, b"content-type").split(b";")[0].strip()
                or b"application/octet-stream"
            )
            status, out = await self._predict(route, ctype.decode("latin-1"), body)
            await _reply(send, status, out, JSON_TYPE, route, self._remember(route, out, status))
        elif action == "feedback" and method == "POST":
            await self._feedback(route, scope, receive, send)
        else:
            await _error(
                send,
                405 if action in ("invocations", "ping", "feedback") else 404,
                f"use POST /{name}/invocations, GET /{name}/ping or POST /{name}/feedback",
            )

    async def _admitted(self, route: Route, scope: Scope, receive: Receive, send: Send) -> bool:
        """For an --auth endpoint: whether the request's token may read its workspace; if
        not, the request is answered (401, 403 or 404) and its body drained."""
        scheme, _, given = _header(scope, b"authorization").decode("latin-1").partition(" ")
        token = given.strip() if scheme.lower() == "bearer" else ""
        loop = asyncio.get_running_loop()
        try:
            if not token:
                raise PermissionDenied("no token")
            await loop.run_in_executor(None, self._authorize, token, route.workspace)
            return True
        except KaonError as exc:
            if scope["method"] == "POST":  # read to the end, so the client sees the answer
                with contextlib.suppress(TooLarge):
                    await self._body(scope, receive)
            status = exc.http_status
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else None
            if status == 401:
                why = (
                    "none was sent" if not token else "the one sent is unknown, expired or revoked"
                )
                message = (
                    f"endpoint {route.name} was deployed with --auth: send `Authorization: "
                    f"Bearer <token>` of a user (or job) that may read workspace "
                    f"{route.workspace!r}; {why}"
                )
            else:
                message = f"endpoint {route.name}: {exc.message}"
            await _error(send, status, message, extra)
            return False

    def _authorize(self, token: str, workspace: str) -> None:
        users = self._platform.users
        users.check(users.authenticate(token), Action.READ, workspace)

    async def _unrouted(self, name: str, send: Send) -> None:
        """No route: 404 if there is no such endpoint (or it was killed), 503 saying where to
        look if it is still building or its build failed."""
        loop = asyncio.get_running_loop()
        try:
            endpoint = await loop.run_in_executor(None, self._platform.serving.lookup, name)
        except KaonError:
            endpoint = None
        status, message = unrouted(name, endpoint)
        await _error(send, status, message)

    async def _predict(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        started = time.perf_counter()
        status, out = await self._forward(route, content_type, body)
        self._latency.labels(route.name).observe(time.perf_counter() - started)
        self._requests.labels(route.name, str(status)).inc()
        if status >= 400:
            self._errors.labels(route.name).inc()
        return status, out

    async def _forward(self, route: Route, content_type: str, body: bytes) -> tuple[int, bytes]:
        if not route.addresses:
            return 503, _err_body(
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
                await loop.run_in_executor(
                    None, self._platform.serving.recycle, route.name, address
                )
            return 504, _err_body(
                f"endpoint {route.name}: no prediction within {route.timeout:g} s "
                f"(see `kaon serve logs -e {route.name}`)"
            )
        except ReplicaError as exc:
            return 503, _err_body(f"endpoint {route.name}: {exc}")

    def _remember(self, route: Route, out: bytes, status: int) -> str:
        request_id = uuid.uuid4().hex
        if status == 200:
            self._recent[request_id] = {
                "endpoint": route.name,
                "model_id": route.model_id,
                "answered": time.time(),
                "prediction": out[:4096].decode("utf-8", "replace"),
            }
            if len(self._recent) > REMEMBERED:
                self._recent.popitem(last=False)
        return request_id

    async def _feedback(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self._gate.limits
        wait = self._gate.admit(route.name)
        if wait:
            await _error(
                send,
                429,
                f"endpoint {route.name} takes at most {limits.rate_text} feedbacks "
                f"(KAON_FEEDBACK_RATE): retry in {wait:g} s",
                [(b"retry-after", str(int(wait)).encode())],
            )
            return
        try:
            doc = json.loads(await self._body(scope, receive, limits.max_bytes))
        except TooLarge:
            await _error(
                send,
                413,
                f"a feedback record takes at most {limits.max_bytes} bytes "
                "(KAON_FEEDBACK_MAX_BYTES)",
            )
            return
        except ValueError:
            await _error(send, 400, 'feedback must be a JSON object {"request_id", "truth"}')
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("request_id"), str):
            await _error(send, 400, 'feedback needs "request_id" (from the X-Request-Id header)')
            return
        if "truth" not in doc and "reward" not in doc:
            await _error(send, 400, 'feedback needs "truth" or "reward"')
            return
        rid = doc["request_id"]
        seen = self._recent.get(rid)
        if seen is None or seen["endpoint"] != route.name:
            await _error(send, 404, f"unknown request_id {rid!r} for {route.name}")
            return
        if seen.get(_FED):
            await _error(send, 409, f"request {rid} already has its feedback (one per request)")
            return
        seen[_FED] = True  # taken before the commit: a concurrent second one is refused too
        record = {k: v for k, v in seen.items() if k != _FED}
        record |= {k: doc[k] for k in ("truth", "reward") if k in doc}
        record |= {"request_id": rid, "received": time.time()}
        loop = asyncio.get_running_loop()
        try:
            commit = await loop.run_in_executor(
                None, self._platform.serving.feedback, route, record
            )
        except KaonError as exc:
            seen.pop(_FED, None)
            await _error(send, exc.http_status, exc.message)
            return
        await _json(send, 201, {"request_id": rid, "commit": commit}, route)

    # Open Inference Protocol v2 ----------------------------------------------------------
    async def _oip(self, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if parts[:1] == ["health"] and method == "GET":
            await _json(send, 200, {"live": True} if parts[1:] == ["live"] else {"ready": True})
            return
        if len(parts) < 2 or parts[0] != "models":
            await _error(send, 404, "unknown Open Inference Protocol path")
            return
        name, rest = parts[1], parts[2:]
        route = self._platform.serving.route(name)
        if route is None:
            await self._unrouted(name, send)
            return
        if len(rest) >= 2 and rest[0] == "versions":
            rest = rest[2:]
        if rest == ["ready"] and method == "GET":
            ready = bool(route.addresses)
            shown = None if route.auth else route  # a probe: no model id when guarded
            await _json(send, 200 if ready else 400, {"name": name, "ready": ready}, shown)
        elif route.auth and not await self._admitted(route, scope, receive, send):
            return
        elif not rest and method == "GET":
            await _json(send, 200, metadata(route), route)
        elif rest == ["infer"] and method == "POST":
            try:
                request = json.loads(await self._body(scope, receive))
                payload = infer_payload(request)
            except TooLarge:
                await _error(send, 413, f"request body larger than {self._max_body} bytes")
                return
            except ValueError as exc:
                await _error(send, 400, f"invalid inference request: {exc}")
                return
            status, out = await self._predict(
                route, "application/json", json.dumps(payload).encode()
            )
            if status == 200:
                out = json.dumps(infer_response(route, request, json.loads(out))).encode()
            await _reply(send, status, out, JSON_TYPE, route, self._remember(route, out, status))
        else:
            await _error(send, 404, "unknown Open Inference Protocol path")

    async def _body(self, scope: Scope, receive: Receive, limit: int | None = None) -> bytes:
        limit = self._max_body if limit is None else limit
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > DRAIN_LIMIT:
            raise TooLarge  # not worth reading: the connection is closed after the answer
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            if not message.get("more_body"):
                if size > limit:  # read to the end, so the client sees the 413
                    raise TooLarge
                return b"".join(chunks)


def unrouted(name: str, endpoint: Endpoint | None) -> tuple[int, str]:
    """The status and error of a request to an endpoint that has no route."""
    if endpoint is None:
        return 404, f"no endpoint '{name}' here: see `kaon serve list`"
    if endpoint.state is EndpointState.KILLED:
        return 404, f"endpoint {name} was killed: see `kaon serve list --all`"
    logs = f"`kaon serve build-logs -e {name}`"
    if endpoint.state is EndpointState.FAILURE and endpoint.auth:  # its reason: for its users
        return 503, f"endpoint {name} did not start (see {logs})"
    if endpoint.state is EndpointState.FAILURE:
        lines = [ln.strip() for ln in endpoint.reason.splitlines() if ln.strip()][:2]
        why = " ".join(lines).rstrip(":") or "failed"
        return 503, f"endpoint {name} did not start: {why} (see {logs})"
    return 503, f"endpoint {name} is {endpoint.state.value}, not ready yet (see {logs})"


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return b""


def _err_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def _error(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _reply(send, status, _err_body(message), JSON_TYPE, extra=extra)


async def _json(send: Send, status: int, doc: Any, route: Route | None = None) -> None:
    await _reply(send, status, json.dumps(doc).encode(), JSON_TYPE, route)


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    route: Route | None = None,
    request_id: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    if route is not None:
        headers.append((b"x-kaon-model-id", (route.model_id or "").encode()))
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
