"""One mapping from kaon errors to HTTP responses: {code, message, details} (documented from
the same classes by kaon.api.spec)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from kaon.api.spec import allowed_methods
from kaon.core import errors as core
from kaon.core.errors import KaonError

log = logging.getLogger("kaon.api")


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = {"code": code, "message": message, "details": {}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(KaonError)
    async def kaon_error(request: Request, exc: KaonError) -> JSONResponse:
        retry = exc.details.get("retry_after")
        headers = {"Retry-After": str(retry)} if isinstance(retry, int) else None
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return _error(400, core.InvalidInput.code, f"invalid request: {problems}")

    @app.exception_handler(HTTPException)
    async def routing(request: Request, exc: HTTPException) -> Response:
        """Starlette's own answers (no such path, method not allowed) in kaon's error shape."""
        if exc.status_code == 405:
            allowed = allowed_methods(request.app, request.url.path)
            message = (
                f"{request.method} is not allowed on {request.url.path}: use {', '.join(allowed)}"
            )
            return _error(405, "method_not_allowed", message, {"Allow": ", ".join(allowed)})
        if exc.status_code == 404:
            message = f"no route {request.url.path}: see /openapi.json or docs/api.md"
            return _error(404, core.NotFound.code, message)
        return _error(exc.status_code, "http_error", str(exc.detail), exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, exc: ClientDisconnect) -> Response:
        """The client went away mid-request (killed, timed out): nothing is wrong here and
        no one reads the answer."""
        log.warning("client disconnected during %s %s", request.method, request.url.path)
        return _error(400, core.InvalidInput.code, "the client disconnected before the end")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        body = {
            "code": "internal",
            "message": f"internal error ({type(exc).__name__}): see the server log",
            "details": {},
        }
        return JSONResponse(body, status_code=500)
