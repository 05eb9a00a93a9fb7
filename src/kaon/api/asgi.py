"""create_app: the FastAPI application over a built Platform."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI

from kaon import __version__
from kaon.api import auth, errors, spec
from kaon.api.audit import AuditMiddleware
from kaon.api.deps import require_token
from kaon.api.feedback import FeedbackLimits
from kaon.api.gateway import MAX_BODY, ASGIApp, Gateway, Receive, Scope, Send
from kaon.api.routes import (
    admin,
    audit,
    chunks,
    endpoints,
    files,
    members,
    notebooks,
    pipelines,
    pipelineservices,
    provenance,
    rates,
    releases,
    repos,
    s3credentials,
    train,
    users,
    workspaces,
)
from kaon.api.s3.dispatch import S3App
from kaon.wiring import Platform


def create_app(platform: Platform, token: str) -> FastAPI:
    app = FastAPI(
        title="kaon",
        version=__version__,
        description="Versioned data repos, training and serving with provenance.",
    )
    app.state.platform = platform
    platform.users.bootstrap(auth.admin_name(), token)
    errors.install(app)
    spec.install(app)
    app.include_router(admin.open_router)
    secured = [Depends(require_token)]
    routes = (
        admin,
        repos,
        files,
        chunks,
        workspaces,
        members,
        train,
        endpoints,
        releases,
        notebooks,
        pipelines,
        provenance,
        rates,
        s3credentials,
        pipelineservices,
    )
    for module in (*routes, users, audit):
        app.include_router(module.router, dependencies=secured)
    # the web UI: pages that call this API through the SDK as the signed-in user (kaon.ui)
    app.mount("/ui", LazyUI(lambda: platform.job_tokens.endpoint or ""))
    app.add_middleware(AuditMiddleware, platform=platform)  # every write, once answered
    return app


class LazyUI:
    """The web UI's app (kaon.ui.app.create_ui), imported and built on its first request:
    jinja2, the pages and the SDK they use are no part of a server's start (nor of its tests')."""

    def __init__(self, api_url: Callable[[], str]) -> None:
        self._api_url = api_url
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:  # no await before it is set: built once
            from kaon.ui.app import create_ui

            self._app = create_ui(self._api_url)
        await self._app(scope, receive, send)


def create_asgi(
    platform: Platform,
    token: str,
    max_body: int = MAX_BODY,
    *,
    s3_port: int | None = None,
    s3_anonymous: bool = False,
    feedback: FeedbackLimits | None = None,
) -> ASGIApp:
    """The whole server: the prediction gateway in front of the API and, for requests that
    arrive on the S3 port (a sibling socket of the same server), the S3 gateway."""
    app = create_app(platform, token)
    main = Gateway(platform, app, max_body, feedback)
    app.state.rates = main.rates  # what GET /v1/endpoints/<e>/rates reads
    if s3_port is None:
        return main
    s3 = S3App(platform, anonymous=s3_anonymous)

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or ("", None)
        if scope["type"] == "http" and server[1] == s3_port:
            await s3(scope, receive, send)
        else:
            await main(scope, receive, send)

    return dispatch
