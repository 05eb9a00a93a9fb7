"""Repos, branches and commits."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from kaon.api.access import hidden_repos
from kaon.api.answers import branch_info, commit_info, repo_info
from kaon.api.deps import platform, principal
from kaon.core.address import parse_ref
from kaon.core.errors import InvalidInput
from kaon.core.repo import Repo
from kaon.core.users import Principal
from kaon.services.commits import parse_puts
from kaon.wire import BranchInfo, CommitInfo, RepoInfo, StagedOut, StagingOut
from kaon.wire.requests import BranchSet, CommitHeader, CommitIn, RepoCreate, StagedIn, StagingIn
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/repos", tags=["repos"])


def _repo_out(p: Platform, repo: Repo) -> RepoInfo:
    """The repo with its branches and last commit (so a listing needs no read per repo);
    its size is master's (none without master)."""
    branches = p.repos.branches_of(repo)
    head = p.repos.last_commit(branches)
    names = [str(b.name) for b in branches]
    size = head.size if head and "master" in names else 0
    return repo_info(repo, size, names, commit_info(head) if head else None)


@router.get("", response_model=list[RepoInfo])
def list_repos(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[RepoInfo]:
    """Shared repos and the internal repos of the workspaces the caller has a role in."""
    hidden = hidden_repos(p, who)
    return [_repo_out(p, r) for r in p.repos.list_repos() if r.name not in hidden]


@router.post("", response_model=RepoInfo, status_code=201)
def create_repo(body: RepoCreate, p: Platform = Depends(platform)) -> RepoInfo:
    return _repo_out(p, p.repos.create_repo(body.name, body.description))


@router.get("/{repo}", response_model=RepoInfo)
def get_repo(repo: str, p: Platform = Depends(platform)) -> RepoInfo:
    return _repo_out(p, p.repos.get_repo(repo))


@router.delete("/{repo}", status_code=204)
def delete_repo(repo: str, p: Platform = Depends(platform)) -> None:
    p.repos.delete_repo(repo)


@router.get("/{repo}/branches", response_model=list[BranchInfo])
def list_branches(repo: str, p: Platform = Depends(platform)) -> list[BranchInfo]:
    return [branch_info(b) for b in p.repos.list_branches(repo)]


@router.put("/{repo}/branches/{branch}", response_model=BranchInfo)
def set_branch(
    repo: str, branch: str, body: BranchSet, p: Platform = Depends(platform)
) -> BranchInfo:
    head = parse_ref(body.head) if body.head else None
    b = p.repos.create_branch(repo, branch, head)
    return branch_info(b)


@router.delete("/{repo}/branches/{branch}", status_code=204)
def delete_branch(repo: str, branch: str, p: Platform = Depends(platform)) -> None:
    p.repos.delete_branch(repo, branch)


@router.get("/{repo}/commits", response_model=list[CommitInfo])
def list_commits(
    repo: str,
    ref: str = "master",
    limit: int | None = Query(None, ge=1),
    p: Platform = Depends(platform),
) -> list[CommitInfo]:
    return [commit_info(c) for c in p.repos.history(repo, parse_ref(ref), limit)]


@router.get("/{repo}/commits/{ref}", response_model=CommitInfo)
def inspect_commit(repo: str, ref: str, p: Platform = Depends(platform)) -> CommitInfo:
    return commit_info(p.repos.resolve_required(repo, parse_ref(ref)))


@router.post(
    "/{repo}/commits",
    response_model=CommitInfo,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CommitIn.model_json_schema()}},
        }
    },
)
async def create_commit(
    repo: str,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> CommitInfo:
    """One commit of puts and deletes, authored by the caller. The puts (20,000 for a folder)
    are checked once, by the service, not also by pydantic: that halves the cost of a big
    commit."""
    try:
        doc = json.loads(await request.body())
        if not isinstance(doc, dict):
            raise InvalidInput("invalid commit request: expected a JSON object")
        body = CommitHeader.model_validate({k: v for k, v in doc.items() if k != "puts"})
    except ValueError as exc:  # bad JSON, or a pydantic ValidationError
        raise InvalidInput(f"invalid commit request: {_first_line(exc)}") from None
    staged = (
        await run_in_threadpool(p.staging.puts, body.staged, repo, body.branch)
        if body.staged
        else None
    )
    commit = await run_in_threadpool(
        p.commits.commit,
        repo,
        body.branch,
        parse_puts(doc.get("puts", [])),
        body.deletes,
        message=body.message,
        author=who.user,
        started=body.started,
        base=body.base,
        staged=staged,
    )
    if body.staged:
        await run_in_threadpool(p.staging.close, body.staged)
    return commit_info(commit)


@router.post("/{repo}/stagings", response_model=StagingOut, status_code=201)
def open_staging(repo: str, body: StagingIn, p: Platform = Depends(platform)) -> StagingOut:
    """A staging: files of a coming commit, sent while the upload goes on (see the commit's
    `staged`). Kept in the database (any server commits it) for an hour without use."""
    return StagingOut(id=p.staging.open(repo, body.branch))


@router.post(
    "/{repo}/stagings/{staging}",
    response_model=StagedOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StagedIn.model_json_schema()}},
        }
    },
)
async def stage_files(
    repo: str, staging: str, request: Request, p: Platform = Depends(platform)
) -> StagedOut:
    """Stage puts (rows as in a commit) for the commit that will name this staging."""
    try:
        doc = json.loads(await request.body())
    except ValueError as exc:
        raise InvalidInput(f"invalid staging request: {_first_line(exc)}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("invalid staging request: expected a JSON object")
    rows = doc.get("puts", [])
    staged = await run_in_threadpool(lambda: p.staging.add(staging, repo, parse_puts(rows)))
    return StagedOut(files=staged)


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return ".".join(str(x) for x in first.get("loc", ())) + ": " + str(first.get("msg", ""))
    return str(exc).splitlines()[0]
