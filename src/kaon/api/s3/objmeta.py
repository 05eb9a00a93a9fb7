"""Object metadata: what of a request is kept with an object, and how it is answered.

Kept in the object's tree entry (kaon.core.tree.Meta), so it is versioned and content-addressed
with the object: the standard headers below, user metadata (x-amz-meta-*), the checksums the
client sent and we checked (x-amz-checksum-*, answered only with x-amz-checksum-mode: ENABLED,
as S3 does), and, for a completed multipart upload, its part sizes (GetObject?partNumber).
"""

from __future__ import annotations

import base64
import mimetypes

from kaon.core.errors import InvalidInput
from kaon.core.tree import Meta

STANDARD = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "cache-control",
    "content-language",
    "expires",
)
USER = "x-amz-meta-"
CHECKSUM = "x-amz-checksum-"
CHECKSUM_TYPE = "x-amz-checksum-type"
ALGORITHM = "x-amz-checksum-algorithm"  # kept on a multipart upload until it completes
PARTS = "x-kaon-parts"  # part sizes of a completed multipart upload, comma-separated
_PRIVATE = frozenset({"x-amz-meta-kaon-transaction"})  # instructions, not metadata
_MAX_USER = 2048  # bytes of user metadata, as S3


def from_request(headers: dict[str, str]) -> dict[str, str]:
    """The standard headers and user metadata of a PutObject, CopyObject (REPLACE) or
    CreateMultipartUpload request."""
    out: dict[str, str] = {}
    for name in STANDARD:
        if name in headers:
            out[name] = headers[name]
    encoding = [e.strip() for e in out.get("content-encoding", "").split(",")]
    encoding = [e for e in encoding if e and e != "aws-chunked"]  # transfer, not content
    if encoding:
        out["content-encoding"] = ", ".join(encoding)
    else:
        out.pop("content-encoding", None)
    user = {k: v for k, v in headers.items() if k.startswith(USER) and k not in _PRIVATE}
    if sum(len(k) - len(USER) + len(v) for k, v in user.items()) > _MAX_USER:
        raise InvalidInput(f"user metadata (x-amz-meta-*) is larger than {_MAX_USER} bytes")
    out.update(user)
    return out


def pack(values: dict[str, str]) -> Meta:
    return tuple(sorted(values.items()))


def of_bytes(meta: Meta) -> dict[str, str]:
    """What describes the bytes themselves (checksums, part sizes): kept by any copy."""
    return {k: v for k, v in meta if k.startswith(CHECKSUM) or k == PARTS}


def checksums(meta: Meta) -> dict[str, str]:
    return {k: v for k, v in meta if k.startswith(CHECKSUM) and k != ALGORITHM}


def part_sizes(meta: Meta) -> list[int]:
    text = dict(meta).get(PARTS, "")
    return [int(n) for n in text.split(",")] if text else []


def _header(value: str) -> str:
    """A value as an HTTP header can carry it: as is when latin-1 can, else RFC 2047 encoded
    (=?UTF-8?B?...?=), as S3 answers non-ASCII metadata."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?="
    return value


def response_headers(
    meta: Meta, path: str, checksum_mode: bool, whole: bool
) -> list[tuple[str, str]]:
    """Headers of a GetObject/HeadObject answer: the stored ones (Content-Type guessed from
    the name when none was given), checksums on request and only for the whole object."""
    values = dict(meta)
    ctype = values.get("content-type") or (
        mimetypes.guess_type(path)[0] or "application/octet-stream"
    )
    out = [("content-type", ctype)]
    out += [(k, values[k]) for k in STANDARD[1:] if k in values]
    out += [(k, _header(v)) for k, v in meta if k.startswith(USER)]
    if checksum_mode and whole:
        out += list(checksums(meta).items())
    return out
