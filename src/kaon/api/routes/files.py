"""Files of a commit: list (with history), content, folder archives, diff."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from kaon.api.archive import tar_stream
from kaon.api.deps import platform
from kaon.api.schemas import ChangeOut, FileOut, LocalContentIn, LocalContentOut
from kaon.app import Platform
from kaon.core.address import parse_ref
from kaon.core.errors import NotFound

router = APIRouter(prefix="/v1/repos/{repo}", tags=["files"])


@router.get("/files", response_model=list[FileOut])
def list_files(
    repo: str,
    ref: str = "master",
    path: str = "/",
    history: int = Query(0, ge=-1, description="revisions per entry; -1 for all"),
    p: Platform = Depends(platform),
) -> list[FileOut]:
    infos = p.files.list_files(repo, parse_ref(ref), path, history)
    return [FileOut(**i.__dict__) for i in infos]


@router.get("/stat", response_model=FileOut)
def stat(
    repo: str, ref: str = "master", path: str = "/", p: Platform = Depends(platform)
) -> FileOut:
    _, info = p.files.stat(repo, parse_ref(ref), path)
    return FileOut(**info.__dict__)


@router.get("/content")
def content(
    repo: str, ref: str = "master", path: str = "/", p: Platform = Depends(platform)
) -> StreamingResponse:
    commit, node = p.files.file(repo, parse_ref(ref), path)
    headers = {
        "Content-Length": str(node.size),
        "ETag": f'"{node.content_digest}"',
        "X-Kaon-Commit": commit.id,
    }
    return StreamingResponse(
        p.files.content(node), media_type="application/octet-stream", headers=headers
    )


@router.post("/content/local", response_model=LocalContentOut)
def local_content(
    repo: str, body: LocalContentIn, p: Platform = Depends(platform)
) -> LocalContentOut:
    """Where a file's content lies in the store's own files, for a client on this machine
    (it sends the drop folder's token) to copy from there itself; 404 when the store does not
    keep its objects as local files (then GET /content)."""
    p.drop.check(body.token)
    commit, node = p.files.file(repo, parse_ref(body.ref), body.path)
    chunks = p.files.where(node)
    if chunks is None:
        raise NotFound("the object store does not keep local files: GET the content instead")
    return LocalContentOut(
        commit=commit.id,
        size=node.size,
        chunks=[(c.path, c.offset, c.stored_len, c.raw_len, c.codec) for c in chunks],
    )


@router.get("/archive")
def archive(
    repo: str, ref: str = "master", path: str = "/", p: Platform = Depends(platform)
) -> StreamingResponse:
    commit = p.repos.resolve_required(repo, parse_ref(ref))
    files = list(p.files.walk(commit, path))
    size = sum(n.size for _, n in files)
    headers = {
        "X-Kaon-Commit": commit.id,
        "X-Kaon-Files": str(len(files)),
        "X-Kaon-Bytes": str(size),
    }
    return StreamingResponse(
        tar_stream(files, p.files.contents(n for _, n in files), commit.finished),
        media_type="application/x-tar",
        headers=headers,
    )


@router.get("/diff", response_model=list[ChangeOut])
def diff(
    repo: str,
    new: str = "master",
    old: str | None = None,
    path: str = "/",
    p: Platform = Depends(platform),
) -> list[ChangeOut]:
    changes = p.files.diff(repo, parse_ref(new), parse_ref(old) if old else None, path)
    return [ChangeOut(**c.__dict__) for c in changes]
