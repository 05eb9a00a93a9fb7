"""What every protocol of the gateway shares: resolving a name to the version that answers
(kaon.services.serving.resolve, in memory), forwarding to it with the shadow mirrored,
remembering the answer for feedback, the --auth check, and what an unrouted name answers."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kaon.api.feedback import Answered, FeedbackGate, FeedbackLimits, RecentAnswers, decoded
from kaon.api.forwarding import ADMITTED, Forwarder
from kaon.api.replies import (
    JSON_TYPE,
    Receive,
    Scope,
    Send,
    TooLarge,
    error,
    header,
    read_body,
    reply,
    version_of,
)
from kaon.api.shadow import ShadowLog, Shadows
from kaon.api.versionmetrics import VersionMetrics
from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import KaonError, PermissionDenied
from kaon.core.feedback import Feedback
from kaon.core.placement import ANSWER_PATH, FORWARDED
from kaon.core.users import Action
from kaon.services.endpointrun import Choice, Route
from kaon.wiring import Platform

_REQUEST_ID = re.compile(r"^[0-9a-zA-Z_-]{1,128}\Z")  # what is asked of the other servers

# (send, status, message, extra headers): an error in the protocol's own shape
Fail = Callable[[Send, int, str, list[tuple[bytes, bytes]] | None], Awaitable[None]]


class GatewayCore:
    def __init__(self, platform: Platform, max_body: int, feedback: FeedbackLimits) -> None:
        self.platform = platform
        self.max_body = max_body
        self.gate = FeedbackGate(feedback)
        self.forwarder = Forwarder(platform.serving.recycle, platform.cluster.id)
        self.recent = RecentAnswers()  # what feedback refers to (kaon.api.feedback)
        self.metrics = VersionMetrics(self.forwarder.registry)
        self.shadows = Shadows(self.forwarder.predict, self.metrics, ShadowLog(self._shadow_log))

    def resolve(
        self, name: str, namespace: str | None = None, version: str | None = None
    ) -> Choice | None:
        return self.platform.serving.resolve(name, namespace, version)

    async def body(self, scope: Scope, receive: Receive, limit: int | None = None) -> bytes:
        return await read_body(scope, receive, self.max_body if limit is None else limit)

    async def predict(
        self, choice: Choice, protocol: str, content_type: str, body: bytes
    ) -> tuple[int, bytes, str]:
        """(status, the replica's JSON answer, the request id) from the version `choice`
        picked; the request is mirrored to the shadow in the background."""
        route = choice.route
        status, out = await self.forwarder.predict(route, content_type, body)
        self.metrics.answered(route, protocol, status)
        request_id = uuid.uuid4().hex
        if choice.shadow is not None:
            self.shadows.mirror(choice.shadow, content_type, body, route, (status, out), request_id)
        return status, out, request_id

    def remember(
        self, request_id: str, route: Route, protocol: str, request: bytes, response: bytes
    ) -> None:
        """Keep an answer (200) for the feedback that may refer to it."""
        release = route.release or route.name
        answer = Answered(
            route.name,
            release,
            version_of(route),
            route.model_id,
            time.time(),
            request,
            response,
            protocol,
            workspace=route.workspace,
            auth=route.auth,
        )
        self.recent.add(request_id, answer)

    def feedback(self, seen: Answered, request_id: str, **given: Any) -> Feedback:
        """The Feedback record on remembered answer `seen` (decoded bodies unless given)."""
        fields: dict[str, Any] = {
            "request": decoded(seen.request),
            "response": decoded(seen.response),
        }
        fields |= given
        return Feedback(
            request_id=request_id,
            endpoint=seen.release,
            version=seen.version,
            model_id=seen.model_id,
            received=time.time(),
            protocol=seen.protocol,
            **fields,
        )

    async def admit_feedback(self, route: Route, send: Send, fail: Fail = error) -> bool:
        """Take a token of the release's feedback rate (kaon.api.feedback); with none left,
        answer 429 with Retry-After and say False."""
        limits = self.gate.limits
        wait = self.gate.admit(route.release or route.name)
        if wait:
            await fail(
                send,
                429,
                f"endpoint {route.name} takes at most {limits.rate_text} feedbacks "
                f"(KAON_FEEDBACK_RATE): retry in {wait:g} s",
                [(b"retry-after", str(int(wait)).encode())],
            )
        return not wait

    async def unfed(
        self, route: Route, request_id: str, unknown: str, send: Send, fail: Fail = error
    ) -> Answered | None:
        """The remembered answer of this release that feedback on `request_id` is about; None
        when there is none (404 `unknown`) or it has its feedback already (409), answered."""
        seen = self.recent.get(request_id) or await self._answered_elsewhere(request_id)
        if seen is None or seen.release != (route.release or route.name):
            await fail(send, 404, unknown, None)
            return None
        if seen.fed:
            await fail(
                send, 409, f"request {request_id} already has its feedback (one per request)", None
            )
            return None
        return seen

    async def _answered_elsewhere(self, request_id: str) -> Answered | None:
        """The answer another server of the platform gave (feedback may reach any server
        behind a load balancer), kept here once found; None if no live server has it."""
        if not _REQUEST_ID.match(request_id):
            return None
        loop = asyncio.get_running_loop()
        cluster = self.platform.cluster
        servers = await loop.run_in_executor(None, cluster.servers)
        for server in servers:
            if server.id == cluster.id or not server.url:
                continue
            status, body = await self.forwarder.ask(f"{server.url}{ANSWER_PATH}{request_id}")
            if status == 200:
                try:
                    seen = Answered.from_doc(json.loads(body))
                except (ValueError, TypeError, binascii.Error):
                    continue
                self.recent.add(request_id, seen)
                return seen
        return None

    async def store(self, route: Route, seen: Answered, feedback: Feedback) -> str:
        """Commit `feedback` (off the event loop); KaonError as the service raises it."""
        seen.fed = True  # taken before the commit: a concurrent second one is refused too
        loop = asyncio.get_running_loop()
        try:
            commit: str = await loop.run_in_executor(
                None, self.platform.serving.feedback, route, feedback
            )
        except KaonError as exc:
            seen.fed = exc.http_status == 409  # already stored (e.g. before a restart)
            raise
        return commit

    async def admitted(
        self,
        route: Route,
        scope: Scope,
        receive: Receive,
        send: Send,
        fail: Fail = error,
        token_header: bytes | None = None,
    ) -> bool:
        """For an --auth endpoint: whether the request's token (`Authorization: Bearer`, or
        the protocol's own `token_header`) may read its workspace; if not, the request is
        answered (401, 403 or 404) and its body drained."""
        scheme, _, given = header(scope, b"authorization").decode("latin-1").partition(" ")
        token = given.strip() if scheme.lower() == "bearer" else ""
        if not token and token_header:
            token = header(scope, token_header).decode("latin-1").strip()
        loop = asyncio.get_running_loop()
        try:
            if not token:
                raise PermissionDenied("no token")
            await loop.run_in_executor(None, self._authorize, token, route.workspace)
            ADMITTED.set(token)  # passed on if another server runs the version
            return True
        except KaonError as exc:
            if scope["method"] == "POST":  # read to the end, so the client sees the answer
                with contextlib.suppress(TooLarge):
                    await self.body(scope, receive)
            status = exc.http_status
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else None
            if status == 401:
                why = (
                    "none was sent" if not token else "the one sent is unknown, expired or revoked"
                )
                alt = f" (or `{token_header.decode().title()}: <token>`)" if token_header else ""
                message = (
                    f"endpoint {route.name} was deployed with --auth: send `Authorization: "
                    f"Bearer <token>`{alt} of a user (or job) that may read workspace "
                    f"{route.workspace!r}; {why}"
                )
            else:
                message = f"endpoint {route.name}: {exc.message}"
            await fail(send, status, message, extra)
            return False

    def _authorize(self, token: str, workspace: str) -> None:
        users = self.platform.users
        users.check(users.authenticate(token), Action.READ, workspace)

    async def unrouted(
        self,
        name: str,
        send: Send,
        fail: Fail = error,
        version: str | None = None,
        namespace: str | None = None,
    ) -> None:
        """No route: 404 if there is no such endpoint (or version, or not in workspace
        `namespace`, or it was killed), 503 saying where to look if it is still building or
        its build failed."""
        if (version is not None or namespace is not None) and self.resolve(name) is not None:
            if version is not None:
                message = (
                    f"endpoint {name} has no version {version!r}: "
                    f"see `kaon serve versions -e {name}`"
                )
            else:
                message = (
                    f"endpoint {name} is not in workspace {namespace!r}: use its own "
                    "workspace, or any namespace that is not a workspace"
                )
            await fail(send, 404, message, None)
            return
        loop = asyncio.get_running_loop()
        try:
            endpoint = await loop.run_in_executor(None, self.platform.serving.lookup, name)
        except KaonError:
            endpoint = None
        status, message = unrouted(name, endpoint)
        await fail(send, status, message, None)

    async def hopped(self, tail: str, scope: Scope, receive: Receive, send: Send) -> None:
        """`POST /_kaon/replica/<version>` from another server's gateway (X-Kaon-Forwarded):
        a prediction by the replicas of a version this server runs, answered as they answer
        (never sent on: no loops); the caller's token checked again for an --auth one."""
        kind, _, name = tail.partition("/")
        if kind == "answer" and scope["method"] == "GET" and header(scope, FORWARDED):
            await self._answer(name, scope, send)
            return
        if kind != "replica" or scope["method"] != "POST" or not header(scope, FORWARDED):
            await error(
                send,
                404,
                "use POST /_kaon/replica/<version> or GET /_kaon/answer/<request id> "
                "between kaon servers",
            )
            return
        route = self.platform.serving.local_route(name)
        if route is None:
            with contextlib.suppress(TooLarge):
                await self.body(scope, receive)
            await error(send, 503, f"endpoint {name} does not run on this server (any more)")
            return
        if route.auth and not await self.admitted(route, scope, receive, send):
            return
        try:
            body = await self.body(scope, receive)
        except TooLarge:
            await error(send, 413, f"request body larger than {self.max_body} bytes")
            return
        ctype = header(scope, b"content-type").decode("latin-1") or "application/octet-stream"
        status, out = await self.forwarder.relay(route, ctype, body)
        await reply(send, status, out, JSON_TYPE)

    async def _answer(self, request_id: str, scope: Scope, send: Send) -> None:
        """`GET /_kaon/answer/<request id>` from another server: an answer this gateway gave
        (for feedback that reached that server); an --auth endpoint's needs the caller's
        token passed on (the request id alone suffices otherwise, as for feedback itself)."""
        seen = self.recent.get(request_id)
        if seen is None:
            await error(send, 404, f"no answer {request_id!r} on this server")
            return
        if seen.auth:
            scheme, _, given = header(scope, b"authorization").decode("latin-1").partition(" ")
            loop = asyncio.get_running_loop()
            try:
                if scheme.lower() != "bearer" or not given.strip():
                    raise PermissionDenied("no token")
                await loop.run_in_executor(None, self._authorize, given.strip(), seen.workspace)
            except KaonError as exc:
                await error(send, exc.http_status, f"answer {request_id}: {exc.message}")
                return
        await reply(send, 200, json.dumps(seen.to_doc()).encode(), JSON_TYPE)

    def _shadow_log(self, name: str) -> Path | None:
        serving = self.platform.serving
        endpoint = serving.lookup(name)
        return None if endpoint is None else serving.log_path(endpoint, "shadow")

    async def close(self) -> None:
        await self.shadows.close()
        await self.forwarder.close()


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
