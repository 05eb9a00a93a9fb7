"""Seldon Core's REST routes on the gateway (codec in kaon.api.seldon):

    POST [/seldon/<namespace>]/<name>/api/v0.1/predictions   (and /api/v1.0/predictions)
    POST [/seldon/<namespace>]/<name>/api/v0.1/feedback      (and /api/v1.0/feedback)

`<name>` is a release, a `<release>-<version>` (seed 001's `petset-c517ec`) or a wave-1
name; `<namespace>` is any value, unless it names a workspace: then the endpoint must be in
it. Answers are SeldonMessages with `meta.puid` (the request id feedback refers to),
`meta.requestPath` {name: model id} and `meta.tags` {model_version, model_id}; errors are
Seldon's `{"status": {code, info, reason, status: FAILURE}}`.
"""

from __future__ import annotations

import json
from typing import Any

from kaon.api.gatecore import GatewayCore
from kaon.api.replies import JSON_TYPE, Receive, Scope, Send, TooLarge, reply, version_of
from kaon.api.seldon import SeldonError, decode, encode, failure, truth_value
from kaon.core.errors import KaonError
from kaon.services.endpointrun import Choice, Route

API_VERSIONS = ("v0.1", "v1.0")
TOKEN_HEADER = b"x-auth-token"  # how SeldonClient(call_credentials=...) sends a token
ACTIONS = ("predictions", "feedback")


async def fail(
    send: Send,
    status: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    route: Route | None = None,
) -> None:
    await reply(send, status, failure(status, message), JSON_TYPE, route, extra=extra)


def seldon_path(rest: list[str]) -> tuple[str, str] | None:
    """(api version, action) of `api/<v>/<action>`, None for any other path."""
    if len(rest) == 3 and rest[0] == "api" and rest[1] in API_VERSIONS and rest[2] in ACTIONS:
        return rest[1], rest[2]
    return None


def meta(route: Route, request_id: str, name: str) -> dict[str, Any]:
    return {
        "puid": request_id,
        "requestPath": {name: route.model_id or ""},
        "tags": {"model_version": version_of(route), "model_id": route.model_id or ""},
    }


class SeldonRoutes:
    def __init__(self, core: GatewayCore) -> None:
        self._core = core

    async def __call__(
        self,
        name: str,
        namespace: str | None,
        rest: list[str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        core = self._core
        path = seldon_path(rest)
        if path is None:
            await fail(
                send,
                404,
                f"unknown Seldon path: use POST .../{name}/api/v1.0/predictions or "
                f".../{name}/api/v1.0/feedback",
            )
            return
        choice = core.resolve(name, namespace)
        if choice is None:
            await core.unrouted(name, send, fail, namespace=namespace)
            return
        route = choice.route
        if scope["method"] != "POST":
            await fail(send, 405, f"use POST for Seldon {path[1]}")
        elif route.auth and not await core.admitted(
            route, scope, receive, send, fail, TOKEN_HEADER
        ):
            return
        elif path[1] == "predictions":
            await self._predict(name, choice, scope, receive, send)
        else:
            await self._feedback(route, scope, receive, send)

    async def _predict(
        self, name: str, choice: Choice, scope: Scope, receive: Receive, send: Send
    ) -> None:
        core = self._core
        route = choice.route
        try:
            raw = await core.body(scope, receive)
            request = decode(raw)
        except TooLarge:
            await fail(send, 413, f"request body larger than {core.max_body} bytes", None, route)
            return
        except SeldonError as exc:
            await fail(send, 400, f"invalid SeldonMessage for {name}: {exc}", None, route)
            return
        status, out, rid = await core.predict(choice, "seldon", request.content_type, request.body)
        if status == 200:
            answer = encode(out, request.kind, meta(route, rid, name))
            core.remember(rid, route, "seldon", raw, answer)
        else:
            answer = failure(status, _message(out))
        await reply(send, status, answer, JSON_TYPE, route, rid)

    async def _feedback(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        limits = core.gate.limits
        if not await core.admit_feedback(route, send, fail):
            return
        try:  # the client sends back the request and the answer: up to a request's size
            doc = json.loads(await core.body(scope, receive))
        except TooLarge:
            await fail(send, 413, f"request body larger than {core.max_body} bytes")
            return
        except ValueError:
            doc = None
        response = doc.get("response") if isinstance(doc, dict) else None
        puid = (response.get("meta") or {}).get("puid") if isinstance(response, dict) else None
        if not isinstance(puid, str) or not puid:
            await fail(
                send,
                400,
                'Seldon feedback needs {"request", "response", "reward", "truth"} with the '
                "answer's response.meta.puid",
            )
            return
        assert isinstance(doc, dict)
        reward = doc.get("reward", 0.0)  # proto3: an absent reward is 0
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            await fail(send, 400, f'feedback "reward" must be a number, got {reward!r}')
            return
        unknown = f"unknown puid {puid!r} for {route.name}: no such answer here"
        seen = await core.unfed(route, puid, unknown, send, fail)
        if seen is None:
            return
        truth = truth_value(doc.get("truth"))
        if truth is not None and len(json.dumps(truth)) > limits.max_bytes:
            await fail(
                send,
                413,
                f"a feedback's truth takes at most {limits.max_bytes} bytes "
                "(KAON_FEEDBACK_MAX_BYTES)",
            )
            return
        # the request and the answer as the gateway kept them (puid ties them), not the
        # client's copies: a record stays bounded whatever an unauthenticated client sends
        feedback = core.feedback(seen, puid, reward=float(reward), truth=truth)
        try:
            commit = await core.store(route, seen, feedback)
        except KaonError as exc:
            await fail(send, exc.http_status, exc.message)
            return
        answer = {
            "meta": {
                "puid": puid,
                "tags": {"model_version": seen.version, "commit": commit},
            },
            "data": {"names": [], "ndarray": []},
        }
        await reply(send, 200, json.dumps(answer).encode(), JSON_TYPE, route, puid)


def _message(out: bytes) -> str:
    """The error text of a replica's (or the forwarder's) {"error": ...} answer."""
    try:
        doc = json.loads(out)
    except ValueError:
        return out.decode("utf-8", "replace")
    return str(doc.get("error", doc)) if isinstance(doc, dict) else str(doc)
