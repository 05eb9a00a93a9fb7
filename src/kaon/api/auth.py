"""Bearer-token identity: every request but health and the spec carries a user's (or a job's)
token; the platform's own token ($KAON_HOME/token) is the first admin's."""

from __future__ import annotations

import getpass
import os
import secrets
from pathlib import Path

from fastapi import Request

from kaon.config import TOKEN_FILE
from kaon.core.users import Principal
from kaon.wiring import Platform

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


def bearer(request: Request) -> str:
    """The bearer token a request carries ("" when none)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def authenticate(request: Request, platform: Platform) -> Principal:
    """Who sent `request`: the user (or job) its bearer token stands for (401 otherwise)."""
    return platform.users.authenticate(bearer(request))


def admin_name() -> str:
    """The first user's name: the OS user running the platform (kaos showed it as `user`)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "admin"
