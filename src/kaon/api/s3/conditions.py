"""The conditional headers of S3 writes: If-Match and If-None-Match: * as a WriteCondition
(honoured atomically, see services/s3conditions.py); the conditions S3 defines and kaon does
not implement refused with 501, never ignored."""

from __future__ import annotations

from kaon.api.s3.http import Request
from kaon.core.errors import InvalidInput, Unsupported
from kaon.core.preconditions import WriteCondition

_NOT_ON_WRITES = (
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-if-match-last-modified-time",
    "x-amz-if-match-size",
)


def write_condition(req: Request, *, deleting: bool = False) -> WriteCondition | None:
    """The condition of a PutObject, CopyObject, CompleteMultipartUpload or (`deleting`)
    DeleteObject; None when it has none."""
    h = req.headers
    for name in _NOT_ON_WRITES:
        if name in h:
            raise Unsupported(
                f"header {name} on a {req.method} is not implemented by kaon's S3 gateway: "
                "use If-Match with the object's ETag"
            )
    none_match = h.get("if-none-match")
    if none_match is not None:
        if deleting:
            raise Unsupported("header If-None-Match on a DELETE is not implemented: use If-Match")
        if none_match.strip() != "*":
            raise Unsupported(
                f"header If-None-Match: {none_match} is not implemented on writes: S3 takes "
                "only '*' (write only if the key does not exist)"
            )
    match = h.get("if-match")
    etags = tuple(t for t in (t.strip().strip('"') for t in (match or "").split(",")) if t)
    if match is not None and not etags:
        raise InvalidInput("header If-Match is empty: give the ETag the object must have")
    if none_match is None and match is None:
        return None
    return WriteCondition(etags, none_match is not None)


def refuse_condition(req: Request, what: str) -> None:
    """Refuse conditional headers on a request that takes none (an UploadPart, ...)."""
    for name in ("if-match", "if-none-match", *_NOT_ON_WRITES):
        if name in req.headers:
            raise Unsupported(f"header {name} is not implemented on {what}")
