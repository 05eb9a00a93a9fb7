"""One mapping from kaon errors to HTTP responses: {code, message, details}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kaon.core.errors import KaonError

log = logging.getLogger("kaon.api")


def install(app: FastAPI) -> None:
    @app.exception_handler(KaonError)
    async def kaon_error(request: Request, exc: KaonError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        body = {"code": "invalid_input", "message": f"invalid request: {problems}", "details": {}}
        return JSONResponse(body, status_code=400)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        body = {
            "code": "internal",
            "message": f"internal error ({type(exc).__name__}): see the server log",
            "details": {},
        }
        return JSONResponse(body, status_code=500)
