"""Chunk transfer: ask which chunks are missing, upload packs of them (over HTTP, or left in
the drop folder by a client on the server's machine: kaon.store.drop), or have the server
chunk a big file of that machine itself (kaon.services.ingest)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kaon.api.buffers import BufferPool
from kaon.api.deps import platform
from kaon.api.schemas import (
    DigestsIn,
    DropOut,
    DroppedPackIn,
    LocalFileIn,
    LocalFileOut,
    MissingOut,
    PackOut,
)
from kaon.app import Platform
from kaon.core.errors import InvalidInput
from kaon.services.chunks import MAX_PACK, PackReceipt

router = APIRouter(prefix="/v1", tags=["chunks"])
_BUFFERS = BufferPool()


@router.post("/chunks/missing", response_model=MissingOut)
def missing(body: DigestsIn, p: Platform = Depends(platform)) -> MissingOut:
    return MissingOut(missing=[str(d) for d in p.chunks.missing(body.digests)])


@router.post(
    "/packs",
    response_model=PackOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a pack (docs/api.md), with a Content-Length, at most 256 MiB",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_pack(request: Request, p: Platform = Depends(platform)) -> PackOut:
    declared = int(request.headers.get("content-length") or 0)
    if declared <= 0:
        raise InvalidInput("send a pack with a Content-Length header (no chunked uploads)")
    if declared > MAX_PACK:
        raise InvalidInput(f"pack too large: {declared} bytes (limit {MAX_PACK})")
    with _BUFFERS.borrow(declared) as body:  # reused: no zero-fill, no page faults
        size = 0
        async for piece in request.stream():
            end = size + len(piece)
            if end > declared:
                raise InvalidInput("the pack is longer than its Content-Length")
            body[size:end] = piece
            size = end
        receipt = await run_in_threadpool(p.chunks.store_pack, memoryview(body)[:size])
    return _receipt(receipt)


@router.get("/packs/drop", response_model=DropOut)
def drop_folder(p: Platform = Depends(platform)) -> DropOut:
    """Where a client on this machine may leave packs (and read the token to send back)."""
    return DropOut(dir=p.drop.info.dir)


@router.post("/packs/drop", response_model=PackOut, status_code=201)
def store_dropped_pack(body: DroppedPackIn, p: Platform = Depends(platform)) -> PackOut:
    """Verify and store the pack a client left in the drop folder under `name`."""
    p.drop.check(body.token)
    claimed = p.drop.claim(body.name)
    try:
        with _BUFFERS.borrow(claimed.size) as buffer:
            view = p.drop.read_into(claimed, buffer)
            receipt = p.chunks.store_pack(view, file=claimed.path)
    finally:
        p.drop.discard(claimed.path)  # gone already once stored (moved into the store)
    return _receipt(receipt)


@router.post("/chunks/local", response_model=LocalFileOut)
def chunk_local_file(body: LocalFileIn, p: Platform = Depends(platform)) -> LocalFileOut:
    """Chunk and store a file of this machine, read by the server itself from `start`, for up
    to about `limit` bytes; the client sends the drop folder's token to prove it is local."""
    p.drop.check(body.token)
    if body.start < 0 or body.start > body.size:
        raise InvalidInput(f"start {body.start} is outside the file (size {body.size})")
    with p.drop.open_client_file(body.path, body.size, body.mtime_ns, body.inode) as f:
        f.seek(body.start)
        done = p.ingest.ingest(f, body.limit)
        p.drop.check_unchanged(f, body.path, body.size, body.mtime_ns, body.inode)
    return LocalFileOut(
        chunks=[(c.digest, c.size) for c in done.chunks],
        consumed=done.consumed,
        new_chunks=done.new_chunks,
        new_bytes=done.new_bytes,
    )


def _receipt(receipt: PackReceipt) -> PackOut:
    return PackOut(pack=receipt.pack, chunks=receipt.chunks, bytes=receipt.bytes)
