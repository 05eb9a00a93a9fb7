"""Conditional writes (S3's If-Match / If-None-Match: * on PUT, CopyObject, DELETE and
CompleteMultipartUpload): what the current object must be for the write to go ahead.

The check is pure; it is run inside the branch's commit critical section (CommitService), on
the head the new commit is built on, so checking and committing are one atomic step.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core.errors import PathNotFound, PreconditionFailed


@dataclass(frozen=True)
class WriteCondition:
    if_match: tuple[str, ...] = ()  # ETags without quotes; "*": any existing object
    if_none_match: bool = False  # If-None-Match: * (the key must not exist)

    def check(self, key: str, etag: str | None) -> None:
        """Raise unless the object at `key` (its ETag, None for no object) allows the write."""
        if self.if_none_match and etag is not None:
            raise PreconditionFailed(
                f"{key!r} already exists and the write said If-None-Match: *; "
                "another writer got there first: read it, then write under a new key",
                condition="If-None-Match",
            )
        if not self.if_match:
            return
        if etag is None:
            raise PathNotFound(f"no object {key!r}: the write said If-Match, which needs one")
        if "*" not in self.if_match and etag not in self.if_match:
            raise PreconditionFailed(
                f'{key!r} has ETag "{etag}", not the If-Match one: it changed since you '
                "read it; read it again and retry",
                condition="If-Match",
            )
