"""Request-scoped access to the platform (set on app.state by create_app) and to who asks."""

from __future__ import annotations

from fastapi import Request

from kaon.api import access, auth
from kaon.core.users import Principal
from kaon.wiring import Platform


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def require_token(request: Request) -> None:
    """Authenticate the bearer token: who asks is then `principal(request)`."""
    who = auth.authenticate(request, platform(request))
    request.state.principal = who
    access.authorize(request, platform(request), who)


def principal(request: Request) -> Principal:
    who: Principal = request.state.principal
    return who
