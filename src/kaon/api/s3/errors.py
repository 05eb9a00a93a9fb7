"""kaon errors as S3 error codes and statuses: the one place they are mapped.

An error may name its S3 code in `details["s3_code"]` (a malformed XML body, a bucket name S3
would call invalid); otherwise the first class below that matches decides.
"""

from __future__ import annotations

from kaon.core import errors as e

_BY_CLASS: list[tuple[type[e.KaonError], str, int]] = [
    (e.SignatureMismatch, "SignatureDoesNotMatch", 403),
    (e.UnknownAccessKey, "InvalidAccessKeyId", 403),
    (e.RequestTimeSkewed, "RequestTimeTooSkewed", 403),
    (e.PermissionDenied, "AccessDenied", 403),  # ReadOnly included
    (e.UploadNotFound, "NoSuchUpload", 404),
    (e.RepoNotFound, "NoSuchBucket", 404),
    (e.BranchNotFound, "NoSuchBucket", 404),
    (e.CommitNotFound, "NoSuchBucket", 404),
    (e.NotFound, "NoSuchKey", 404),
    (e.AlreadyExists, "BucketAlreadyOwnedByYou", 409),
    (e.PreconditionFailed, "PreconditionFailed", 412),
    (e.InvalidRange, "InvalidRange", 416),
    (e.BadDigest, "BadDigest", 400),
    (e.InvalidPart, "InvalidPart", 400),
    (e.Unsupported, "NotImplemented", 501),
    (e.InvalidInput, "InvalidRequest", 400),
    (e.Conflict, "OperationAborted", 409),
    (e.StorageFull, "InsufficientStorage", 507),
    (e.BackendUnavailable, "ServiceUnavailable", 503),
]

_STATUS = {
    "XAmzContentSHA256Mismatch": 400,
    "InvalidBucketName": 400,
    "InvalidArgument": 400,
    "MalformedXML": 400,
    "EntityTooSmall": 400,
    "InvalidPartOrder": 400,
    "NoSuchUpload": 404,
    "NoSuchVersion": 404,
    "ConditionalRequestConflict": 409,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "EntityTooLarge": 400,
}


def s3_code(exc: e.KaonError) -> tuple[str, int]:
    """(S3 error code, HTTP status) for a kaon error."""
    override = exc.details.get("s3_code")
    if isinstance(override, str) and override in _STATUS:
        return override, _STATUS[override]
    if isinstance(exc, e.RequestTimeSkewed) and "expired" in exc.message:
        return "AccessDenied", 403
    for cls, code, status in _BY_CLASS:
        if isinstance(exc, cls):
            return code, status
    return "InternalError", 500
