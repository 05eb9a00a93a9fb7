"""The S3 gateway's door to the audit log: every PUT, POST and DELETE it answers, refused ones
too (an unknown key, a bad signature, AccessDenied), as `S3 <Operation>` with AWS's names.

The user is the one the signing key acts for (its owner label for a key older than users),
the target `bucket/key`, the detail the access key id (also the one a refused request
claimed), the job whose key it was and the commit a write made. UploadPart is upload plumbing (the parts of one object, visible once
CompleteMultipartUpload commits them, which is recorded): left out unless refused.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from typing import Any

from kaon.api.s3.http import Request
from kaon.core.audit import AuditEntry
from kaon.core.credentials import S3Credential
from kaon.core.s3.buckets import parse_bucket
from kaon.wiring import Platform

WRITES = frozenset({"PUT", "POST", "DELETE"})
REFUSED = frozenset({401, 403})
_CLAIMED = re.compile(r"Credential=([A-Za-z0-9]{1,128})/")


def operation(req: Request) -> str:
    """The S3 operation a write is (as AWS names it)."""
    m, q, h = req.method, req.query, req.headers
    if not req.key:
        if m == "PUT":
            return "CreateBucket"
        if m == "POST" and "delete" in q:
            return "DeleteObjects"
        if m == "POST" and "commit" in q:
            return "CommitTransaction"
        if m == "DELETE" and "transaction" in q:
            return "AbortTransaction"
        return "DeleteBucket" if m == "DELETE" else f"{m}Bucket"
    if m == "PUT" and "uploadId" in q:
        return "UploadPartCopy" if "x-amz-copy-source" in h else "UploadPart"
    if m == "PUT":
        return "CopyObject" if "x-amz-copy-source" in h else "PutObject"
    if m == "POST" and "uploads" in q:
        return "CreateMultipartUpload"
    if m == "POST" and "uploadId" in q:
        return "CompleteMultipartUpload"
    if m == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    return f"{m}Object"


def record(
    p: Platform, req: Request, who: S3Credential | None, status: int, commit: str, client: str
) -> None:
    """Queue the entry of a write the gateway answered with `status`."""
    op = operation(req)
    if op == "UploadPart" and status not in REFUSED:
        return
    detail: dict[str, Any] = {}
    if client:
        detail["client"] = client
    key = who.access_key if who is not None else _claimed(req)
    if key:
        detail["key"] = key
    if who is not None and who.job:
        detail["job"] = who.job
    if commit:
        detail["commit"] = commit
    if req.query.get("transaction") or req.headers.get("x-kaon-transaction"):
        detail["transaction"] = req.query.get("transaction") or req.headers["x-kaon-transaction"]
    entry = AuditEntry(
        at=p.audit.clock(),
        user=(who.user or who.owner) if who is not None else "",
        action=f"S3 {op}",
        target="/".join(x for x in (req.bucket, req.key) if x),
        status=status,
        detail=json.dumps(detail, separators=(",", ":")),
    )
    p.audit.add(entry, functools.partial(_workspace, p, req.bucket))


def _claimed(req: Request) -> str:
    """The access key id a request names (checked or not)."""
    found = _CLAIMED.search(req.headers.get("authorization", ""))
    if found:
        return found.group(1)
    credential = req.query.get("X-Amz-Credential") or req.query.get("AWSAccessKeyId", "")
    return credential.split("/", 1)[0][:128]


def _workspace(p: Platform, bucket: str, entry: AuditEntry) -> AuditEntry:
    """On the writer thread: the workspace whose internal repo the bucket is."""
    if not bucket:
        return entry
    owner = p.workspaces.owner_of_repo(parse_bucket(bucket).repo)
    return entry if owner is None else replace(entry, workspace=owner)
