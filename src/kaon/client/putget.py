"""`Client.put` and `Client.get`: local files and folders to and from a repo address
(`repo@branch:/path`), with the fast paths of kaon.client.upload and kaon.client.download."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from kaon.client import download
from kaon.client.reporter import Reporter
from kaon.client.rest import RestApi
from kaon.client.results import GetResult, PutResult
from kaon.client.statcache import StatCache
from kaon.client.upload import Uploader, plan
from kaon.config import kaon_home
from kaon.core.address import Address, parse_address
from kaon.core.errors import InvalidInput

LocalPath = str | os.PathLike[str]


def stat_cache() -> StatCache:
    """What this machine's puts sent, by file stat ($KAON_HOME/cache/stat.db)."""
    return StatCache(kaon_home() / "cache" / "stat.db")


def branch_of(addr: Address) -> str:
    """The branch an address writes to (master when it names none)."""
    if addr.ref is None:
        return "master"
    if addr.ref.back:
        raise InvalidInput(f"{addr}: write to a branch, not to an ancestor ('{addr.ref}')")
    return addr.ref.base


def put(
    api: RestApi,
    address: str,
    local: LocalPath,
    *,
    recursive: bool,
    follow_symlinks: bool,
    message: str,
    cache: bool,
    reporter: Reporter,
) -> PutResult:
    addr = parse_address(address)
    branch = branch_of(addr)
    source = Path(local)
    remote = addr.path
    if not recursive and (remote == "/" or address.endswith("/")):
        remote = remote.rstrip("/") + "/" + source.name
    files = plan(source, remote, recursive, follow_links=follow_symlinks)
    if not files:
        raise InvalidInput(f"{source}: no files to put")
    total = sum(f.key.size for f in files)
    stats_cache = stat_cache() if cache else None
    try:
        with reporter.progress(f"put {len(files)} file(s)", total) as advance:
            commit, stats = Uploader(api, stats_cache, advance).put(
                addr.repo, branch, files, message
            )
    finally:
        if stats_cache is not None:
            stats_cache.close()
    return PutResult(commit, stats)


def get(
    api: RestApi, address: str, dest: LocalPath | None, *, recursive: bool, reporter: Reporter
) -> GetResult:
    addr = parse_address(address)
    name = addr.path.rstrip("/").rsplit("/", 1)[-1]
    if recursive:
        target = Path(dest) if dest is not None else Path(name or addr.repo)
        size = api.stat(addr.repo, addr.ref_text, addr.path).size
        with reporter.progress(f"get {addr}", size) as advance:
            files, nbytes = download.get_dir(
                api, addr.repo, addr.ref_text, addr.path, target, advance
            )
        return GetResult(target, files, nbytes)
    found = api.stat(addr.repo, addr.ref_text, addr.path)
    if found.type == "dir":
        raise InvalidInput(f"{addr.path} is a directory: add -r")
    target = Path(dest) if dest is not None else Path(name)
    with reporter.progress(f"get {addr}", found.size) as advance:
        n = download.get_file(api, addr.repo, addr.ref_text, addr.path, target, advance)
    return GetResult(target, 1, n)


def stream(api: RestApi, address: str, out: BinaryIO) -> int:
    """Write a file's content to `out` as it comes; its size."""
    addr = parse_address(address)
    params = {"ref": addr.ref_text, "path": addr.path}
    n = 0
    with api.transport.open("GET", f"/v1/repos/{addr.repo}/content", params=params) as r:
        for piece in r.iter_bytes():
            out.write(piece)
            n += len(piece)
    return n
