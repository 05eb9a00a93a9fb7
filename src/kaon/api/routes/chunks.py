"""Chunk transfer: ask which chunks are missing, upload packs of them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kaon.api.deps import platform
from kaon.api.schemas import DigestsIn, MissingOut, PackOut
from kaon.app import Platform
from kaon.core.errors import InvalidInput
from kaon.services.chunks import MAX_PACK

router = APIRouter(prefix="/v1", tags=["chunks"])


@router.post("/chunks/missing", response_model=MissingOut)
def missing(body: DigestsIn, p: Platform = Depends(platform)) -> MissingOut:
    return MissingOut(missing=[str(d) for d in p.chunks.missing(body.digests)])


@router.post("/packs", response_model=PackOut, status_code=201)
async def upload_pack(request: Request, p: Platform = Depends(platform)) -> PackOut:
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_PACK:
        raise InvalidInput(f"pack too large: {declared} bytes (limit {MAX_PACK})")
    # one allocation of the declared size, filled in place (growing a bytearray piece by
    # piece costs ~1 s of event-loop CPU per GiB)
    body = bytearray(declared)
    size = 0
    async for piece in request.stream():
        end = size + len(piece)
        if end > MAX_PACK:
            raise InvalidInput(f"pack too large (limit {MAX_PACK} bytes)")
        if end > len(body):
            body.extend(bytes(end - len(body)))
        body[size:end] = piece
        size = end
    receipt = await run_in_threadpool(p.chunks.store_pack, memoryview(body)[:size])
    return PackOut(pack=receipt.pack, chunks=receipt.chunks, bytes=receipt.bytes)
