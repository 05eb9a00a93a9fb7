"""AWS Signature Version 4, as S3 uses it: header and presigned-URL auth, chunk signatures.

Pure functions over what arrived (method, raw path, raw query, headers): the server computes
the canonical request exactly as the client did and compares signatures in constant time.
Spec: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
(S3 does not normalise the path; the payload hash is the x-amz-content-sha256 header, or
UNSIGNED-PAYLOAD for presigned URLs.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
from calendar import timegm
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from time import strptime
from urllib.parse import quote, unquote

from kaon.core.errors import (
    InvalidInput,
    PermissionDenied,
    RequestTimeSkewed,
    SignatureMismatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
MAX_SKEW = 15 * 60  # seconds, as S3
MAX_EXPIRES = 7 * 24 * 3600  # presigned URLs live at most a week, as S3
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Verified:
    """A request whose signature matched: who sent it and what its body must satisfy."""

    access_key: str
    payload_hash: str  # hex sha256 of the body, or one of the UNSIGNED/STREAMING markers
    amz_date: str
    scope: str  # date/region/service/aws4_request
    key: bytes  # the signing key, for chunk signatures
    seed: str  # the request's signature: the first chunk's "previous signature"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(key: bytes, string_to_sign: str) -> str:
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def uri_encode(text: str, safe: str = "") -> str:
    """AWS URI encoding: everything but A-Z a-z 0-9 - _ . ~ (and `safe`) as %XX, UTF-8."""
    return quote(text, safe="-_.~" + safe)


def canonical_uri(raw_path: str) -> str:
    """The path as the client encoded it (S3 clients encode each byte once, keep '/')."""
    return uri_encode(unquote(raw_path or "/"), safe="/")


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs, in order; '+' stays '+' (AWS clients send %20)."""
    out: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.append((unquote(name), unquote(value)))
    return out


def canonical_query(pairs: Sequence[tuple[str, str]]) -> str:
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    raw_path: str,
    pairs: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    lines = [method.upper(), canonical_uri(raw_path), canonical_query(pairs)]
    lines += [f"{name}:{' '.join(headers.get(name, '').split())}" for name in signed]
    lines += ["", ";".join(signed), payload_hash]
    return "\n".join(lines)


def string_to_sign(amz_date: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, chunk_sha256: str) -> str:
    return f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256}"


def amz_time(amz_date: str) -> float:
    """Seconds since the epoch of an ISO 8601 basic timestamp (20130524T000000Z)."""
    try:
        return float(timegm(strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise InvalidInput(f"invalid X-Amz-Date {amz_date!r}: expected YYYYMMDDTHHMMSSZ") from None


def _from_http_date(text: str) -> str:
    """A Date header (RFC 7231) as an ISO 8601 basic timestamp; SigV4 signs with it when
    there is no X-Amz-Date ("" when absent or unreadable)."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return ""
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if when.tzinfo else ""


@dataclass(frozen=True)
class _Claim:
    access_key: str
    date: str
    region: str
    service: str
    signed: tuple[str, ...]
    signature: str
    amz_date: str
    payload_hash: str
    expires: int | None  # presigned only


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise InvalidInput(
            f"malformed credential {value!r}: expected KEY/DATE/REGION/s3/aws4_request"
        )
    return parts[0], parts[1], parts[2], parts[3]


def _header_claim(auth: str, headers: Mapping[str, str]) -> _Claim:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise InvalidInput(
            f"unsupported authorization {algorithm!r}: sign requests with {ALGORITHM}"
        )
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    try:
        key, date, region, service = _credential(fields["Credential"])
        signed = tuple(fields["SignedHeaders"].split(";"))
        signature = fields["Signature"]
    except KeyError as missing:
        raise InvalidInput(f"the Authorization header has no {missing.args[0]}") from None
    amz_date = headers.get("x-amz-date", "") or _from_http_date(headers.get("date", ""))
    if not amz_date:
        raise InvalidInput("a signed request needs an X-Amz-Date (or Date) header")
    payload = headers.get("x-amz-content-sha256", "")
    if not payload:
        raise InvalidInput("a signed S3 request needs an x-amz-content-sha256 header")
    return _Claim(key, date, region, service, signed, signature, amz_date, payload, None)


def _query_claim(query: Mapping[str, str]) -> _Claim:
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise InvalidInput(f"unsupported X-Amz-Algorithm: presign URLs with {ALGORITHM}")
    try:
        key, date, region, service = _credential(query["X-Amz-Credential"])
        expires = int(query["X-Amz-Expires"])
        return _Claim(
            key,
            date,
            region,
            service,
            tuple(query["X-Amz-SignedHeaders"].split(";")),
            query["X-Amz-Signature"],
            query["X-Amz-Date"],
            UNSIGNED_PAYLOAD,
            expires,
        )
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"incomplete presigned URL ({exc}): presign it again") from None


def is_signed(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    if "Signature" in query and "AWSAccessKeyId" in query:
        raise InvalidInput(
            "Signature Version 2 presigned URLs are not supported: presign with SigV4 "
            "(boto3: Config(signature_version='s3v4'))"
        )
    return "authorization" in headers or "X-Amz-Signature" in query


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    secret_of: Callable[[str], str],
    now: float,
) -> Verified:
    """Check a header-signed or presigned request; `secret_of` raises UnknownAccessKey.

    `headers` maps lowercase names to values (repeated headers joined with ',')."""
    pairs = query_pairs(raw_query)
    query = dict(pairs)
    if "authorization" in headers:
        claim = _header_claim(headers["authorization"], headers)
        signed_pairs = pairs
    elif "X-Amz-Signature" in query:
        claim = _query_claim(query)
        signed_pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    else:
        raise PermissionDenied("anonymous request: sign it with an access key of kaon")
    if claim.service != "s3":
        raise InvalidInput(f"credential scope names service {claim.service!r}: use 's3'")
    if "host" not in claim.signed:
        raise InvalidInput("the host header must be signed")
    secret = secret_of(claim.access_key)
    when = amz_time(claim.amz_date)
    if claim.expires is None:
        if abs(now - when) > MAX_SKEW:
            raise RequestTimeSkewed(
                "the difference between the request time and the server's time is too large "
                f"(more than {MAX_SKEW // 60} minutes): check the client's clock"
            )
    else:
        if not 0 < claim.expires <= MAX_EXPIRES:  # 403, as S3 (and s3-tests) answer
            raise PermissionDenied(
                f"X-Amz-Expires {claim.expires} is out of range: presign the URL again with an "
                f"expiry from 1 to {MAX_EXPIRES} seconds (7 days)"
            )
        if now > when + claim.expires:
            raise RequestTimeSkewed("request has expired: presign the URL again")
        if when - now > MAX_SKEW:
            raise RequestTimeSkewed("the presigned URL is dated in the future: check clocks")
    payload = claim.payload_hash
    if payload not in STREAMING and payload != UNSIGNED_PAYLOAD and not _HEX64.match(payload):
        raise InvalidInput(f"invalid x-amz-content-sha256 {payload!r}")
    scope = f"{claim.date}/{claim.region}/{claim.service}/aws4_request"
    request = canonical_request(method, raw_path, signed_pairs, headers, claim.signed, payload)
    key = signing_key(secret, claim.date, claim.region, claim.service)
    expected = sign(key, string_to_sign(claim.amz_date, scope, request))
    if not hmac.compare_digest(expected, claim.signature):
        raise SignatureMismatch(
            "the request signature we calculated does not match the signature you provided: "
            "check the secret key and the signing method",
            canonical_request=request,
        )
    return Verified(claim.access_key, payload, claim.amz_date, scope, key, claim.signature)
