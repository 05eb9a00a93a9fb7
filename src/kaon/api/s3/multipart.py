"""Multipart uploads: CreateMultipartUpload, UploadPart(Copy), CompleteMultipartUpload (one
commit, or staged in the upload's transaction), AbortMultipartUpload and ListParts; the parts
live in the object store (kaon.services.s3.multipart) until the upload completes."""

from __future__ import annotations

import contextlib
import hashlib
from typing import BinaryIO

from kaon.api.s3 import objmeta, objparts, xml
from kaon.api.s3.conditions import read_condition, refuse_condition, write_condition
from kaon.api.s3.dispatch import Ctx
from kaon.api.s3.http import Request, in_thread, read_small, receive_into, respond
from kaon.api.s3.objects import copy_source
from kaon.core.errors import InvalidInput
from kaon.core.s3.buckets import key_path
from kaon.services.s3.multipart import Upload


def wants(req: Request) -> bool:
    """Whether an object request is one of a multipart upload's."""
    return "uploadId" in req.query or (req.method == "POST" and "uploads" in req.query)


async def handle(ctx: Ctx) -> None:
    req, q = ctx.req, ctx.req.query
    m = req.method
    if m in ("GET", "HEAD") and "uploadId" in q:
        await _list_parts(ctx)
    elif m == "PUT" and "uploadId" in q:
        await _upload_part(ctx)
    elif m == "POST" and "uploads" in q:
        await _create_upload(ctx)
    elif m == "POST" and "uploadId" in q:
        await _complete(ctx)
    elif m == "DELETE" and "uploadId" in q:
        refuse_condition(req, "AbortMultipartUpload")
        upload = ctx.platform.s3_uploads.get(q["uploadId"], req.bucket, req.key)
        await in_thread(ctx.platform.s3_uploads.remove, upload)
        await respond(ctx.send, 204, b"", ctx.base_headers())
    else:
        raise InvalidInput(f"{m} is not allowed on an object", s3_code="MethodNotAllowed")


async def _create_upload(ctx: Ctx) -> None:
    req, p = ctx.req, ctx.platform
    refuse_condition(req, "CreateMultipartUpload (give it to CompleteMultipartUpload)")
    key_path(req.key)
    bucket = ctx.bucket
    await in_thread(p.s3.writable, bucket, req.key)
    owner = ctx.who.access_key if ctx.who else ""
    checksum = objparts.algorithm(req.headers)
    meta = {**objmeta.from_request(req.headers), **checksum}
    upload = await in_thread(
        p.s3_uploads.create, bucket.name, req.key, owner, ctx.transaction, meta
    )
    headers = ctx.base_headers()
    if checksum:
        headers += list(checksum.items())
    await respond(ctx.send, 200, xml.initiated(bucket.name, req.key, upload.id), headers)


def _part_number(ctx: Ctx) -> int:
    try:
        return int(ctx.req.query.get("partNumber", ""))
    except ValueError:
        raise InvalidInput("partNumber must be an integer", s3_code="InvalidArgument") from None


async def _upload_part(ctx: Ctx) -> None:
    req, p = ctx.req, ctx.platform
    refuse_condition(req, "UploadPart")
    upload = p.s3_uploads.get(req.query["uploadId"], req.bucket, req.key)
    number = _part_number(ctx)
    tmp = p.s3_uploads.part_file(upload, number)
    copy_from = "x-amz-copy-source" in req.headers
    sums: dict[str, str] = {}
    try:
        with tmp.open("wb") as out:
            if copy_from:
                md5 = await _copy_part(ctx, out)
            else:
                check = await receive_into(ctx.receive, req, ctx.signing, out, md5=True)
                md5, sums = check.md5_hex, check.checksums
        part = await in_thread(p.s3_uploads.save_part, upload, number, tmp, md5, sums)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    if copy_from:
        body = xml.copied("CopyPartResult", part.etag, part.modified)
        await respond(ctx.send, 200, body, ctx.base_headers())
    else:
        headers = [*ctx.base_headers(), ("etag", f'"{part.etag}"'), *sums.items()]
        await respond(ctx.send, 200, b"", headers)


async def _copy_part(ctx: Ctx, out: BinaryIO) -> str:
    src_bucket, src_key, version = await copy_source(ctx)
    p = ctx.platform
    src = await in_thread(p.s3.stat, src_bucket, src_key, ctx.who, version=version, read=True)
    read_condition(ctx.req.headers, src.etag, src.commit.finished, "x-amz-copy-source-")
    start, end = objparts.copy_range(ctx.req.headers.get("x-amz-copy-source-range"), src.node.size)
    await read_small(ctx.receive)

    def copy() -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        for piece in p.s3.read(src.node, start, end):
            md5.update(piece)
            out.write(piece)
        return md5.hexdigest()

    return await in_thread(copy)


async def _complete(ctx: Ctx) -> None:
    req, p = ctx.req, ctx.platform
    upload_id = req.query["uploadId"]
    body = await read_small(ctx.receive)
    done = await in_thread(p.s3_uploads.completed, upload_id, req.bucket, req.key)
    if done is None:
        done = await _assemble(ctx, p.s3_uploads.get(upload_id, req.bucket, req.key), body)
    etag, version = done.pop("etag"), done.pop("version", "")
    body = xml.completed(f"/{req.bucket}/{req.key}", req.bucket, req.key, etag, done)
    headers = ctx.base_headers() + ([("x-amz-version-id", version)] if version else [])
    await respond(ctx.send, 200, body, headers + list(done.items()))


async def _assemble(ctx: Ctx, upload: Upload, body: bytes) -> dict[str, str]:
    """Complete `upload` as one commit: its answer (etag, version, checksum headers)."""
    req, p = ctx.req, ctx.platform
    cond = write_condition(req)
    await in_thread(p.s3.precheck, ctx.bucket, req.key, upload.transaction, cond)
    listed = xml.parse_complete(body)
    meta = dict(upload.meta)
    name = meta.pop(objmeta.ALGORITHM, "")
    kind = meta.pop(objmeta.CHECKSUM_TYPE, objparts.COMPOSITE)
    parts = {part.number: part for part in await in_thread(p.s3_uploads.parts, upload)}
    reader, _ = await in_thread(p.s3_uploads.assemble, upload, listed)
    try:
        numbers = [n for n, _ in listed]
        header = f"{objmeta.CHECKSUM}{name.lower()}"
        whole = req.headers.get(header, "")
        if name and kind == objparts.FULL_OBJECT:
            meta.update(
                await in_thread(objparts.full_object, p.s3_uploads, upload, listed, name, whole)
            )
        elif name:
            stored = {n: part.checksums.get(header, "") for n, part in parts.items()}
            claimed = objparts.listed_checksums(body, name)
            meta.update(objparts.composite(name, numbers, stored, claimed, whole))
        meta[objmeta.PARTS] = ",".join(str(parts[n].size) for n in numbers)
        etag, commit = await in_thread(
            p.s3.put_stream,
            ctx.bucket,
            req.key,
            reader,
            ctx.who,
            upload.transaction,
            objmeta.pack(meta),
            cond,
        )
    finally:
        reader.close()
    answer = {
        "etag": etag,
        "version": commit.id if commit else "",
        **objmeta.checksums(objmeta.pack(meta)),
    }
    await in_thread(p.s3_uploads.finish, upload, answer)
    return answer


async def _list_parts(ctx: Ctx) -> None:
    req, p = ctx.req, ctx.platform
    upload = p.s3_uploads.get(req.query["uploadId"], req.bucket, req.key)
    try:
        marker = int(req.query.get("part-number-marker", "0") or 0)
        limit = min(int(req.query.get("max-parts", "1000") or 1000), 1000)
    except ValueError:
        raise InvalidInput("part-number-marker and max-parts are integers") from None
    parts = await in_thread(p.s3_uploads.parts, upload)
    await respond(ctx.send, 200, xml.parts(upload, parts, marker, limit), ctx.base_headers())
