"""create_ui: the web UI as an application mounted at /ui by the API (kaon.api.asgi)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from kaon.core.errors import KaonError, NotFound
from kaon.ui import guard, render
from kaon.ui.pages import endpoints, home, jobs, models, pipelines, provenance, repos, signin
from kaon.ui.session import Clients

PAGES = (signin, home, repos, jobs, models, provenance, endpoints, pipelines)
STATIC = Path(__file__).parent / "static"


def create_ui(api_url: Callable[[], str]) -> FastAPI:
    """The UI's pages and assets; `api_url()` is this server's own URL (the pages call the
    REST API through the SDK, as the signed-in user)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.clients = Clients(api_url)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGES:
        app.include_router(module.router)
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    @app.middleware("http")
    async def server_timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Every page says how long the server took (Server-Timing: benchmarks/ui.py reads it),
        carries the security headers (kaon.ui.guard) and is never cached (a page shows live
        state; the assets are cached). A write from another site's page is refused."""
        started = time.perf_counter()
        foreign = guard.foreign_origin(request)
        if foreign is not None:
            response: Response = render.page(
                request,
                "error.html",
                status=403,
                title="Refused",
                message=f"a form of another site ({foreign}) cannot act on kaon",
                hint="Open the page from this kaon server and submit it again.",
                code="forbidden",
            )
        else:
            response = await call_next(request)
        took = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"page;dur={took:.1f}"
        if not request.url.path.startswith("/ui/static/"):
            response.headers["Cache-Control"] = "no-store"
        else:
            response.headers["Cache-Control"] = "public, max-age=3600"
        return guard.secure(response)

    @app.exception_handler(KaonError)
    async def kaon_error(request: Request, exc: KaonError) -> Response:
        return render.error_page(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return render.error_page(request, NotFound(f"no page at {request.url.path}"))
        return render.page(
            request,
            "error.html",
            status=exc.status_code,
            title="Cannot show this page",
            message=str(exc.detail),
            hint="",
            code=str(exc.status_code),
        )

    return app
