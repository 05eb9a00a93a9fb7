"""Open Inference Protocol v2 routes on the gateway (shapes in kaon.api.oip):

    GET  /v2/health/live | /v2/health/ready
    GET  /v2/models/<name>[/versions/<v>]            metadata
    GET  /v2/models/<name>[/versions/<v>]/ready
    POST /v2/models/<name>[/versions/<v>]/infer

`<name>` is a release (its traffic picks the version), a `<release>-<version>` or a wave-1
name; `/versions/<v>` pins the version (its label or its model id): 404 when it has none.
"""

from __future__ import annotations

import json

from kaon.api.gatecore import GatewayCore
from kaon.api.oip import infer_payload, infer_response, metadata
from kaon.api.replies import JSON_TYPE, Receive, Scope, Send, TooLarge, error, json_reply, reply


class OipRoutes:
    def __init__(self, core: GatewayCore) -> None:
        self._core = core

    async def __call__(self, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        method = scope["method"]
        if parts[:1] == ["health"] and method == "GET":
            await json_reply(
                send, 200, {"live": True} if parts[1:] == ["live"] else {"ready": True}
            )
            return
        if len(parts) < 2 or parts[0] != "models" or not parts[1]:
            await error(send, 404, "unknown Open Inference Protocol path")
            return
        name, rest = parts[1], parts[2:]
        version: str | None = None
        if rest[:1] == ["versions"]:
            if len(rest) < 2 or not rest[1]:
                await error(send, 404, f"use /v2/models/{name}/versions/<version>/...")
                return
            version, rest = rest[1], rest[2:]
        choice = core.resolve(name, version=version)
        if choice is None:
            await core.unrouted(name, send, version=version)
            return
        route = choice.route
        if rest == ["ready"] and method == "GET":
            ready = bool(route.addresses)
            shown = None if route.auth else route  # a probe: no model id when guarded
            await json_reply(send, 200 if ready else 400, {"name": name, "ready": ready}, shown)
        elif route.auth and not await core.admitted(route, scope, receive, send):
            return
        elif not rest and method == "GET":
            await json_reply(send, 200, metadata(route), route)
        elif rest == ["infer"] and method == "POST":
            try:
                raw = await core.body(scope, receive)
                request = json.loads(raw)
                payload = infer_payload(request)
            except TooLarge:
                await error(
                    send, 413, f"request body larger than {core.max_body} bytes", None, route
                )
                return
            except ValueError as exc:
                await error(send, 400, f"invalid inference request: {exc}", None, route)
                return
            status, out, rid = await core.predict(
                choice, "oip", "application/json", json.dumps(payload).encode()
            )
            if status == 200:
                out = json.dumps(infer_response(route, request, json.loads(out))).encode()
                core.remember(rid, route, "oip", raw, out)
            await reply(send, status, out, JSON_TYPE, route, rid)
        else:
            await error(send, 404, "unknown Open Inference Protocol path")
