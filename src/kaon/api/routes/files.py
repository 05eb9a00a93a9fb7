"""Files of a commit: list (with history), content, folder archives, diff."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from kaon.api.answers import change, file_info
from kaon.api.archive import tar_stream
from kaon.api.deps import platform
from kaon.core.address import parse_ref
from kaon.core.errors import NotFound
from kaon.wire import Change, FileInfo, LocalContentOut
from kaon.wire.requests import LocalContentIn
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/repos/{repo}", tags=["files"])


@router.get("/files", response_model=list[FileInfo])
def list_files(
    repo: str,
    ref: str = "master",
    path: str = "/",
    history: int = Query(0, ge=-1, description="revisions per entry; -1 for all"),
    limit: int | None = Query(None, ge=1, description="at most this many entries (a page)"),
    after: str = Query("", description="the path the previous page ended with (its cursor)"),
    p: Platform = Depends(platform),
) -> list[FileInfo]:
    """A folder's entries sorted by name; `limit` and `after` page through big folders (a
    page shorter than `limit` is the last one)."""
    infos = p.files.list_files(repo, parse_ref(ref), path, history, limit, after)
    return [file_info(i) for i in infos]


@router.get("/stat", response_model=FileInfo)
def stat(
    repo: str, ref: str = "master", path: str = "/", p: Platform = Depends(platform)
) -> FileInfo:
    _, info = p.files.stat(repo, parse_ref(ref), path)
    return file_info(info)


class FileBytes(StreamingResponse):
    media_type = "application/octet-stream"


class Tar(StreamingResponse):
    media_type = "application/x-tar"


@router.get("/content", response_class=FileBytes)
def content(
    repo: str, ref: str = "master", path: str = "/", p: Platform = Depends(platform)
) -> StreamingResponse:
    commit, node = p.files.file(repo, parse_ref(ref), path)
    headers = {
        "Content-Length": str(node.size),
        "ETag": f'"{node.content_digest}"',
        "X-Kaon-Commit": commit.id,
    }
    return FileBytes(p.files.content(node), headers=headers)


@router.post("/content/local", response_model=LocalContentOut)
def local_content(
    repo: str, body: LocalContentIn, p: Platform = Depends(platform)
) -> LocalContentOut:
    """Where a file's content lies in the store's own files, for a client on this machine
    (it sends the drop folder's token) to copy from there itself; 404 when the store does not
    keep its objects as local files (then GET /content)."""
    p.packs.check_local(body.token)
    commit, node = p.files.file(repo, parse_ref(body.ref), body.path)
    chunks = p.files.where(node)
    if chunks is None:
        raise NotFound("the object store does not keep local files: GET the content instead")
    return LocalContentOut(
        commit=commit.id,
        size=node.size,
        chunks=[(c.path, c.offset, c.stored_len, c.raw_len, c.codec) for c in chunks],
    )


@router.get("/archive", response_class=Tar)
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
    return Tar(
        tar_stream(files, p.files.contents(n for _, n in files), commit.finished),
        headers=headers,
    )


@router.get("/diff", response_model=list[Change])
def diff(
    repo: str,
    new: str = "master",
    old: str | None = None,
    path: str = "/",
    p: Platform = Depends(platform),
) -> list[Change]:
    changes = p.files.diff(repo, parse_ref(new), parse_ref(old) if old is not None else None, path)
    return [change(c) for c in changes]
