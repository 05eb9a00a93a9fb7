"""kaos' routes on the gateway, per endpoint name (a release, a `<release>-<version>`, or a
wave-1 name):

    POST /<endpoint>/invocations      the body goes to predict(payload, ctx) as is
    GET  /<endpoint>/ping             200 when a replica is ready
    POST /<endpoint>/feedback         {request_id, truth | reward}, stored as versioned data
"""

from __future__ import annotations

import json

from kaon.api.gatecore import GatewayCore
from kaon.api.replies import (
    JSON_TYPE,
    Receive,
    Scope,
    Send,
    TooLarge,
    error,
    header,
    json_reply,
    reply,
)
from kaon.core.errors import KaonError
from kaon.services.endpointrun import Choice, Route

ACTIONS = ("invocations", "ping", "feedback")


class KaosRoutes:
    def __init__(self, core: GatewayCore) -> None:
        self._core = core

    async def __call__(
        self, name: str, choice: Choice, action: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        core = self._core
        route = choice.route
        method = scope["method"]
        if action == "ping" and method == "GET":
            ok = bool(route.addresses)
            shown = None if route.auth else route  # a probe: no model id when guarded
            await json_reply(send, 200 if ok else 503, {"endpoint": name, "ready": ok}, shown)
        elif route.auth and not await core.admitted(route, scope, receive, send):
            return
        elif action == "invocations" and method == "POST":
            try:
                body = await core.body(scope, receive)
            except TooLarge:
                await error(
                    send, 413, f"request body larger than {core.max_body} bytes", None, route
                )
                return
            ctype = (
                header(scope, b"content-type").split(b";")[0].strip() or b"application/octet-stream"
            )
            status, out, rid = await core.predict(choice, "kaon", ctype.decode("latin-1"), body)
            if status == 200:
                core.remember(rid, route, "kaon", body, out)
            await reply(send, status, out, JSON_TYPE, route, rid)
        elif action == "feedback" and method == "POST":
            await self._feedback(route, scope, receive, send)
        else:
            await error(
                send,
                405 if action in ACTIONS else 404,
                f"use POST /{name}/invocations, GET /{name}/ping or POST /{name}/feedback",
            )

    async def _feedback(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        limits = core.gate.limits
        if not await core.admit_feedback(route, send):
            return
        try:
            doc = json.loads(await core.body(scope, receive, limits.max_bytes))
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
        seen = await core.unfed(route, rid, f"unknown request_id {rid!r} for {route.name}", send)
        if seen is None:
            return
        reward = doc.get("reward")
        if reward is not None and (isinstance(reward, bool) or not isinstance(reward, int | float)):
            await error(send, 400, f'feedback "reward" must be a number, got {reward!r}')
            return
        feedback = core.feedback(
            seen,
            rid,
            reward=None if reward is None else float(reward),
            truth=doc.get("truth"),
        )
        try:
            commit = await core.store(route, seen, feedback)
        except KaonError as exc:
            await error(send, exc.http_status, exc.message)
            return
        await json_reply(send, 201, {"request_id": rid, "commit": commit}, route)
