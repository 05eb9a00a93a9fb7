"""One error hierarchy for kaon, with user-safe messages.

    KaonError
    ├── NotFound            (HTTP 404, exit 4)
    │   ├── RepoNotFound, BranchNotFound, CommitNotFound, PathNotFound, ChunkNotFound
    │   └── WorkspaceNotFound, JobNotFound, ModelNotFound, UploadNotFound
    ├── AlreadyExists       (HTTP 409, exit 5)
    ├── Conflict            (HTTP 409, exit 5)   stale ref, ambiguous prefix, missing chunks
    │   ├── MissingChunks
    │   └── BaseMoved
    │   └── JobNotRunning, PreconditionFailed
    ├── InvalidInput        (HTTP 400, exit 2)   bad name, bad address, path escaping the repo
    │   ├── InvalidBundle   a source/data bundle or manifest that cannot be used
    │   └── BuildFailed     requirements that do not resolve or install
    │   └── InvalidRange, BadDigest, InvalidPart, Unsupported (S3 gateway)
    ├── PermissionDenied    (HTTP 401, exit 6)   missing or wrong token
    │   └── SignatureMismatch, UnknownAccessKey, RequestTimeSkewed, ReadOnly (S3 gateway)
    ├── StorageFull         (HTTP 507, exit 7)
    ├── BackendUnavailable  (HTTP 503, exit 3)   server not running, database unreachable
    │   └── Busy            too many uploads at once: retry after `retry_after` s
    ├── CorruptObject       (HTTP 500, exit 8)   stored bytes do not match their hash
    └── InvalidTransition   (HTTP 500, exit 1)   a state change a lifecycle forbids (a bug)

Every error carries a `message` meant for users (what failed, where, what to do) and a stable
`code` used on the wire, so the SDK re-raises the same class the server raised.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KaonError(Exception):
    """Base of every error kaon raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(KaonError):
    code = "not_found"
    http_status = 404
    exit_code = 4


class RepoNotFound(NotFound):
    code = "repo_not_found"


class BranchNotFound(NotFound):
    code = "branch_not_found"


class CommitNotFound(NotFound):
    code = "commit_not_found"


class PathNotFound(NotFound):
    code = "path_not_found"


class ChunkNotFound(NotFound):
    code = "chunk_not_found"


class WorkspaceNotFound(NotFound):
    code = "workspace_not_found"


class JobNotFound(NotFound):
    code = "job_not_found"


class PipelineNotFound(NotFound):
    code = "pipeline_not_found"


class DatumNotFound(NotFound):
    code = "datum_not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class StagingNotFound(NotFound):
    """A staging of puts (kaon.services.staging) that expired, or a restart lost."""

    code = "staging_not_found"


class UploadNotFound(NotFound):
    """An S3 multipart upload id that is unknown, completed or aborted."""

    code = "upload_not_found"


class AlreadyExists(KaonError):
    code = "already_exists"
    http_status = 409
    exit_code = 5


class Conflict(KaonError):
    code = "conflict"
    http_status = 409
    exit_code = 5


class MissingChunks(Conflict):
    """A commit names chunks the store does not hold (never uploaded, or reclaimed by gc)."""

    code = "missing_chunks"


class BaseMoved(Conflict):
    """A commit built on a base commit the branch has moved away from: send every file."""

    code = "base_moved"


class JobNotRunning(Conflict):
    code = "job_not_running"


class PreconditionFailed(Conflict):
    """A conditional request (If-Match, If-Unmodified-Since) whose condition does not hold."""

    code = "precondition_failed"
    http_status = 412


class InvalidInput(KaonError):
    code = "invalid_input"
    http_status = 400
    exit_code = 2


class InvalidBundle(InvalidInput):
    code = "invalid_bundle"


class BuildFailed(InvalidInput):
    """An environment could not be resolved or installed; the message is the tool's own."""

    code = "build_failed"


class InvalidRange(InvalidInput):
    """A byte range that starts past the end of the object."""

    code = "invalid_range"
    http_status = 416


class BadDigest(InvalidInput):
    """Received bytes do not match the digest or checksum the client sent with them."""

    code = "bad_digest"


class InvalidPart(InvalidInput):
    """A multipart upload completed with parts that are missing, out of order or too small."""

    code = "invalid_part"


class Unsupported(InvalidInput):
    """A request kaon understands but does not implement (S3 NotImplemented)."""

    code = "unsupported"
    http_status = 501


class PermissionDenied(KaonError):
    code = "permission_denied"
    http_status = 401
    exit_code = 6


class Forbidden(PermissionDenied):
    """Who asked is known, and may not do this (a viewer writing, a user with no role, a job
    reaching past its workspace)."""

    code = "forbidden"
    http_status = 403


class SignatureMismatch(PermissionDenied):
    """An AWS Signature V4 that does not match the request and the key's secret."""

    code = "signature_mismatch"


class UnknownAccessKey(PermissionDenied):
    code = "unknown_access_key"


class RequestTimeSkewed(PermissionDenied):
    """A signed request dated too far from the server's clock (or a presigned URL expired)."""

    code = "request_time_skewed"


class ReadOnly(PermissionDenied):
    """A write to a version that cannot change (a commit, not a branch)."""

    code = "read_only"


class StorageFull(KaonError):
    code = "storage_full"
    http_status = 507
    exit_code = 7


class BackendUnavailable(KaonError):
    code = "unavailable"
    http_status = 503
    exit_code = 3


class Busy(BackendUnavailable):
    """The server takes no more of these requests right now; answered with a Retry-After
    header (details: `retry_after`, seconds), which the SDK honours."""

    code = "busy"


class CorruptObject(KaonError):
    code = "corrupt_object"
    http_status = 500
    exit_code = 8


class InvalidTransition(KaonError):
    """A state change its lifecycle does not allow (kaon.core.jobs.JOB_MOVES,
    kaon.core.endpoints.ALLOWED): a bug in the code that asked for it, never the user's."""

    code = "invalid_transition"


def _all_subclasses(cls: type[KaonError]) -> list[type[KaonError]]:
    out: list[type[KaonError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_class_for(code: str) -> type[KaonError]:
    """The error class whose wire `code` is `code` (KaonError if unknown)."""
    for cls in _all_subclasses(KaonError):
        if cls.code == code:
            return cls
    return KaonError
