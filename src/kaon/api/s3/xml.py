"""S3's XML: responses built as strings (every text escaped), requests parsed with ElementTree.

Keys, prefixes and markers are URL-encoded in listings when the client asked for
`encoding-type=url` (botocore always does, and decodes them back).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from urllib.parse import quote
from xml.sax.saxutils import escape

from kaon.core.errors import InvalidInput, Unsupported
from kaon.core.s3.uploads import Part, Upload
from kaon.core.tree import FileNode
from kaon.services.s3.buckets import Page
from kaon.services.s3.objects import etag_of

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
OWNER = "<Owner><ID>kaon</ID><DisplayName>kaon</DisplayName></Owner>"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def _t(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _doc(root: str, *parts: str) -> bytes:
    return f'{HEAD}<{root} xmlns="{NS}">{"".join(parts)}</{root}>'.encode()


def error(code: str, message: str, resource: str, request_id: str, **extra: str) -> bytes:
    more = "".join(_t(k, v) for k, v in extra.items())
    body = _t("Code", code) + _t("Message", message) + _t("Resource", resource)
    return f"{HEAD}<Error>{body}{more}{_t('RequestId', request_id)}</Error>".encode()


def buckets(items: Iterable[tuple[str, float]]) -> bytes:
    rows = "".join(
        f"<Bucket>{_t('Name', name)}{_t('CreationDate', iso(created))}</Bucket>"
        for name, created in items
    )
    return _doc("ListAllMyBucketsResult", OWNER, f"<Buckets>{rows}</Buckets>")


def _contents(key: str, node: FileNode, modified: float, enc: bool, owner: bool) -> str:
    return (
        f"<Contents>{_t('Key', _enc(key, enc))}{_t('LastModified', iso(modified))}"
        f"{_t('ETag', chr(34) + etag_of(node.chunks) + chr(34))}{_t('Size', node.size)}"
        f"{OWNER if owner else ''}<StorageClass>STANDARD</StorageClass></Contents>"
    )


def _enc(text: str, enc: bool) -> str:
    return quote(text, safe="/") if enc else text


def listing(
    bucket: str,
    page: Page,
    *,
    v2: bool,
    prefix: str,
    delimiter: str,
    max_keys: int,
    enc: bool,
    marker: str = "",
    token: str | None = None,  # the continuation-token sent, echoed even when empty
    next_token: str = "",
    start_after: str = "",
    owner: bool = False,  # v1 always, v2 with fetch-owner=true
) -> bytes:
    parts = [_t("Name", bucket), _t("Prefix", _enc(prefix, enc))]
    if v2:
        parts.append(_t("KeyCount", len(page.objects) + len(page.prefixes)))
        if token is not None:
            parts.append(_t("ContinuationToken", token))
        if next_token:
            parts.append(_t("NextContinuationToken", next_token))
        if start_after:
            parts.append(_t("StartAfter", _enc(start_after, enc)))
    else:
        parts.append(_t("Marker", _enc(marker, enc)))
        if page.truncated and delimiter:
            parts.append(_t("NextMarker", _enc(page.last, enc)))
    parts.append(_t("MaxKeys", max_keys))
    if delimiter:
        parts.append(_t("Delimiter", _enc(delimiter, enc)))
    if enc:
        parts.append("<EncodingType>url</EncodingType>")
    parts.append(_t("IsTruncated", "true" if page.truncated else "false"))
    parts += [_contents(k, node, when, enc, owner) for k, node, when in page.objects]
    parts += [
        f"<CommonPrefixes>{_t('Prefix', _enc(p, enc))}</CommonPrefixes>" for p in page.prefixes
    ]
    return _doc("ListBucketResult", *parts)


def location() -> bytes:
    return f'{HEAD}<LocationConstraint xmlns="{NS}"></LocationConstraint>'.encode()


def versioning() -> bytes:
    return _doc("VersioningConfiguration", "<Status>Enabled</Status>")


def initiated(bucket: str, key: str, upload_id: str) -> bytes:
    return _doc(
        "InitiateMultipartUploadResult",
        _t("Bucket", bucket),
        _t("Key", key),
        _t("UploadId", upload_id),
    )


def completed(
    location_url: str, bucket: str, key: str, etag: str, checksums: dict[str, str]
) -> bytes:
    """`checksums`: x-amz-checksum-<name> and x-amz-checksum-type headers, as elements."""
    extra = [
        _t(
            f"Checksum{k.rsplit('-', 1)[-1].upper()}"
            if k != "x-amz-checksum-type"
            else "ChecksumType",
            v,
        )
        for k, v in checksums.items()
    ]
    return _doc(
        "CompleteMultipartUploadResult",
        _t("Location", location_url),
        _t("Bucket", bucket),
        _t("Key", key),
        _t("ETag", f'"{etag}"'),
        *extra,
    )


def copied(root: str, etag: str, modified: float) -> bytes:
    return _doc(root, _t("LastModified", iso(modified)), _t("ETag", f'"{etag}"'))


def parts(upload: Upload, items: list[Part], marker: int, max_parts: int) -> bytes:
    page = [p for p in items if p.number > marker][:max_parts]
    truncated = len([p for p in items if p.number > marker]) > max_parts
    rows = "".join(
        f"<Part>{_t('PartNumber', p.number)}{_t('LastModified', iso(p.modified))}"
        f"{_t('ETag', chr(34) + p.etag + chr(34))}{_t('Size', p.size)}</Part>"
        for p in page
    )
    return _doc(
        "ListPartsResult",
        _t("Bucket", upload.bucket),
        _t("Key", upload.key),
        _t("UploadId", upload.id),
        OWNER.replace("Owner", "Initiator"),
        OWNER,
        "<StorageClass>STANDARD</StorageClass>",
        _t("PartNumberMarker", marker),
        _t("NextPartNumberMarker", page[-1].number if page else marker),
        _t("MaxParts", max_parts),
        _t("IsTruncated", "true" if truncated else "false"),
        rows,
    )


def uploads(bucket: str, items: list[Upload]) -> bytes:
    rows = "".join(
        f"<Upload>{_t('Key', u.key)}{_t('UploadId', u.id)}{OWNER}"
        f"<StorageClass>STANDARD</StorageClass>{_t('Initiated', iso(u.created))}</Upload>"
        for u in items
    )
    return _doc(
        "ListMultipartUploadsResult",
        _t("Bucket", bucket),
        "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>",
        _t("MaxUploads", 1000),
        "<IsTruncated>false</IsTruncated>",
        rows,
    )


def deleted(keys: list[str], errors: list[tuple[str, str, str]], quiet: bool) -> bytes:
    rows = "" if quiet else "".join(f"<Deleted>{_t('Key', k)}</Deleted>" for k in keys)
    rows += "".join(
        f"<Error>{_t('Key', k)}{_t('Code', c)}{_t('Message', m)}</Error>" for k, c, m in errors
    )
    return _doc("DeleteResult", rows)


def transaction(bucket: str, tx: str, commits: list[str]) -> bytes:
    rows = "".join(_t("Commit", c) for c in commits)
    return _doc("CommitTransactionResult", _t("Bucket", bucket), _t("Transaction", tx), rows)


# requests --------------------------------------------------------------------------------
def _parse(body: bytes, root: str) -> ET.Element:
    try:
        doc = ET.fromstring(body)
    except ET.ParseError as exc:
        raise InvalidInput(f"malformed XML: {exc}", s3_code="MalformedXML") from None
    for el in doc.iter():
        el.tag = el.tag.rsplit("}", 1)[-1]
    if doc.tag != root:
        raise InvalidInput(f"expected a <{root}> document, got <{doc.tag}>", s3_code="MalformedXML")
    return doc


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    doc = _parse(body, "Delete")
    keys = [o.findtext("Key") or "" for o in doc.findall("Object")]
    for name in ("ETag", "LastModifiedTime", "Size"):
        if doc.find(f"Object/{name}") is not None:
            raise Unsupported(f"<Object><{name}> conditions in DeleteObjects are not implemented")
    if not keys or len(keys) > 1000 or not all(keys):
        raise InvalidInput("delete 1 to 1000 objects, each with a <Key>", s3_code="MalformedXML")
    return keys, (doc.findtext("Quiet") or "").strip().lower() == "true"


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    doc = _parse(body, "CompleteMultipartUpload")
    try:
        return [
            (int(p.findtext("PartNumber") or ""), p.findtext("ETag") or "")
            for p in doc.findall("Part")
        ]
    except ValueError:
        raise InvalidInput(
            "every <Part> needs a numeric <PartNumber>", s3_code="MalformedXML"
        ) from None
