"""Service pipelines through the platform: `/pipelines/<name>/<path>` is forwarded (any
method, headers, query string, bodies streamed both ways) to the pipeline's process
(kaon.services.pipelines.servicerun), as Pachyderm exposes a service on its external port.

Auth as every API route: `Authorization: Bearer <token>` of a user or job; pipelines are
global, so the check is the shared repos' (GET/HEAD read, anything else writes). The token is
not passed on to the service. Answers: the service's own; 404 no such pipeline; 409 it serves
nothing now; 502 the process did not answer (not listening yet, or it crashed: see its logs).
Not in the OpenAPI document: what a service answers is its own. With several servers, the one
leading the pipelines runs the services; the others proxy to it (X-Kaon-Forwarded, the
caller's token passed on and checked there again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from kaon.api.deps import platform, principal
from kaon.api.owners import FORWARDED, pipelines_leader
from kaon.core.errors import BackendUnavailable
from kaon.core.users import Action
from kaon.services.pipelines.servicerun import ServiceRunner
from kaon.wiring import Platform

router = APIRouter(tags=["pipelines"])

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# hop-by-hop headers (RFC 9110 §7.6.1), the platform's token, and what httpx sets itself
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "authorization",
    }
)
CONNECT_TIMEOUT = 5.0  # s; no read timeout: a service may stream or long-poll


def services_of(p: Platform) -> ServiceRunner:
    """The platform's service runner (Platform.pipelines.services)."""
    runner = p.pipelines.services
    if runner is None:
        raise BackendUnavailable("service pipelines are not enabled on this platform")
    return runner


def _headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k.lower() not in _DROPPED]


@router.api_route("/pipelines/{pipeline}/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(pipeline: str, path: str, request: Request) -> Response:
    import httpx  # httpx (~40 ms) is imported on first use: no part of a server's start

    p = platform(request)
    action = Action.READ if request.method in ("GET", "HEAD", "OPTIONS") else Action.WRITE
    p.users.check(principal(request), action, None)
    headers = _headers(list(request.headers.items()))
    query = request.url.query.encode()
    leader = None
    if not request.headers.get(FORWARDED):
        leader = await run_in_threadpool(pipelines_leader, p)
    if leader is not None:  # the leading server runs the services: through it (it checks too)
        url = httpx.URL(f"{leader.rstrip('/')}/pipelines/{pipeline}/{path}", query=query)
        port: int | str = urlsplit(leader).port or "80"
        headers += [(FORWARDED, p.cluster.id)]
        auth = request.headers.get("authorization")
        if auth:
            headers += [("authorization", auth)]
    else:
        host, port = services_of(p).target(pipeline)
        url = httpx.URL(f"http://{host}:{port}/{path}", query=query)
        headers += [
            ("x-forwarded-prefix", f"/pipelines/{pipeline}"),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("x-forwarded-proto", request.url.scheme),
        ]
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT), follow_redirects=False
    )
    body: AsyncIterator[bytes] | None = None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        body = request.stream()
    try:
        upstream = await client.send(
            client.build_request(request.method, url, headers=headers, content=body),
            stream=True,
        )
    except httpx.HTTPError as exc:
        await client.aclose()
        message = (
            f"service pipeline {pipeline} did not answer on port {port} ({type(exc).__name__}):"
            f" it may still be starting, or it crashed: see `kaon logs --pipeline {pipeline}`"
        )
        return JSONResponse({"code": "unavailable", "message": message, "details": {}}, 502)

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=dict(_headers(list(upstream.headers.multi_items()))),
        background=BackgroundTask(close),
    )
