"""UploadStore: S3 multipart uploads and their parts (kaon.services.s3.multipart), kept in the
database so that a part sent to any server, and the completion, find the upload another server
started (issue 17). A part's bytes are an object of the object store; its row names the key.

Every method is atomic: a part added to an upload that was completed or removed meanwhile is
refused (None), never left behind. Backends: kaon.db (SQLite, PostgreSQL), kaon.memory.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from kaon.core.s3.uploads import Part, Upload


class UploadRecord(NamedTuple):
    upload: Upload
    completed: float | None  # when it was completed (None: still open)
    answer: dict[str, str] | None  # what its completion answered (a retry answers the same)


class StoredPart(NamedTuple):
    part: Part
    key: str  # the object holding its bytes


class UploadStore(Protocol):
    def create(self, upload: Upload) -> None:
        """Record a new upload, with no parts."""
        ...

    def get(self, upload_id: str) -> UploadRecord | None:
        """The upload (open or completed); None when there is none (aborted, or removed)."""
        ...

    def add_part(self, upload_id: str, part: Part, key: str) -> str | None:
        """Record `part` (held by object `key`) of the open upload, replacing a part of the
        same number; the key of the part replaced ("" for none), or None when the upload is
        gone or completed (nothing recorded: the caller removes the object)."""
        ...

    def parts(self, upload_id: str) -> list[StoredPart]:
        """The upload's parts, by number."""
        ...

    def finish(self, upload_id: str, answer: dict[str, str], now: float) -> list[str] | None:
        """Mark the open upload completed at `now` with `answer` and forget its parts; the
        keys of their objects (for the caller to delete), or None when it is not open."""
        ...

    def remove(self, upload_id: str) -> list[str]:
        """Forget the upload and its parts; the keys of their objects ([] for none)."""
        ...

    def uploads(self, bucket: str | None = None) -> list[UploadRecord]:
        """Every upload of `bucket` (of every bucket for None), open or completed."""
        ...
