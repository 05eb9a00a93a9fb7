"""The prediction gateway: a raw ASGI layer in front of the API (no routing framework on the
hot path). Per endpoint it serves

    POST /<endpoint>/invocations      kaos: the body goes to predict(payload, ctx) as is
    GET  /<endpoint>/ping             200 when a replica is ready
    POST /<endpoint>/feedback         {request_id, truth | reward}, stored as versioned data
    /v2/...                           Open Inference Protocol v2 (health, metadata, infer)
    GET  /metrics                     Prometheus: requests, latency, errors per endpoint

Requests go round-robin to the endpoint's ready replicas (kaon.api.forwarding) over pooled
connections to their addresses (kaon.api.batching: unix:// or tcp://, kaon.runtime.protocol);
a replica that fails is skipped for the next one. Every response
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
import json
import time
import uuid

from kaon.api.feedback import Answered, FeedbackGate, FeedbackLimits, RecentAnswers, decoded
from kaon.api.forwarding import Forwarder
from kaon.api.oip import infer_payload, infer_response, metadata
from kaon.api.replies import (
    JSON_TYPE,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    TooLarge,
    error,
    header,
    json_reply,
    read_body,
    reply,
)
from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import KaonError, PermissionDenied
from kaon.core.feedback import Feedback
from kaon.core.users import Action
from kaon.services.endpointrun import Route
from kaon.wiring import Platform

__all__ = ["MAX_BODY", "ASGIApp", "Gateway", "Message", "Receive", "Scope", "Send", "unrouted"]

MAX_BODY = 5 * 1024 * 1024


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
        self._forwarder = Forwarder(platform.serving.recycle)
        self._recent = RecentAnswers()  # what feedback refers to (kaon.api.feedback)

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
            await reply(send, 200, self._forwarder.metrics(), b"text/plain; version=0.0.4")
        else:
            await self._inner(scope, receive, send)

    async def close(self) -> None:
        await self._forwarder.close()

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
            await json_reply(send, 200 if ok else 503, {"endpoint": name, "ready": ok}, shown)
        elif route.auth and not await self._admitted(route, scope, receive, send):
            return
        elif action == "invocations" and method == "POST":
            try:
                body = await self._body(scope, receive)
            except TooLarge:
                await error(send, 413, f"request body larger than {self._max_body} bytes")
                return
            ctype = (
                header(scope, b"content-type").split(b";")[0].strip() or b"application/octet-stream"
            )
            status, out = await self._forwarder.predict(route, ctype.decode("latin-1"), body)
            rid = self._remember(route, out, status, body)
            await reply(send, status, out, JSON_TYPE, route, rid)
        elif action == "feedback" and method == "POST":
            await self._feedback(route, scope, receive, send)
        else:
            await error(
                send,
                405 if action in ("invocations", "ping", "feedback") else 404,
                f"use POST /{name}/invocations, GET /{name}/ping or POST /{name}/feedback",
            )

    async def _admitted(self, route: Route, scope: Scope, receive: Receive, send: Send) -> bool:
        """For an --auth endpoint: whether the request's token may read its workspace; if
        not, the request is answered (401, 403 or 404) and its body drained."""
        scheme, _, given = header(scope, b"authorization").decode("latin-1").partition(" ")
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
            await error(send, status, message, extra)
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
        await error(send, status, message)

    def _remember(self, route: Route, out: bytes, status: int, body: bytes | None = None) -> str:
        request_id = uuid.uuid4().hex
        if status == 200:
            release, version = route.release or route.name, route.version or "1"
            answer = Answered(route.name, release, version, route.model_id, time.time(), body, out)
            self._recent.add(request_id, answer)
        return request_id

    async def _feedback(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self._gate.limits
        wait = self._gate.admit(route.name)
        if wait:
            await error(
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
            await error(
                send,
                413,
                f"a feedback record takes at most {limits.max_bytes} bytes "
                "(KAON_FEEDBACK_MAX_BYTES)",
            )
            return
        except ValueError:
            await error(send, 400, 'feedback must be a JSON object {"request_id", "truth"}')
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("request_id"), str):
            await error(send, 400, 'feedback needs "request_id" (from the X-Request-Id header)')
            return
        if "truth" not in doc and "reward" not in doc:
            await error(send, 400, 'feedback needs "truth" or "reward"')
            return
        rid = doc["request_id"]
        seen = self._recent.get(rid)
        if seen is None or seen.release != (route.release or route.name):
            await error(send, 404, f"unknown request_id {rid!r} for {route.name}")
            return
        if seen.fed:
            await error(send, 409, f"request {rid} already has its feedback (one per request)")
            return
        reward = doc.get("reward")
        if reward is not None and (isinstance(reward, bool) or not isinstance(reward, int | float)):
            await error(send, 400, f'feedback "reward" must be a number, got {reward!r}')
            return
        seen.fed = True  # taken before the commit: a concurrent second one is refused too
        feedback = Feedback(
            request_id=rid,
            endpoint=seen.release,
            version=seen.version,
            model_id=seen.model_id,
            received=time.time(),
            request=decoded(seen.request),
            response=decoded(seen.response),
            reward=None if reward is None else float(reward),
            truth=doc.get("truth"),
            protocol=seen.protocol,
        )
        loop = asyncio.get_running_loop()
        try:
            commit = await loop.run_in_executor(
                None, self._platform.serving.feedback, route, feedback
            )
        except KaonError as exc:
            seen.fed = exc.http_status == 409  # already stored (e.g. before a restart)
            await error(send, exc.http_status, exc.message)
            return
        await json_reply(send, 201, {"request_id": rid, "commit": commit}, route)

    # Open Inference Protocol v2 ----------------------------------------------------------
    async def _oip(self, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if parts[:1] == ["health"] and method == "GET":
            await json_reply(
                send, 200, {"live": True} if parts[1:] == ["live"] else {"ready": True}
            )
            return
        if len(parts) < 2 or parts[0] != "models":
            await error(send, 404, "unknown Open Inference Protocol path")
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
            await json_reply(send, 200 if ready else 400, {"name": name, "ready": ready}, shown)
        elif route.auth and not await self._admitted(route, scope, receive, send):
            return
        elif not rest and method == "GET":
            await json_reply(send, 200, metadata(route), route)
        elif rest == ["infer"] and method == "POST":
            try:
                request = json.loads(await self._body(scope, receive))
                payload = infer_payload(request)
            except TooLarge:
                await error(send, 413, f"request body larger than {self._max_body} bytes")
                return
            except ValueError as exc:
                await error(send, 400, f"invalid inference request: {exc}")
                return
            status, out = await self._forwarder.predict(
                route, "application/json", json.dumps(payload).encode()
            )
            if status == 200:
                out = json.dumps(infer_response(route, request, json.loads(out))).encode()
            await reply(send, status, out, JSON_TYPE, route, self._remember(route, out, status))
        else:
            await error(send, 404, "unknown Open Inference Protocol path")

    async def _body(self, scope: Scope, receive: Receive, limit: int | None = None) -> bytes:
        return await read_body(scope, receive, self._max_body if limit is None else limit)


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
