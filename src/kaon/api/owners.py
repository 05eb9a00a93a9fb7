"""Requests about live work another server runs, sent on to that server (kaon.core.cluster).

The answer is the owner's, status and body as it gave them. The caller's Authorization is
passed on, and `X-Kaon-Forwarded: <this server's id>` marks the request so the owner answers
it itself (never forwarding again: no loops). An owner that does not answer (it died: its
work is taken over within the claim time) leaves the request to be answered here, from the
database.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response

from kaon.core.cluster import ClaimKind
from kaon.wiring import PIPELINES_KEY, Platform

FORWARDED = "X-Kaon-Forwarded"
TIMEOUT = 60.0  # a kill waits up to 30 s for the job's processes to stop

log = logging.getLogger("kaon.cluster")


def forward(
    request: Request, p: Platform, owner_url: str | None, body: object = None
) -> Response | None:
    """The answer of the server at `owner_url` to `request` (with `body`, the request's JSON
    body as the route read it, sent again); None (answer here) when there is no other owner,
    the request was forwarded already, or the owner does not answer."""
    if owner_url is None or request.headers.get(FORWARDED):
        return None
    headers = {FORWARDED: p.cluster.id}
    auth = request.headers.get("authorization")
    if auth:
        headers["Authorization"] = auth
    import httpx  # httpx (~40 ms) is imported on first use: no part of a server's start

    try:
        answer = httpx.request(
            request.method,
            owner_url.rstrip("/") + request.url.path,
            params=list(request.query_params.multi_items()),
            headers=headers,
            json=body,
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        log.warning("server %s did not answer %s: %s", owner_url, request.url.path, exc)
        return None
    return Response(
        answer.content, answer.status_code, media_type=answer.headers.get("content-type")
    )


def pipelines_leader(p: Platform) -> str | None:
    """The URL of the other live server leading the pipelines (its logs, services); None
    when this one leads or none does."""
    owner = p.cluster.owner(ClaimKind.PIPELINES, PIPELINES_KEY)
    return None if owner is None or owner.id == p.cluster.id else owner.url
