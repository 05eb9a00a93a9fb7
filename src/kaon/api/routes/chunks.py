"""Chunk transfer: ask which chunks are missing, upload packs of them (over HTTP, or left in
the drop folder by a client on the server's machine), or have the server chunk a big file of
that machine itself: kaon.services.packs does each, these routes parse and answer.

Every upload request may name the upload's lease (kaon.services.leases): gc spares what it
asked about or sent until the lease is released (after the commit) or expires.

A pack sent over HTTP is streamed to a file of the server's (in the drop folder), a bounded
piece at a time, never held in memory for the size it declares; at most MAX_RECEIVING are
received at once, others are answered 503 with a Retry-After the SDK honours.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from kaon.api.deps import platform
from kaon.core.errors import Busy, InvalidInput
from kaon.services.chunks import MAX_PACK, PackReceipt
from kaon.services.leases import check_lease
from kaon.services.packs import IncomingPack
from kaon.wire import DropOut, LocalFileOut, MissingOut, PackOut
from kaon.wire.base import LEASE, LEASE_DOC
from kaon.wire.requests import DigestsIn, DroppedPackIn, LocalFileIn
from kaon.wiring import Platform

router = APIRouter(prefix="/v1", tags=["chunks"])
MAX_RECEIVING = 16  # packs received over HTTP at once (each streamed to a file)
RETRY_AFTER = 1  # seconds a client refused for that waits before it asks again
_WRITE = 1024 * 1024  # bytes of a pack gathered in memory before they are written
_receiving = 0  # packs being received now (changed on the event loop only)


@router.post("/chunks/missing", response_model=MissingOut)
def missing(body: DigestsIn, p: Platform = Depends(platform)) -> MissingOut:
    return MissingOut(missing=[str(d) for d in p.chunks.missing(body.digests, body.lease)])


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
async def upload_pack(
    request: Request,
    lease: str | None = Query(None, description=LEASE_DOC, pattern=LEASE),
    p: Platform = Depends(platform),
) -> PackOut:
    global _receiving
    declared = int(request.headers.get("content-length") or 0)
    if declared <= 0:
        raise InvalidInput("send a pack with a Content-Length header (no chunked uploads)")
    if declared > MAX_PACK:
        raise InvalidInput(f"pack too large: {declared} bytes (limit {MAX_PACK})")
    if lease is not None:
        check_lease(lease)
    if _receiving >= MAX_RECEIVING:
        raise Busy(
            f"the server receives {MAX_RECEIVING} pack uploads at once already: "
            f"retry in {RETRY_AFTER} s (the SDK does)",
            retry_after=RETRY_AFTER,
        )
    _receiving += 1
    try:
        with p.packs.incoming() as pack:
            await _receive(request, pack, declared)
            receipt = await run_in_threadpool(pack.store, lease)
    finally:
        _receiving -= 1
    return _receipt(receipt)


async def _receive(request: Request, pack: IncomingPack, declared: int) -> None:
    """Write the request's body to `pack`, _WRITE bytes at a time."""
    size = 0
    pending = bytearray()
    async for piece in request.stream():
        size += len(piece)
        if size > declared:
            raise InvalidInput("the pack is longer than its Content-Length")
        pending += piece
        if len(pending) >= _WRITE:
            await run_in_threadpool(pack.write, pending)
            pending = bytearray()
    if pending:
        await run_in_threadpool(pack.write, pending)
    if size != declared:
        raise InvalidInput(f"the pack is shorter ({size} bytes) than its Content-Length")


@router.get("/packs/drop", response_model=DropOut)
def drop_folder(p: Platform = Depends(platform)) -> DropOut:
    """Where a client on this machine may leave packs (and read the token to send back)."""
    return DropOut(dir=p.packs.drop_dir())


@router.post("/packs/drop", response_model=PackOut, status_code=201)
def store_dropped_pack(body: DroppedPackIn, p: Platform = Depends(platform)) -> PackOut:
    """Verify and store the pack a client left in the drop folder under `name`."""
    return _receipt(p.packs.store_dropped(body.token, body.name, body.lease))


@router.post("/chunks/local", response_model=LocalFileOut)
def chunk_local_file(body: LocalFileIn, p: Platform = Depends(platform)) -> LocalFileOut:
    """Chunk and store a file of this machine, read by the server itself from `start`, for up
    to about `limit` bytes; the client sends the drop folder's token to prove it is local."""
    seen = (body.size, body.mtime_ns, body.inode)
    done = p.packs.ingest_local(body.token, body.path, seen, body.start, body.limit, body.lease)
    return LocalFileOut(
        chunks=[(c.digest, c.size) for c in done.chunks],
        consumed=done.consumed,
        new_chunks=done.new_chunks,
        new_bytes=done.new_bytes,
    )


@router.post("/leases/{lease}", status_code=204, response_class=Response)
def renew_lease(
    lease: str = Path(description=LEASE_DOC, pattern=LEASE), p: Platform = Depends(platform)
) -> Response:
    """Keep an upload's lease alive (created if new): gc spares its chunks meanwhile."""
    p.chunks.renew(lease)
    return Response(status_code=204)


@router.delete("/leases/{lease}", status_code=204, response_class=Response)
def release_lease(
    lease: str = Path(description=LEASE_DOC, pattern=LEASE), p: Platform = Depends(platform)
) -> Response:
    """End an upload's lease (its commit is made, or the upload was given up)."""
    p.chunks.release(lease)
    return Response(status_code=204)


def _receipt(receipt: PackReceipt) -> PackOut:
    return PackOut(pack=receipt.pack, chunks=receipt.chunks, bytes=receipt.bytes)
