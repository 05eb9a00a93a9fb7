"""Headers that promise something kaon does not do (encryption, ACLs, storage classes,
tagging, object lock, website redirects, bucket-owner checks) are refused with 501
NotImplemented naming the header, never accepted and dropped. The values that promise nothing
beyond what kaon does are accepted; docs/s3.md lists them."""

from __future__ import annotations

from kaon.api.s3.http import Request
from kaon.core.errors import Unsupported

# header -> values accepted (they describe what kaon does anyway); any other value: 501
ACCEPTED: dict[str, frozenset[str]] = {
    "x-amz-acl": frozenset(["private", "bucket-owner-full-control"]),
    "x-amz-storage-class": frozenset(["STANDARD"]),
    "x-amz-tagging": frozenset([""]),
    "x-amz-tagging-directive": frozenset(["COPY", "REPLACE"]),  # no object has tags
    "x-amz-object-ownership": frozenset(["BucketOwnerEnforced"]),
    "x-amz-bucket-object-lock-enabled": frozenset(["false", "False"]),
    "x-amz-request-payer": frozenset(["requester"]),  # nobody is billed
    "x-amz-bypass-governance-retention": frozenset(["true", "false"]),  # nothing is retained
}
# headers refused whatever their value (names, or prefixes ending in '-')
REFUSED = (
    "x-amz-server-side-encryption",  # SSE-S3, SSE-KMS, SSE-C and their -* headers
    "x-amz-copy-source-server-side-encryption-",
    "x-amz-grant-",
    "x-amz-object-lock-",
    "x-amz-website-redirect-location",
    "x-amz-expected-bucket-owner",
    "x-amz-source-expected-bucket-owner",
    "x-amz-mfa",
    "x-amz-write-offset-bytes",
)
_WHY = {
    "x-amz-server-side-encryption": "kaon does not encrypt objects at rest; send no "
    "encryption headers (nothing stored would be protected by them)",
    "x-amz-copy-source-server-side-encryption-": "no object is stored encrypted",
    "x-amz-grant-": "access is by kaon S3 keys, not ACL grants",
    "x-amz-acl": "access is by kaon S3 keys: only 'private' and 'bucket-owner-full-control'",
    "x-amz-storage-class": "kaon has one storage class: STANDARD",
    "x-amz-tagging": "objects have no tags",
    "x-amz-object-lock-": "there is no object lock (commits are immutable; branches move)",
    "x-amz-bucket-object-lock-enabled": "there is no object lock",
}


def refuse_promises(req: Request) -> None:
    """Raise Unsupported (501) for the first header that promises what kaon does not do."""
    for name, value in req.headers.items():
        if not name.startswith("x-amz-"):
            continue
        accepted = ACCEPTED.get(name)
        if accepted is not None:
            if value.strip() not in accepted:
                _refuse(name, f"{name}: {value}", name)
            continue
        for refused in REFUSED:
            prefix = refused if refused.endswith("-") else refused + "-"
            if name == refused or name.startswith(prefix):
                _refuse(name, name, refused)


def _refuse(name: str, shown: str, why_key: str) -> None:
    why = _WHY.get(why_key, "leave it out")
    raise Unsupported(f"header {shown} is not implemented by kaon's S3 gateway: {why}", header=name)
