"""The engines a platform runs on (database, object store, executor, replicas), as `kaon
status` shows them: each one's URL without secrets, whether it answers, and its version."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_QUERY_KEYS = frozenset(
    {"password", "secret", "secret_key", "aws_secret_access_key", "token", "session_token"}
)


class BackendRole(StrEnum):
    DATABASE = "database"
    STORE = "store"
    EXECUTOR = "executor"
    REPLICAS = "replicas"


@dataclass(frozen=True)
class BackendHealth:
    """One engine as seen from this server: `url` never holds a secret (see redact_url)."""

    role: BackendRole
    url: str
    ok: bool
    version: str  # the engine's own version ("PostgreSQL 15.18", "SQLite 3.40.1", "Ray 2.60.0")
    detail: str = ""  # why it is not ok (one line), or what else is worth showing


def redact_url(url: str) -> str:
    """`url` with its password and any secret query value replaced by `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*:/"
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret (and sqlite:////abs keeps its empty host)
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))
