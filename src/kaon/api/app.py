"""create_app: the FastAPI application over a built Platform."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from kaon import __version__
from kaon.api import errors
from kaon.api.deps import require_token
from kaon.api.gateway import MAX_BODY, Gateway
from kaon.api.routes import (
    admin,
    chunks,
    files,
    provenance,
    repos,
    serve,
    train,
    workspaces,
)
from kaon.app import Platform


def create_app(platform: Platform, token: str) -> FastAPI:
    app = FastAPI(
        title="kaon",
        version=__version__,
        description="Versioned data repos, training and serving with provenance.",
    )
    app.state.platform = platform
    app.state.token = token
    errors.install(app)
    app.include_router(admin.open_router)
    secured = [Depends(require_token)]
    for module in (admin, repos, files, chunks, workspaces, train, serve, provenance):
        app.include_router(module.router, dependencies=secured)
    return app


def create_asgi(platform: Platform, token: str, max_body: int = MAX_BODY) -> Gateway:
    """The whole server: the prediction gateway in front of the API."""
    return Gateway(platform, create_app(platform, token), max_body)
