"""Conditional writes (S3's If-Match / If-None-Match on PUT, CopyObject, DELETE and
CompleteMultipartUpload, and DeleteObject's x-amz-if-match-size / -last-modified-time): what
the current object must be for the write to go ahead.

The check is pure; it is run inside the branch's commit critical section (CommitService), on
the head the new commit is built on, so checking and committing are one atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core.errors import PathNotFound, PreconditionFailed


@dataclass(frozen=True)
class Current:
    """The object a conditional write would replace or delete, as the gateway serves it."""

    etag: str
    size: int
    modified: float  # its LastModified (the time of the commit that holds it)


@dataclass(frozen=True)
class WriteCondition:
    if_match: tuple[str, ...] = ()  # ETags without quotes; "*": any existing object
    if_none_match: tuple[str, ...] = ()  # "*": no object; ETags: not one of these
    size: int | None = None  # x-amz-if-match-size
    modified: int | None = None  # x-amz-if-match-last-modified-time, whole seconds

    def check(self, key: str, current: Current | None) -> None:
        """Raise unless the object at `key` (None: no object) allows the write: 412
        PreconditionFailed, or PathNotFound when a condition needs an object."""
        if current is None:
            if self.if_match or self.size is not None or self.modified is not None:
                raise PathNotFound(f"no object {key!r}: the write's If-Match needs one")
            return
        none_match = self.if_none_match
        if "*" in none_match or current.etag in none_match:
            raise PreconditionFailed(
                f"{key!r} already exists (the write said If-None-Match: "
                f"{', '.join(none_match)}); another writer got there first: read it, then "
                "write under a new key",
                condition="If-None-Match",
            )
        if self.if_match and "*" not in self.if_match and current.etag not in self.if_match:
            raise PreconditionFailed(
                f'{key!r} has ETag "{current.etag}", not the If-Match one: it changed since '
                "you read it; read it again and retry",
                condition="If-Match",
            )
        if self.size is not None and current.size != self.size:
            raise PreconditionFailed(
                f"{key!r} has {current.size} bytes, not {self.size} (x-amz-if-match-size)",
                condition="x-amz-if-match-size",
            )
        if self.modified is not None and int(current.modified) != self.modified:
            raise PreconditionFailed(
                f"{key!r} was last modified at another time than the "
                "x-amz-if-match-last-modified-time given: read it again and retry",
                condition="x-amz-if-match-last-modified-time",
            )
