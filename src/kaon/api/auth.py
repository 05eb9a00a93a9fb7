"""Bearer-token identity: every request but health and the spec must carry the platform token."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import Request

from kaon.config import TOKEN_FILE
from kaon.core.errors import PermissionDenied

OPEN_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


def ensure_token(home: Path) -> str:
    """The platform token in $KAON_HOME/token, created (mode 0600) on first start."""
    path = home / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def check(request: Request, token: str) -> None:
    if request.url.path in OPEN_PATHS:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise PermissionDenied(
            "missing or invalid token: the SDK reads it from $KAON_HOME/token; "
            "for a remote server run `kaon init -e URL --token TOKEN`"
        )
