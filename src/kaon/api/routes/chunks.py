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
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_PACK:
            raise InvalidInput(f"pack too large (limit {MAX_PACK} bytes)")
    receipt = await run_in_threadpool(p.chunks.store_pack, memoryview(body))
    return PackOut(pack=receipt.pack, chunks=receipt.chunks, bytes=receipt.bytes)
