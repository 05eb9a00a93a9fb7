"""Endpoints: versions and traffic, replicas and health, rates over time, the try-it form,
feedback (H6).

    /ui/endpoints/<name>              the page (a release, a version's name or a wave-1 name)
    /ui/endpoints/<name>/rates.json   its rates over the last hour (the charts refresh from it)
    POST /ui/endpoints/<name>/try     a prediction through the gateway: the answer, status,
                                      headers and time (the page's "Try it" form)

The try-it form posts to this server-side handler, which predicts through the SDK as the
signed-in user (Client.predict: POST /<name>/invocations through the gateway), rather than the
browser posting to /<name>/invocations itself: an endpoint deployed with --auth needs the
user's token, which the UI never gives to page scripts (an HttpOnly cookie), and the form then
works as a plain form too. The rates are THIS server's (kaon.api.ratehistory): the page says so.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from kaon.client import Client
from kaon.client.models import EndpointInfo, FeedbackInfo, ReleaseInfo
from kaon.core.endpoints import EndpointState
from kaon.core.errors import KaonError, NotFound
from kaon.ui import session
from kaon.ui.render import page

router = APIRouter()
MAX_PAYLOAD = 5 * 1024 * 1024  # the gateway's own limit on a request's body
MAX_SHOWN = 64 * 1024  # characters of an answer shown
FEEDBACK_SHOWN = 50
LIVE_VERSIONS = 10  # versions whose replicas are looked up (the newest live ones)
EXAMPLE = "[1, 2, 3]"


@router.get("/endpoints/{name}", response_class=HTMLResponse)
def endpoint(request: Request, name: str) -> HTMLResponse:
    client = session.client(request)
    return page(request, "endpoints/endpoint.html", **_context(client, name))


@router.get("/endpoints/{name}/rates.json")
def rates(request: Request, name: str) -> JSONResponse:
    return JSONResponse(_rates(session.client(request), name))


@router.post("/endpoints/{name}/try", response_class=HTMLResponse)
def try_it(
    request: Request,
    name: str,
    payload: Annotated[str, Form()] = "",
    content_type: Annotated[str, Form()] = "application/json",
    upload: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """Predict with the form's payload (an uploaded file wins over the text); answered as
    the page's answer section to htmx, as the whole page otherwise."""
    client = session.client(request)
    body, ctype = payload.encode(), content_type.strip() or "application/json"
    if upload is not None and upload.filename:
        body = upload.file.read(MAX_PAYLOAD + 1)
        ctype = upload.content_type or "application/octet-stream"
    answer = _predict(client, name, body, ctype)
    if request.headers.get("hx-request") == "true":
        return page(request, "endpoints/answer.html", answer=answer)
    context = _context(client, name) | {"answer": answer, "payload": payload}
    return page(request, "endpoints/endpoint.html", **context)


def _predict(client: Client, name: str, body: bytes, ctype: str) -> dict[str, Any]:
    if len(body) > MAX_PAYLOAD:
        return {"problem": f"the payload is over {MAX_PAYLOAD // 1024 // 1024} MiB: too big"}
    if not body:
        return {"problem": "nothing to send: write a JSON payload or choose a file"}
    started = time.perf_counter()
    try:
        status, headers, out = client.predict(name, body, ctype)
    except KaonError as exc:
        return {"problem": f"the prediction could not be sent: {exc.message}"}
    took = (time.perf_counter() - started) * 1000
    text, kind = _shown(out, headers.get("content-type", ""))
    shown = {k: v for k, v in sorted(headers.items()) if k not in ("set-cookie",)}
    return {
        "status": status,
        "ok": status < 400,
        "headers": shown,
        "text": text,
        "kind": kind,
        "ms": took,
        "sent": len(body),
        "content_type": ctype,
    }


def _shown(out: bytes, ctype: str) -> tuple[str, str]:
    """The answer as people read it: indented JSON, text, or its size when binary."""
    try:
        return json.dumps(json.loads(out), indent=2)[:MAX_SHOWN], "json"
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        text = out.decode()
    except UnicodeDecodeError:
        return f"{len(out)} bytes of {ctype or 'binary data'}", "binary"
    cut = len(text) > MAX_SHOWN
    return text[:MAX_SHOWN] + (f"\n… ({len(text)} characters)" if cut else ""), "text"


def _context(client: Client, name: str) -> dict[str, Any]:
    info = client.get_endpoint(name)
    release: ReleaseInfo | None = None
    try:
        release = client.endpoint_release(name)
    except NotFound:  # answered when the endpoint is not a release's (wave-1 servers)
        release = None
    versions = release.versions if release is not None else []
    replicas: dict[str, EndpointInfo] = {}
    live = [v for v in versions if v.state is not EndpointState.KILLED][:LIVE_VERSIONS]
    for v in live:
        try:
            replicas[v.name] = info if v.name == info.name else client.get_endpoint(v.name)
        except NotFound:
            continue
    feedback: list[FeedbackInfo] = client.endpoint_feedback(name, FEEDBACK_SHOWN)
    example = json.dumps(feedback[0].request) if feedback and feedback[0].request else EXAMPLE
    title_name = release.name if release is not None else info.name
    return {
        "title": f"Endpoint {title_name}",
        "name": title_name,
        "info": info,
        "release": release,
        "versions": versions,
        "replicas": replicas,
        "feedback": feedback,
        "killed": info.state is EndpointState.KILLED,
        "rates": _rates(client, name),
        "payload": example,
        "answer": None,
        "shown": _json_cell,
    }


def _rates(client: Client, name: str) -> dict[str, Any]:
    found = client.endpoint_rates(name)
    return {
        "server": found.server,
        "every": found.every,
        "series": [
            {
                "name": s.name,
                "version": s.version or s.name,
                "points": [
                    [p.at * 1000, p.requests, p.errors, p.mean_ms, p.p95_ms] for p in s.points
                ],
            }
            for s in found.series
        ],
    }


def _json_cell(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"
