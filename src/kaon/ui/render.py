"""Pages from templates: one Jinja2 environment (autoescaped), the filters every page uses, and
the error pages a kaon error becomes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from kaon import __version__
from kaon.core.errors import KaonError, NotFound, PermissionDenied
from kaon.ui import session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
env = templates.env
env.autoescape = True
env.trim_blocks = True
env.lstrip_blocks = True


def _when(value: float | None) -> str:
    """An epoch time as people read it (UTC)."""
    if not value:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: float | None) -> str:
    if not value:
        return ""
    seconds = max(0.0, time.time() - value)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _state(value: Any) -> str:
    """An enum state's name (JOB_SUCCESS, RUNNING, ...) for the badge class and its text."""
    return str(getattr(value, "value", value) or "")


def _num(value: Any) -> str:
    """A metric as people read it: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_GOOD = ("SUCCESS", "PIPELINE_RUNNING", "READY")
_BAD = ("FAIL", "CRASH")
_IDLE = ("KILLED", "PAUSED", "SKIPPED", "RECOVERED")


def _tone(value: Any) -> str:
    """A state's colour class: ok (done well, or serving), bad, idle (stopped) or run (on its
    way). A job's JOB_RUNNING is on its way; an endpoint's PIPELINE_RUNNING serves."""
    name = _state(value).upper()
    if name == "RUNNING" and type(value).__name__ == "PipelineState":
        return "ok"  # a pipeline that reacts to commits
    for tone, marks in (("bad", _BAD), ("idle", _IDLE), ("ok", _GOOD)):
        if any(mark in name for mark in marks):
            return tone
    return "run" if name else "idle"


env.filters.update(
    when=_when,
    ago=_ago,
    size=_size,
    seconds=_seconds,
    state=_state,
    tone=_tone,
    num=_num,
    url=lambda v: quote(str(v), safe="/:@"),
)
env.globals["version"] = __version__


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """`template` rendered with `context` (and `request`, the signed-in user if known)."""
    context.setdefault("title", "kaon")
    response = templates.TemplateResponse(request, template, context, status_code=status)
    return response


def error_page(request: Request, exc: KaonError) -> Response:
    """What a kaon error becomes: sign-in again, a 404 page or a page saying what failed."""
    if type(exc) is PermissionDenied:  # 401: no session, or a wrong or revoked token (403:
        # shown below)
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        response: Response = RedirectResponse(f"/ui/signin?next={target}", status_code=303)
        if request.headers.get("hx-request") == "true":  # a live part: the whole page goes
            response = Response(headers={"HX-Redirect": f"/ui/signin?next={target}"})
        refused = session.token(request)
        if refused:
            request.app.state.clients.forget(refused)
        session.sign_out(response)
        return response
    title = "Not found" if isinstance(exc, NotFound) else "Cannot show this page"
    hint = "It may have been deleted, or the link is wrong." if isinstance(exc, NotFound) else ""
    return page(
        request,
        "error.html",
        status=exc.http_status,
        title=title,
        message=exc.message,
        hint=hint,
        code=exc.code,
    )
