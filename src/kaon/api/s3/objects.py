"""Object requests: GetObject (ranges, conditions), HeadObject, PutObject, CopyObject and
DeleteObject(s); multipart uploads are kaon.api.s3.multipart's. Each write becomes one commit
(or is staged in the transaction named by x-kaon-transaction / x-amz-meta-kaon-transaction)."""

from __future__ import annotations

from urllib.parse import unquote

from kaon.api.s3 import objmeta, objparts, xml
from kaon.api.s3.conditions import (
    NOT_MODIFIED,
    read_condition,
    refuse_condition,
    write_condition,
)
from kaon.api.s3.dispatch import Ctx, commit_transaction
from kaon.api.s3.http import in_thread, read_small, receive_into, respond, stream
from kaon.core.errors import InvalidInput, InvalidRange, KaonError
from kaon.core.s3.buckets import Bucket, key_path, parse_bucket
from kaon.core.users import Action
from kaon.services.s3.objects import ObjectVersion

COMMIT_KEY = ".kaon-commit"  # a PutObject here with a transaction id commits it


async def handle(ctx: Ctx) -> None:
    """An object request (multipart uploads' are kaon.api.s3.multipart's)."""
    req = ctx.req
    m = req.method
    if m in ("GET", "HEAD"):
        await _get(ctx)
    elif m == "PUT" and "x-amz-copy-source" in req.headers:
        await _copy(ctx)
    elif m == "PUT":
        await _put(ctx)
    elif m == "DELETE":
        cond = write_condition(req, deleting=True)
        await in_thread(
            ctx.platform.s3.delete, ctx.bucket, [req.key], ctx.who, ctx.transaction, cond
        )
        await respond(ctx.send, 204, b"", ctx.base_headers())
    else:
        raise InvalidInput(f"{m} is not allowed on an object", s3_code="MethodNotAllowed")


# reading ---------------------------------------------------------------------------------
def _range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single `bytes=` range; None to send everything."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None  # S3 ignores what it does not support
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            n = int(last)
            if n > 0 and size == 0:
                raise InvalidRange("the requested range is not satisfiable (the object is empty)")
            return (max(size - n, 0), size) if n > 0 else None
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or end <= start:  # an empty object has no satisfiable range
        raise InvalidRange(
            f"the requested range is not satisfiable (the object has {size} bytes)",
            size=size,
        )
    return start, min(end, size)


def _object_headers(ctx: Ctx, obj: ObjectVersion, whole: bool) -> list[tuple[str, str]]:
    q = ctx.req.query
    checksum_mode = ctx.req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    headers = [
        *ctx.base_headers(),
        ("etag", f'"{obj.etag}"'),
        ("last-modified", xml.http_date(obj.commit.finished)),
        ("accept-ranges", "bytes"),
        ("x-amz-version-id", obj.commit.id),
        ("x-kaon-commit", obj.commit.id),
    ]
    stored = objmeta.response_headers(obj.node.meta, obj.path, checksum_mode, whole)
    overrides = {
        name: q[f"response-{name}"] for name in objmeta.STANDARD if f"response-{name}" in q
    }
    headers += [(k, v) for k, v in stored if k not in overrides]
    return headers + list(overrides.items())


async def _get(ctx: Ctx) -> None:
    p, req = ctx.platform, ctx.req
    obj = await in_thread(
        p.s3.stat,
        ctx.bucket,
        req.key,
        ctx.who,
        version=req.query.get("versionId", ""),
        read=not ctx.head,
    )
    size = obj.node.size
    part = objparts.requested(req.query, obj.node, "range" in req.headers)
    headers = _object_headers(ctx, obj, whole=part is None and "range" not in req.headers)
    status = read_condition(req.headers, obj.etag, obj.commit.finished)
    if status == NOT_MODIFIED:
        keep = ("etag", "last-modified", "x-amz-request-id", "x-amz-version-id")
        await respond(ctx.send, 304, b"", [h for h in headers if h[0] in keep])
        return
    span = None
    if part is not None:
        span, count = part
        headers.append(("x-amz-mp-parts-count", str(count)))
    elif "range" in req.headers:
        span = _range(req.headers["range"], size)
    start, end = span or (0, size)
    if span is not None:
        status = 206
        headers.append(("content-range", f"bytes {start}-{end - 1}/{size}"))
    headers.append(("content-length", str(end - start)))
    if ctx.head or end == start:
        await respond(ctx.send, status, b"", headers, head=True)
        return
    await stream(ctx.send, status, headers, p.s3.read(obj.node, start, end))


# writing ---------------------------------------------------------------------------------
async def _put(ctx: Ctx) -> None:
    req = ctx.req
    tx = ctx.transaction
    bucket = ctx.bucket
    if req.key == COMMIT_KEY and tx:
        refuse_condition(req, "a transaction's commit")
        await read_small(ctx.receive)
        await commit_transaction(ctx, bucket, tx)
        return
    if req.key.endswith("/"):  # a "folder" marker: directories exist through their files
        refuse_condition(req, "a folder marker (a key ending in '/')")
        try:
            await read_small(ctx.receive, 0)
        except InvalidInput:
            raise InvalidInput(
                f"key {req.key!r} ends in '/', a folder: folders cannot hold bytes (drop the "
                "'/' to store a file)",
                s3_code="InvalidArgument",
            ) from None
        await in_thread(ctx.platform.s3.check_bucket, bucket)
        await respond(ctx.send, 200, b"", [*ctx.base_headers(), ("etag", '""')])
        return
    key_path(req.key)
    cond = write_condition(req)  # checked, with the bucket, before the body is read
    await in_thread(ctx.platform.s3.precheck, bucket, req.key, tx, cond)
    tmp = ctx.scratch.new_file()
    try:
        with tmp.open("wb") as out:
            check = await receive_into(ctx.receive, req, ctx.signing, out)
        meta = objmeta.from_request(req.headers)
        if check.checksums:
            meta.update(check.checksums, **{objmeta.CHECKSUM_TYPE: "FULL_OBJECT"})
        etag, commit = await in_thread(
            ctx.platform.s3.put_file, bucket, req.key, tmp, ctx.who, tx, objmeta.pack(meta), cond
        )
    finally:
        tmp.unlink(missing_ok=True)
    headers = [*ctx.base_headers(), ("etag", f'"{etag}"'), *check.checksums.items()]
    if commit is not None:
        headers += [("x-amz-version-id", commit.id), ("x-kaon-commit", commit.id)]
    await respond(ctx.send, 200, b"", headers)


async def copy_source(ctx: Ctx) -> tuple[Bucket, str, str]:
    """The bucket, key and version a copy reads: AccessDenied unless the key may reach it."""
    raw = unquote(ctx.req.headers["x-amz-copy-source"]).lstrip("/")
    raw, _, version = raw.partition("?versionId=")
    name, _, key = raw.partition("/")
    if not name or not key:
        raise InvalidInput("x-amz-copy-source must be /<bucket>/<key>", s3_code="InvalidArgument")
    bucket = parse_bucket(name)
    await in_thread(ctx.platform.s3_access.check, ctx.who, Action.READ, bucket.repo)
    return bucket, key, version


async def _copy(ctx: Ctx) -> None:
    src_bucket, src_key, version = await copy_source(ctx)
    p = ctx.platform
    cond = write_condition(ctx.req)
    src = await in_thread(p.s3.stat, src_bucket, src_key, ctx.who, version=version, read=True)
    read_condition(ctx.req.headers, src.etag, src.commit.finished, "x-amz-copy-source-")
    await read_small(ctx.receive)
    directive = ctx.req.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidInput(
            f"x-amz-metadata-directive {directive!r}: use COPY or REPLACE",
            s3_code="InvalidArgument",
        )
    meta = None
    if directive == "REPLACE":  # the bytes' checksums and parts stay true
        kept = objmeta.of_bytes(src.node.meta)
        meta = objmeta.pack({**objmeta.from_request(ctx.req.headers), **kept})
    elif (src_bucket.name, src_key) == (ctx.req.bucket, ctx.req.key) and not version:
        raise InvalidInput(
            "this copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata: send x-amz-metadata-directive: REPLACE"
        )
    etag, commit = await in_thread(
        p.s3.copy, src, ctx.bucket, ctx.req.key, ctx.who, ctx.transaction, meta, cond
    )
    when = commit.finished if commit else src.commit.finished
    headers = ctx.base_headers() + ([("x-amz-version-id", commit.id)] if commit else [])
    await respond(ctx.send, 200, xml.copied("CopyObjectResult", etag, when), headers)


async def delete_many(ctx: Ctx, bucket: Bucket) -> None:
    refuse_condition(ctx.req, "DeleteObjects")
    keys, quiet = xml.parse_delete(await read_small(ctx.receive))
    good: list[str] = []
    errors: list[tuple[str, str, str]] = []
    for key in keys:
        try:
            key_path(key)
            good.append(key)
        except KaonError as exc:
            errors.append((key, "InvalidArgument", exc.message))
    await in_thread(ctx.platform.s3.delete, bucket, good, ctx.who, ctx.transaction)
    await respond(ctx.send, 200, xml.deleted(good, errors, quiet), ctx.base_headers())
