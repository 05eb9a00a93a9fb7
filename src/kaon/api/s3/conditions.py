"""The conditional headers of S3 requests.

Reads (GetObject, HeadObject, a copy's source): If-Match, If-None-Match, If-Modified-Since and
If-Unmodified-Since, checked here (`read_condition`). Writes: a WriteCondition honoured
atomically (see services/s3/conditions.py): If-Match and If-None-Match (`*` or ETags) on
PutObject, CopyObject and CompleteMultipartUpload; If-Match, x-amz-if-match-size and
x-amz-if-match-last-modified-time on DeleteObject. Conditions S3 does not define for a write
are refused with 501, never ignored."""

from __future__ import annotations

import email.utils
from datetime import datetime

from kaon.api.s3.http import Request
from kaon.core.errors import InvalidInput, PreconditionFailed, Unsupported
from kaon.core.s3.preconditions import WriteCondition

NOT_MODIFIED = 304
_NEVER_ON_WRITES = ("if-modified-since", "if-unmodified-since")
_DELETE_ONLY = ("x-amz-if-match-last-modified-time", "x-amz-if-match-size")


def write_condition(req: Request, *, deleting: bool = False) -> WriteCondition | None:
    """The condition of a PutObject, CopyObject, CompleteMultipartUpload or (`deleting`)
    DeleteObject; None when it has none."""
    h = req.headers
    for name in _NEVER_ON_WRITES + (() if deleting else _DELETE_ONLY):
        if name in h:
            raise Unsupported(
                f"header {name} on a {req.method} is not implemented by kaon's S3 gateway: "
                "use If-Match with the object's ETag",
                header=name,
            )
    if deleting and "if-none-match" in h:
        raise Unsupported(
            "header If-None-Match on a DELETE is not implemented: use If-Match",
            header="if-none-match",
        )
    match, none_match = _etags(h, "if-match"), _etags(h, "if-none-match")
    size = _size(h.get("x-amz-if-match-size"))
    modified = _time(h.get("x-amz-if-match-last-modified-time"))
    if not match and not none_match and size is None and modified is None:
        return None
    return WriteCondition(match, none_match, size, modified)


def refuse_condition(req: Request, what: str) -> None:
    """Refuse conditional headers on a request that takes none (an UploadPart, ...)."""
    for name in ("if-match", "if-none-match", *_NEVER_ON_WRITES, *_DELETE_ONLY):
        if name in req.headers:
            raise Unsupported(f"header {name} is not implemented on {what}", header=name)


def _etags(headers: dict[str, str], name: str) -> tuple[str, ...]:
    value = headers.get(name)
    if value is None:
        return ()
    etags = tuple(t for t in (t.strip().strip('"') for t in value.split(",")) if t)
    if not etags:
        raise InvalidInput(f"header {name} is empty: give an ETag, or '*'")
    return etags


def _size(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit():
        raise InvalidInput(f"x-amz-if-match-size must be a number of bytes, not {value!r}")
    return int(value)


def _time(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        pass
    try:
        return int(datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise InvalidInput(
            f"x-amz-if-match-last-modified-time must be an HTTP or ISO 8601 date, not {value!r}"
        ) from None


# reads: GetObject, HeadObject and a copy's source ---------------------------------------
def _when(text: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return parsed.timestamp()


def _matches(header: str, etag: str) -> bool:
    return any(t.strip() in ("*", f'"{etag}"', etag) for t in header.split(","))


def read_condition(headers: dict[str, str], etag: str, modified: float, prefix: str = "") -> int:
    """200, 304 (not modified) or raise 412, following S3's precedence rules: the
    conditions of GetObject and HeadObject, or (`prefix` x-amz-copy-source-) of a copy's source."""
    h = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
    modified = int(modified)
    if "if-match" in h:
        if not _matches(h["if-match"], etag):
            raise PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold"
            )
    elif "if-unmodified-since" in h:
        since = _when(h["if-unmodified-since"])
        if since is not None and modified > since:
            raise PreconditionFailed("the object was modified since the given date")
    if "if-none-match" in h:
        if _matches(h["if-none-match"], etag):
            if prefix:
                raise PreconditionFailed("the copy source matches x-amz-copy-source-if-none-match")
            return NOT_MODIFIED
    elif "if-modified-since" in h:
        since = _when(h["if-modified-since"])
        if since is not None and modified <= since:
            if prefix:
                raise PreconditionFailed("the copy source was not modified since the given date")
            return NOT_MODIFIED
    return 200
