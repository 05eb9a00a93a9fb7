"""An S3 multipart upload and its parts, as kept between requests (kaon.ports.s3uploads)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Upload:
    id: str
    bucket: str
    key: str
    created: float
    owner: str  # the access key that started it ("" anonymous)
    transaction: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # kept with the completed object


@dataclass(frozen=True)
class Part:
    number: int
    etag: str  # MD5 of the part, hex (what S3 answers)
    size: int
    modified: float
    checksums: dict[str, str] = field(default_factory=dict)  # x-amz-checksum-* sent with it
