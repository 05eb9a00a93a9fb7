"""Repos: the list, one repo's branches and commits (paged by the API), one commit (its changes
and the jobs that read it), the file browser at any commit with previews (pages/previews.py),
downloads, the diff of two commits and one file's history (H4)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from kaon.client import Client, CommitInfo
from kaon.core.errors import BranchNotFound, InvalidInput, NotFound
from kaon.core.provenance import NodeKind
from kaon.ui import session
from kaon.ui.pages import previews
from kaon.ui.render import page

router = APIRouter()

COMMITS = 50  # commits per page
FILES = 200  # folder entries per page
HISTORY = 30  # revisions of a file per page
SCAN = 500  # commits looked at per page of a file's history (a page may be short)
INLINE_DIFF = 64 * 1024  # text files up to this size get an inline diff
INLINE_DIFFS = 20  # at most this many inline diffs on a page
CHANGES = 500  # changed files listed on a page (the page says when there are more)


@router.get("/repos", response_class=HTMLResponse)
def repos(request: Request) -> HTMLResponse:
    """Every repo with its last commit: one API call (the list carries each repo's head)."""
    found = session.client(request).list_repos()
    rows = [(repo, repo.head) for repo in sorted(found, key=lambda r: r.name)]
    return page(request, "repos/list.html", title="Repos", rows=rows)


@router.get("/repos/{repo}", response_class=HTMLResponse)
def repo(request: Request, repo: str, branch: str = "", start: str = "") -> HTMLResponse:
    """Branches with their heads, and a page of a branch's commits: `start` (a commit id,
    the cursor) is where the page begins; the next page begins at the last one's parent."""
    client = session.client(request)
    info = client.get_repo(repo)
    branches = client.list_branches(repo)
    heads = {b.name: client.inspect_commit(repo, b.head) for b in branches if b.head}
    names = [b.name for b in branches]
    if branch and branch not in names:
        known = ", ".join(names) or "none yet"
        raise BranchNotFound(f"branch '{branch}' not found in repo '{repo}' (branches: {known})")
    branch = branch or ("master" if "master" in heads else next(iter(heads), "master"))
    commits: list[CommitInfo] = []
    if start or branch in heads:
        commits = client.list_commits(repo, start or branch, limit=COMMITS + 1)
    more = commits[COMMITS] if len(commits) > COMMITS else None
    return page(
        request,
        "repos/repo.html",
        title=f"Repo {repo}",
        repo=info,
        branches=branches,
        heads=heads,
        branch=branch,
        commits=commits[:COMMITS],
        more=more,
        start=start,
    )


@router.get("/repos/{repo}/commit/{ref}", response_class=HTMLResponse)
def commit(request: Request, repo: str, ref: str) -> HTMLResponse:
    client = session.client(request)
    c = client.inspect_commit(repo, ref)
    changes = client.diff(repo, c.id, c.parent, limit=CHANGES + 1)
    try:
        graph = client.subvenance(c.id).graph
        jobs = sorted(n.id.partition(":")[2] for n in graph.nodes if n.kind == NodeKind.JOB)
    except NotFound:  # a commit no job has read, or of a workspace the user has no role in
        jobs = []
    return page(
        request,
        "repos/commit.html",
        title=f"Commit {c.id[:12]}",
        repo=repo,
        c=c,
        changes=changes[:CHANGES],
        more=len(changes) > CHANGES,
        jobs=jobs,
    )


@router.get("/repos/{repo}/tree/{ref}", response_class=HTMLResponse)
@router.get("/repos/{repo}/tree/{ref}/{path:path}", response_class=HTMLResponse)
def tree(request: Request, repo: str, ref: str, path: str = "", after: str = "") -> HTMLResponse:
    """A folder's entries (a page of FILES, `after` the last path of the previous page) or
    one file with its preview."""
    client = session.client(request)
    c = client.inspect_commit(repo, ref)
    path = "/" + path.strip("/")
    crumbs = _crumbs(path)
    parent = path.rpartition("/")[0]  # "" for the root's entries
    context: dict[str, Any] = {
        "repo": repo,
        "ref": ref,
        "c": c,
        "path": path,
        "crumbs": crumbs,
        "parent": parent,
    }
    stat = client.stat(repo, c.id, path) if path != "/" else None
    if stat is not None and stat.type == "file":
        shown = previews.preview(client, repo, c.id, path, stat.size)
        return page(
            request,
            "repos/file.html",
            title=path.rpartition("/")[2],
            file=stat,
            preview=shown,
            **context,
        )
    entries = client.list_files(repo, c.id, path, limit=FILES + 1, after=after)
    more = entries[FILES - 1].path if len(entries) > FILES else ""
    return page(
        request,
        "repos/tree.html",
        title=f"{repo}@{ref}:{path}",
        entries=entries[:FILES],
        more=more,
        size=stat.size if stat else c.size,
        **context,
    )


@router.get("/repos/{repo}/raw/{ref}/{path:path}")
def raw(request: Request, repo: str, ref: str, path: str, download: int = 0) -> StreamingResponse:
    """A file's bytes: images as themselves (for <img>), anything else as a download (a repo's
    HTML or SVG never runs in the UI's origin: nosniff and a sandboxing CSP too)."""
    client = session.client(request)
    path = "/" + path.strip("/")
    at = client.inspect_commit(repo, ref).id  # a branch may move while the bytes are sent
    stat = client.stat(repo, at, path)
    if stat.type != "file":
        raise InvalidInput(f"{path} is a folder: download a file, or `kaon get -r` the folder")
    name = path.rpartition("/")[2]
    kind = previews.media_type(path)
    inline = not download and kind.startswith("image/")
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Length": str(stat.size),
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    return StreamingResponse(client.file_bytes(repo, at, path), media_type=kind, headers=headers)


@router.get("/repos/{repo}/diff", response_class=HTMLResponse)
def diff(request: Request, repo: str, new: str = "", old: str = "") -> HTMLResponse:
    """Files added, removed and modified from `old` (default: new's parent) to `new`; an
    inline unified diff for small text files."""
    if not new:
        raise InvalidInput("say which commits to compare: ?new=COMMIT&old=COMMIT")
    client = session.client(request)
    a_new = client.inspect_commit(repo, new)
    a_old = client.inspect_commit(repo, old) if old else None
    if a_old is None and a_new.parent:
        a_old = client.inspect_commit(repo, a_new.parent)
    changes = client.diff(repo, a_new.id, a_old.id if a_old else None, limit=CHANGES + 1)
    inline: dict[str, list[str]] = {}
    for ch in changes:
        if len(inline) >= INLINE_DIFFS:
            break
        if a_old is not None and _small_text(ch.path, ch.old_size, ch.new_size):
            lines = _unified(client, repo, a_old.id, a_new.id, ch.path, ch.kind)
            if lines is not None:
                inline[ch.path] = lines
    return page(
        request,
        "repos/diff.html",
        title=f"Diff of {repo}",
        repo=repo,
        new=a_new,
        old=a_old,
        changes=changes[:CHANGES],
        more=len(changes) > CHANGES,
        inline=inline,
    )


@router.get("/repos/{repo}/history/{ref}/{path:path}", response_class=HTMLResponse)
def history(request: Request, repo: str, ref: str, path: str, start: str = "") -> HTMLResponse:
    """The commits that changed a file, a page at a time (`start`: the API's cursor)."""
    client = session.client(request)
    path = "/" + path.strip("/")
    c = client.inspect_commit(repo, ref)
    found = client.file_history(repo, path, start or c.id, limit=HISTORY, scan=SCAN)
    return page(
        request,
        "repos/history.html",
        title=f"History of {path}",
        repo=repo,
        ref=ref,
        path=path,
        c=c,
        crumbs=_crumbs(path),
        revisions=found.revisions,
        more=found.next,
        start=start,
    )


def _crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path) of each folder down to `path`, for the links above a listing."""
    parts = [p for p in path.split("/") if p]
    return [(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts)]


def _small_text(path: str, old: int | None, new: int | None) -> bool:
    ext = previews.extension(path)
    if ext in previews.IMAGES or ext in ("parquet", "pq", "ipynb"):
        return False
    return 0 < max(old or 0, new or 0) <= INLINE_DIFF


def _unified(
    client: Client, repo: str, old: str, new: str, path: str, kind: str
) -> list[str] | None:
    def text(ref: str, present: bool) -> list[str] | None:
        if not present:
            return []
        data, _ = client.read_range(repo, ref, path, 0, INLINE_DIFF)
        if b"\0" in data:
            return None
        return data.decode("utf-8", "replace").splitlines()

    a = text(old, kind != "added")
    b = text(new, kind != "removed")
    if a is None or b is None:
        return None
    lines: Iterator[str] = difflib.unified_diff(
        a, b, f"{old[:12]}:{path}", f"{new[:12]}:{path}", lineterm=""
    )
    return list(lines)[:2000]
