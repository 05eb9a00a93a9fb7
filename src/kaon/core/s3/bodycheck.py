"""Integrity of an uploaded body: every digest the client sent with it is checked.

Content-MD5 (base64), a hex x-amz-content-sha256 (the signed payload hash) and the flexible
checksums x-amz-checksum-crc32 / -sha1 / -sha256 (base64, in a header or an aws-chunked
trailer). CRC32C and CRC64NVME need libraries the standard library lacks: accepted unchecked
(only their form is). The checksums sent are kept (`checksums`), to be stored with the object.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Mapping
from typing import Any

from kaon.core.errors import BadDigest

_CHECKSUMS = ("crc32", "sha1", "sha256")
_UNCHECKED = {"crc32c": 4, "crc64nvme": 8}  # digest sizes


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class BodyCheck:
    def __init__(self, headers: Mapping[str, str], payload_hash: str, md5: bool = False) -> None:
        """`md5`: also compute the MD5 (multipart part ETags) even if no Content-MD5 came."""
        self._headers = headers
        self._content_md5 = headers.get("content-md5", "")
        self._sha256_hex = payload_hash if len(payload_hash) == 64 else ""
        self._hashers: dict[str, Any] = {}
        if md5 or self._content_md5:
            self._hashers["md5"] = hashlib.md5(usedforsecurity=False)
        if self._sha256_hex:
            self._hashers["sha256"] = hashlib.sha256()
        trailer = headers.get("x-amz-trailer", "").lower()
        for name in _CHECKSUMS:
            header = f"x-amz-checksum-{name}"
            if (header in headers or trailer == header) and name not in self._hashers:
                self._hashers[name] = _Crc32() if name == "crc32" else hashlib.new(name)
        self.size = 0
        self.checksums: dict[str, str] = {}  # x-amz-checksum-* header -> base64, once verified

    def update(self, data: bytes) -> None:
        self.size += len(data)
        for hasher in self._hashers.values():
            hasher.update(data)

    @property
    def md5_hex(self) -> str:
        return str(self._hashers["md5"].digest().hex()) if "md5" in self._hashers else ""

    def verify(self, trailers: Mapping[str, str] | None = None) -> None:
        digests = {name: h.digest() for name, h in self._hashers.items()}
        if self._content_md5 and base64.b64encode(digests["md5"]).decode() != self._content_md5:
            raise BadDigest("the Content-MD5 you specified did not match what we received")
        if self._sha256_hex and digests["sha256"].hex() != self._sha256_hex:
            raise BadDigest(
                "the x-amz-content-sha256 you provided does not match what we received",
                s3_code="XAmzContentSHA256Mismatch",
            )
        sent = {**self._headers, **(trailers or {})}
        for name in _CHECKSUMS:
            claimed = sent.get(f"x-amz-checksum-{name}")
            if claimed and base64.b64encode(digests[name]).decode() != claimed:
                raise BadDigest(f"the {name.upper()} checksum you specified did not match")
            if claimed:
                self.checksums[f"x-amz-checksum-{name}"] = claimed
        for name, size in _UNCHECKED.items():  # kept as the client computed them
            claimed = sent.get(f"x-amz-checksum-{name}")
            if claimed:
                if len(_b64(claimed)) != size:
                    raise BadDigest(f"the {name.upper()} checksum you specified is malformed")
                self.checksums[f"x-amz-checksum-{name}"] = claimed


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""
