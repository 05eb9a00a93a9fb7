"""The S3 store's location and client: `s3://bucket/prefix?endpoint=...&region=...` parsed,
a boto3 client built for it (credentials from boto3's chain: AWS_* variables, profiles,
instance roles), and botocore's failures turned into kaon errors with what to do.

boto3 is an optional dependency (`pip install 'kaon[s3]'`): imported here, on first use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kaon.core.backends import redact_url
from kaon.core.errors import BackendUnavailable, InvalidInput, KaonError, NotFound
from kaon.store import validate_prefix

URL_FORM = "s3://BUCKET[/PREFIX][?endpoint=http://host:port&region=REGION&profile=NAME]"
QUERY_KEYS = frozenset({"endpoint", "region", "profile", "addressing"})
ADDRESSING = frozenset({"auto", "path", "virtual"})
MAX_POOL = 32  # connections per client: parts in flight of several puts, readers
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
NO_BUCKET_CODES = frozenset({"NoSuchBucket"})
REFUSED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
    }
)


_LOCK = threading.Lock()
_SESSIONS: dict[str | None, Any] = {}  # boto3 sessions by profile name


@dataclass(frozen=True)
class S3Location:
    """Where a store lives: a bucket, a key prefix in it ('' or 'a/b', no slash at either
    end), and how to reach it (endpoint None: AWS, or AWS_ENDPOINT_URL_S3/AWS_ENDPOINT_URL)."""

    url: str
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None
    profile: str | None
    addressing: str

    @property
    def where(self) -> str:
        """'s3://bucket/prefix at http://host:port' for messages (no secret)."""
        at = self.endpoint or "AWS"
        return f"s3://{self.bucket}/{self.prefix} at {at}".replace("/ at", " at")

    @property
    def redacted(self) -> str:
        return redact_url(self.url)


def parse_url(url: str) -> S3Location:
    """The location of an `s3://` store URL; InvalidInput (saying the form) when malformed."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInput(f"invalid S3 store URL {redact_url(url)!r}: expected {URL_FORM}")
    if "@" in parts.netloc or ":" in parts.netloc:
        raise InvalidInput(
            f"invalid S3 store URL {redact_url(url)!r}: the host part is the bucket name; "
            "credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - QUERY_KEYS)
    if unknown:
        raise InvalidInput(
            f"invalid S3 store URL {redact_url(url)!r}: unknown parameter {unknown[0]!r} "
            f"(known: {', '.join(sorted(QUERY_KEYS))})"
        )
    prefix = parts.path.strip("/")
    if prefix:
        validate_prefix(prefix + "/")
    addressing = query.get("addressing") or "auto"
    if addressing not in ADDRESSING:
        raise InvalidInput(
            f"invalid S3 store URL {redact_url(url)!r}: addressing must be one of "
            f"{', '.join(sorted(ADDRESSING))}"
        )
    endpoint = (
        query.get("endpoint")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise InvalidInput(
            f"invalid S3 endpoint {endpoint!r} in {redact_url(url)!r}: "
            "expected http://host:port or https://host"
        )
    if endpoint and addressing == "auto":
        addressing = "path"  # MinIO, Ceph, moto...: no bucket subdomains
    return S3Location(
        url=url,
        bucket=parts.netloc,
        prefix=prefix,
        endpoint=endpoint,
        region=query.get("region") or None,
        profile=query.get("profile") or None,
        addressing=addressing,
    )


def make_client(loc: S3Location, *, attempts: int = 5, connect_timeout: float = 10.0) -> Any:
    """A boto3 S3 client for `loc` (thread-safe): standard retry mode (exponential backoff
    with jitter on throttling, 5xx and connection errors), a pool for parallel parts."""
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        raise BackendUnavailable(
            f"the S3 object store {loc.redacted} needs boto3: pip install 'kaon[s3]'"
        ) from None
    config = Config(
        retries={"mode": "standard", "max_attempts": attempts},
        max_pool_connections=MAX_POOL,
        connect_timeout=connect_timeout,
        read_timeout=120,
        s3={"addressing_style": loc.addressing},
    )
    errors: tuple[type[Exception], ...] = (
        *client_errors(),
        ValueError,
    )  # ProfileNotFound, a bad endpoint or region...
    try:
        with _LOCK:  # a session loads botocore's models once; making clients is not thread-safe
            session = _SESSIONS.get(loc.profile)
            if session is None:
                session = _SESSIONS[loc.profile] = boto3.session.Session(profile_name=loc.profile)
            return session.client(
                "s3", endpoint_url=loc.endpoint, region_name=loc.region, config=config
            )
    except errors as exc:
        raise BackendUnavailable(
            f"cannot use the S3 object store {loc.redacted}: {_one_line(exc)}"
        ) from None


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('NoSuchKey', '404'...), else ''."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def client_errors() -> tuple[type[Exception], ...]:
    """The failures botocore reports (S3's answers, connections, credentials): caught and
    translated; anything else is a bug and goes through as it is."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    return (BotoCoreError, ClientError)


def translate(exc: Exception, loc: S3Location, *, action: str, key: str = "") -> KaonError:
    """The kaon error for a botocore failure while doing `action` ('read', 'store'...)."""
    code = error_code(exc)
    what = f"{action} object {key!r} in" if key else action
    if code in NOT_FOUND_CODES and key:
        return NotFound(f"object {key!r} not found in the object store", key=key)
    if code in NO_BUCKET_CODES or (code in NOT_FOUND_CODES and not key):
        return BackendUnavailable(
            f"S3 bucket {loc.bucket!r} does not exist at {loc.endpoint or 'AWS'}: "
            f"create it first (kaon never creates buckets), e.g. aws s3 mb s3://{loc.bucket}",
            store=loc.redacted,
        )
    if code in REFUSED_CODES:
        return BackendUnavailable(
            f"S3 refused the credentials to {what} {loc.where} ({code}): check "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy",
            store=loc.redacted,
        )
    name = type(exc).__name__
    if name == "NoCredentialsError":
        return BackendUnavailable(
            f"no S3 credentials to {what} {loc.where}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a host with an instance role",
            store=loc.redacted,
        )
    from botocore.exceptions import ConnectionError as Unreachable
    from botocore.exceptions import HTTPClientError

    if not isinstance(exc, Unreachable | HTTPClientError):
        return BackendUnavailable(
            f"S3 failed to {what} {loc.where}: {code or name}: {_one_line(exc)}",
            store=loc.redacted,
        )
    return BackendUnavailable(
        f"cannot reach the S3 endpoint to {what} {loc.where}: {_one_line(exc)} "
        "(check endpoint= in KAON_STORE_URL or AWS_ENDPOINT_URL_S3, and that the server runs)",
        store=loc.redacted,
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
