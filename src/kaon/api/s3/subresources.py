"""Which S3 sub-resources (the query parameters that select an API: `?acl`, `?versioning`,
`?uploads`, ...) the gateway routes, per level and method. Any other one is refused with
501 NotImplemented before anything runs, so `PUT /<name>?versioning` never creates a bucket
and `DELETE /<bucket>/<key>?versionId=` never deletes the current object."""

from __future__ import annotations

from kaon.api.s3.http import Request
from kaon.core.errors import Unsupported

# every sub-resource S3 defines, and kaon's own (commit, transaction)
SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "commit",
        "cors",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metadataConfiguration",
        "metadataInventoryTable",
        "metadataJournalTable",
        "metadataTable",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "renameObject",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "select-type",
        "session",
        "tagging",
        "torrent",
        "transaction",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    ]
)
_NONE: frozenset[str] = frozenset()
ROUTED: dict[tuple[str, str], frozenset[str]] = {
    ("service", "GET"): _NONE,  # ListBuckets
    ("bucket", "GET"): frozenset(["location", "versioning", "uploads"]),  # or a listing
    ("bucket", "HEAD"): _NONE,
    ("bucket", "PUT"): _NONE,  # CreateBucket: no sub-resource, and no other parameter
    ("bucket", "POST"): frozenset(["delete", "commit", "transaction"]),
    ("bucket", "DELETE"): frozenset(["transaction"]),
    # GetObject (versionId, partNumber), ListParts (uploadId)
    ("object", "GET"): frozenset(["versionId", "partNumber", "uploadId"]),
    ("object", "HEAD"): frozenset(["versionId", "partNumber", "uploadId"]),
    ("object", "PUT"): frozenset(["uploadId", "partNumber"]),  # PutObject, UploadPart
    ("object", "POST"): frozenset(["uploads", "uploadId"]),  # Create/CompleteMultipartUpload
    ("object", "DELETE"): frozenset(["uploadId"]),  # DeleteObject, AbortMultipartUpload
}
_SIGNING = ("x-id", "x-amz-")  # what SDKs add to any request: not an API


def check(req: Request) -> None:
    """Refuse a sub-resource (or, on CreateBucket, any parameter) not routed here."""
    level = "object" if req.key else "bucket" if req.bucket else "service"
    routed = ROUTED.get((level, req.method))
    if routed is None:
        return  # the method itself is refused by the router (MethodNotAllowed)
    for name in req.query:
        if name in SUBRESOURCES and name not in routed:
            raise Unsupported(
                f"{req.method} ?{name} on {'an' if level == 'object' else 'a'} {level} is not "
                "implemented by kaon's S3 gateway (see docs/s3.md for what is)"
            )
        if (level, req.method) == ("bucket", "PUT") and not name.lower().startswith(_SIGNING):
            raise Unsupported(
                f"PUT ?{name} on a bucket is not implemented: CreateBucket takes no "
                "query parameter, and nothing was created"
            )
