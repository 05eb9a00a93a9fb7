"""Files of a commit: list (with history), content, folder archives, diff."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from kaon.api.answers import change, file_info, revision
from kaon.api.archive import tar_stream
from kaon.api.deps import platform
from kaon.api.spec import ERROR_REF, documented
from kaon.core.address import parse_ref
from kaon.core.errors import InvalidInput, InvalidRange, NotFound
from kaon.wire import Change, FileHistoryOut, FileInfo, LocalContentOut
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


@router.get(
    "/content",
    response_class=FileBytes,
    responses={
        206: {
            "description": "the bytes of the `Range` asked for (Content-Range says which)",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        416: {  # JSON, as every error (the route's own bytes are for 200 and 206)
            "description": documented(416),
            "content": {"application/json": {"schema": ERROR_REF}},
        },
    },
)
def content(
    repo: str,
    ref: str = "master",
    path: str = "/",
    range_: str | None = Header(
        None, alias="Range", description="`bytes=START-END` (END included; may be left out)"
    ),
    p: Platform = Depends(platform),
) -> StreamingResponse:
    """A file's bytes; with a `Range` header, only those (206, Content-Range): a preview
    reads the first KiB of a big file, and only the chunks holding them are read."""
    commit, node = p.files.file(repo, parse_ref(ref), path)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{node.content_digest}"',
        "X-Kaon-Commit": commit.id,
    }
    if range_ is None:
        headers["Content-Length"] = str(node.size)
        return FileBytes(p.files.content(node), headers=headers)
    start, end = _span(range_, node.size)
    headers["Content-Length"] = str(end - start)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{node.size}"
    return FileBytes(p.s3.read(node, start, end), status_code=206, headers=headers)


def _span(header: str, size: int) -> tuple[int, int]:
    """(start, end exclusive) of one `bytes=START-[END]` range within `size` bytes."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.strip().partition("-")
    try:
        if unit.strip() != "bytes" or "," in spec or not first:
            raise ValueError
        start, end = int(first), int(last) + 1 if last else size
    except ValueError:
        raise InvalidInput(
            f"Range {header!r} is not supported: send one `bytes=START-END` range"
        ) from None
    if start >= size or end <= start:
        raise InvalidRange(
            f"Range {header!r} is not satisfiable: the file has {size} bytes", size=size
        )
    return start, min(end, size)


@router.get("/history", response_model=FileHistoryOut)
def history(
    repo: str,
    path: str,
    ref: str = "master",
    limit: int = Query(50, ge=1, le=1000, description="at most this many revisions"),
    scan: int = Query(1000, ge=1, le=10000, description="at most this many commits looked at"),
    p: Platform = Depends(platform),
) -> FileHistoryOut:
    """The commits that changed `path`, newest first, from `ref` down its chain; `next` is
    the commit to go on from (pass it as `ref`), null once the first commit was reached. A
    page may hold fewer than `limit` revisions (the walk stops after `scan` commits)."""
    revisions, next_ = p.files.history(repo, parse_ref(ref), path, limit, scan)
    return FileHistoryOut(path, [revision(r) for r in revisions], next_)


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
    limit: int | None = Query(None, ge=1, description="at most this many changes (path order)"),
    p: Platform = Depends(platform),
) -> list[Change]:
    base = parse_ref(old) if old is not None else None
    changes = p.files.diff(repo, parse_ref(new), base, path, limit)
    return [change(c) for c in changes]
