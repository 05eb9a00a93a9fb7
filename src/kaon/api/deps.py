"""Request-scoped access to the platform (set on app.state by create_app)."""

from __future__ import annotations

from fastapi import Request

from kaon.api import auth
from kaon.app import Platform


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def require_token(request: Request) -> None:
    auth.check(request, request.app.state.token)
