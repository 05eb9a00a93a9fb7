"""The parts of a multipart object: GetObject?partNumber, UploadPartCopy's source range, and
the checksum of a completed upload (S3's COMPOSITE type: the checksum of the parts'
checksums, then `-<parts>`)."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
import zlib

from kaon.api.s3 import objmeta
from kaon.core.errors import BadDigest, InvalidInput, InvalidPart, InvalidRange
from kaon.core.tree import FileNode
from kaon.services.s3.multipart import MultipartUploads, Upload

ALGORITHMS = ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME")
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8}


def requested(
    query: dict[str, str], node: FileNode, has_range: bool
) -> tuple[tuple[int, int], int] | None:
    """((start, end), parts count) of `?partNumber=N`; None for the whole object (no
    partNumber, or part 1 of an object that was not uploaded in parts)."""
    if "partNumber" not in query:
        return None
    try:
        number = int(query["partNumber"])
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000:
        raise InvalidInput(
            "partNumber must be an integer from 1 to 10000", s3_code="InvalidArgument"
        )
    if has_range:
        raise InvalidInput("give a Range header or a partNumber, not both")
    sizes = objmeta.part_sizes(node.meta)
    if number > max(len(sizes), 1):
        raise InvalidPart(f"the object has {max(len(sizes), 1)} part(s): there is no part {number}")
    if not sizes:
        return None
    start = sum(sizes[: number - 1])
    return (start, start + sizes[number - 1]), len(sizes)


def copy_range(header: str | None, size: int) -> tuple[int, int]:
    """x-amz-copy-source-range (`bytes=first-last`, both given), within the source."""
    if header is None:
        return 0, size
    unit, _, spec = header.partition("=")
    first, _, last = spec.partition("-")
    if unit != "bytes" or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        raise InvalidInput(
            f"x-amz-copy-source-range {header!r}: expected bytes=<first>-<last>",
            s3_code="InvalidArgument",
        )
    if int(last) >= size:
        raise InvalidRange(
            f"x-amz-copy-source-range {header!r} is past the end of the source ({size} bytes)"
        )
    return int(first), int(last) + 1


def algorithm(headers: dict[str, str]) -> dict[str, str]:
    """The checksum a CreateMultipartUpload asks for, as metadata kept on the upload."""
    name = headers.get("x-amz-checksum-algorithm", "").upper()
    if not name:
        return {}
    if name not in ALGORITHMS:
        raise InvalidInput(
            f"unknown x-amz-checksum-algorithm {name!r}: use one of {', '.join(ALGORITHMS)}",
            s3_code="InvalidArgument",
        )
    default = FULL_OBJECT if name == "CRC64NVME" else COMPOSITE  # as S3
    kind = headers.get("x-amz-checksum-type", "").upper() or default
    crc = name.startswith("CRC")
    if not ((kind == COMPOSITE and name != "CRC64NVME") or (kind == FULL_OBJECT and crc)):
        raise InvalidInput(
            f"x-amz-checksum-type {kind!r} does not go with {name}: {COMPOSITE} for "
            f"SHA1, SHA256, CRC32, CRC32C; {FULL_OBJECT} for CRC32, CRC32C, CRC64NVME",
            s3_code="InvalidArgument",
        )
    return {objmeta.ALGORITHM: name, objmeta.CHECKSUM_TYPE: kind}


def listed_checksums(body: bytes, name: str) -> dict[int, str]:
    """Part number -> the Checksum<name> the client listed in CompleteMultipartUpload."""
    try:
        doc = ET.fromstring(body)
    except ET.ParseError:
        return {}  # the part list parser reports it
    out: dict[int, str] = {}
    for part in doc.iter():
        if part.tag.rsplit("}", 1)[-1] != "Part":
            continue
        fields = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in part}
        if fields.get(f"Checksum{name}") and fields.get("PartNumber", "").isdigit():
            out[int(fields["PartNumber"])] = fields[f"Checksum{name}"]
    return out


def composite(
    name: str, listed: list[int], stored: dict[int, str], claimed: dict[int, str], whole: str
) -> dict[str, str]:
    """The completed object's checksum metadata; BadDigest when a part was uploaded without
    its checksum, when the part list names another one, or when `whole` (the client's
    x-amz-checksum-<name>, may be "") is wrong."""
    raw = b""
    for number in listed:
        if not stored.get(number):
            raise BadDigest(
                f"part {number} was uploaded without its {name} checksum, which this upload "
                "requires: upload it again with the checksum"
            )
        if number in claimed and claimed[number] != stored[number]:
            raise BadDigest(
                f"part {number}: the {name} checksum in the part list is not the one the part "
                "was uploaded with"
            )
        raw += base64.b64decode(stored[number])
    digest = _digest(name, raw)
    if digest is None:  # CRC64NVME: no implementation at hand
        return {}
    value = f"{base64.b64encode(digest).decode()}-{len(listed)}"
    if whole and whole != value:
        raise BadDigest(f"the {name} checksum of the whole upload did not match")
    return {f"{objmeta.CHECKSUM}{name.lower()}": value, objmeta.CHECKSUM_TYPE: COMPOSITE}


def full_object(
    uploads: MultipartUploads, upload: Upload, listed: list[tuple[int, str]], name: str, whole: str
) -> dict[str, str]:
    """The FULL_OBJECT checksum metadata of a completed upload, before its commit: CRC32
    computed over the parts, read once more (BadDigest when `whole`, the client's, differs);
    CRC32C and CRC64NVME, which kaon cannot compute, as the client sent them (form checked)."""
    header = f"{objmeta.CHECKSUM}{name.lower()}"
    value = whole
    if name == "CRC32":
        crc = 0
        stream, _ = uploads.assemble(upload, listed)
        with stream:
            while piece := stream.read(1 << 20):
                crc = zlib.crc32(piece, crc)
        value = base64.b64encode(crc.to_bytes(4, "big")).decode()
        if whole and whole != value:
            raise BadDigest("the CRC32 checksum of the whole upload did not match")
    elif whole and len(_b64(whole)) != _SIZES[name]:
        raise BadDigest(f"the {name} checksum of the whole upload is malformed")
    return {header: value, objmeta.CHECKSUM_TYPE: FULL_OBJECT} if value else {}


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return b""


def _digest(name: str, data: bytes) -> bytes | None:
    if name in ("SHA1", "SHA256"):
        return hashlib.new(name.lower(), data).digest()
    if name == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if name == "CRC32C":
        return _crc32c(data).to_bytes(4, "big")
    return None


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def _crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of a few bytes (parts' checksums, never object bodies)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
