"""Data commands in pachctl's grammar: create/list/inspect/put/get/delete/diff of repos,
branches, commits and files. Addresses are repo@ref:/path (ref: branch, commit prefix, ^, ~)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import (
    emit_json,
    human_duration,
    human_size,
    info,
    now,
    success,
    table,
    time_ago,
)
from kaon.core.address import parse_address
from kaon.core.errors import InvalidInput

if TYPE_CHECKING:
    from kaon.client import Client

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
ALL = typer.Option(
    False, "--all", "-a", help="Also each workspace's own repos (<ws>-source, -logs, ...)."
)

repo_app = typer.Typer(help="Data repos: create, list, delete.", no_args_is_help=True)
create_app = typer.Typer(help="Create a repo, a branch or pipelines.", no_args_is_help=True)
list_app = typer.Typer(
    help="List repos, branches, commits, files, pipelines, jobs or datums.", no_args_is_help=True
)
inspect_app = typer.Typer(
    help="Show one commit, pipeline or pipeline job in detail.", no_args_is_help=True
)
put_app = typer.Typer(
    help="Upload files into a repo (one commit per command).", no_args_is_help=True
)
get_app = typer.Typer(help="Download files from a repo.", no_args_is_help=True)
delete_app = typer.Typer(help="Delete a repo, a branch, files or a pipeline.", no_args_is_help=True)
diff_app = typer.Typer(help="Compare two commits.", no_args_is_help=True)


def _client() -> Client:
    from kaon.client import Client

    return Client.from_env()


# repos -----------------------------------------------------------------------------------
def _create_repo(name: str, description: str) -> None:
    with _client() as client:
        client.create_repo(name, description)
    success(f"created repo {name}")


def _list_repos(as_json: bool, everything: bool) -> None:
    with _client() as client:
        repos = client.list_repos()
        if not everything:  # each workspace's own repos (<ws>-source, -logs, …) hidden
            internal = {r for w in client.list_workspaces() for r in w.repos}
            shown = [r for r in repos if r.name not in internal]
            if len(shown) < len(repos):
                info(f"({len(repos) - len(shown)} workspace repos hidden: --all shows them)")
            repos = shown
    if as_json:
        emit_json(repos)
        return
    t = now()
    table(
        ["NAME", "CREATED", "SIZE (MASTER)", "BRANCHES"],
        [[r.name, time_ago(r.created, t), human_size(r.size), ",".join(r.branches)] for r in repos],
    )


def _delete_repo(name: str) -> None:
    with _client() as client:
        client.delete_repo(name)
    success(f"deleted repo {name} (run `kaon gc` to reclaim its storage)")


@repo_app.command("create")
def repo_create(name: str, description: str = typer.Option("", "--description", "-d")) -> None:
    """Create a data repo."""
    _create_repo(name, description)


@repo_app.command("list")
def repo_list(as_json: bool = JSON, everything: bool = ALL) -> None:
    """List data repos: NAME CREATED SIZE (MASTER) BRANCHES."""
    _list_repos(as_json, everything)


@repo_app.command("delete")
def repo_delete(name: str) -> None:
    """Delete a repo with its branches and history."""
    _delete_repo(name)


@create_app.command("repo")
def create_repo(name: str, description: str = typer.Option("", "--description", "-d")) -> None:
    """Create a data repo (same as `kaon repo create`)."""
    _create_repo(name, description)


@list_app.command("repo")
def list_repo(as_json: bool = JSON, everything: bool = ALL) -> None:
    """List data repos (same as `kaon repo list`)."""
    _list_repos(as_json, everything)


@delete_app.command("repo")
def delete_repo(name: str) -> None:
    """Delete a repo (same as `kaon repo delete`)."""
    _delete_repo(name)


# branches --------------------------------------------------------------------------------
@create_app.command("branch")
def create_branch(
    address: str = typer.Argument(..., help="repo@branch"),
    head: str = typer.Option(None, "--head", help="Commit or ref the branch points at."),
) -> None:
    """Create a branch (no --head: an empty branch, visible as bucket branch.repo)."""
    addr = parse_address(address)
    if addr.ref is None:
        raise InvalidInput("name the branch: kaon create branch repo@branch")
    with _client() as client:
        b = client.create_branch(addr.repo, addr.ref.base, head)
    success(f"branch {b.repo}@{b.name} → {b.head or '<no commit>'}")


@list_app.command("branch")
def list_branch(repo: str, as_json: bool = JSON) -> None:
    """List the branches of a repo: BRANCH HEAD."""
    with _client() as client:
        branches = client.list_branches(repo)
    if as_json:
        emit_json(branches)
        return
    table(["BRANCH", "HEAD"], [[b.name, b.head or "-"] for b in branches])


@delete_app.command("branch")
def delete_branch(address: str = typer.Argument(..., help="repo@branch")) -> None:
    """Delete a branch (its commits stay reachable by id until the repo is deleted)."""
    addr = parse_address(address)
    from kaon.client.putget import branch_of

    with _client() as client:
        client.delete_branch(addr.repo, branch_of(addr))
    success(f"deleted branch {address}")


# commits ---------------------------------------------------------------------------------
@list_app.command("commit")
def list_commit(
    address: str = typer.Argument(..., help="repo[@ref], or a global id (32 hex digits)"),
    number: int = typer.Option(None, "--number", "-n", help="At most this many commits."),
    as_json: bool = JSON,
) -> None:
    """History of a branch, newest first: REPO BRANCH COMMIT PARENT STARTED DURATION SIZE.
    A global id lists its commit set: the input commit and every pipeline output commit it
    set off (`kaon list commit 3f2a9c0e5d7b4a1c9e8f6d5c4b3a2910`)."""
    from kaon.cli.pipelinejobs import is_global_id, list_commit_set

    if is_global_id(address):
        list_commit_set(address, as_json)
        return
    addr = parse_address(address)
    with _client() as client:
        commits = client.list_commits(addr.repo, addr.ref_text, number)
    if as_json:
        emit_json(commits)
        return
    t = now()
    table(
        ["REPO", "BRANCH", "COMMIT", "PARENT", "STARTED", "DURATION", "SIZE"],
        [
            [
                c.repo,
                c.branch,
                c.id,
                c.parent or "<none>",
                time_ago(c.started, t),
                human_duration(c.duration),
                human_size(c.size),
            ]
            for c in commits
        ],
    )


@inspect_app.command("commit")
def inspect_commit(
    address: str = typer.Argument(..., help="repo@ref"), as_json: bool = JSON
) -> None:
    """Details of one commit (ref: branch, id prefix, master^, master^2)."""
    addr = parse_address(address)
    with _client() as client:
        c = client.inspect_commit(addr.repo, addr.ref_text)
    if as_json:
        emit_json(c)
        return
    t = now()
    for key, value in [
        ("Commit", f"{c.repo}@{c.id}"),
        ("Branch", c.branch),
        ("Parent", c.parent or "<none>"),
        ("Started", time_ago(c.started, t)),
        ("Duration", human_duration(c.duration)),
        ("Size", human_size(c.size)),
        ("Files", c.count),
        ("Tree", c.tree or "-"),
        ("Message", c.message or "-"),
    ]:
        typer.echo(f"{key}: {value}")


# files -----------------------------------------------------------------------------------
@put_app.command("file")
def put_file(
    address: str = typer.Argument(..., help="repo@branch:/path"),
    file: Path = typer.Option(..., "--file", "-f", help="Local file or folder (-r)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Put a folder."),
    follow_symlinks: bool = typer.Option(
        False,
        "--follow-symlinks",
        help="With -r: put what symbolic links to folders or outside files point to.",
    ),
    message: str = typer.Option("", "--message", "-m", help="Commit message."),
    as_json: bool = JSON,
) -> None:
    """Upload a file or folder as ONE commit; only chunks the server lacks are sent."""
    from kaon.cli.output import REPORTER

    parse_address(address)  # a malformed address fails before the platform is asked
    with _client() as client:
        done = client.put(
            address,
            file,
            recursive=recursive,
            follow_symlinks=follow_symlinks,
            message=message,
            reporter=REPORTER,
        )
    commit, stats = done.commit, done.stats
    if as_json:
        emit_json({"commit": commit, "stats": stats})
        return
    rate = stats.bytes / stats.seconds / 1e6 if stats.seconds else 0.0
    success(
        f"{commit.repo}@{commit.branch} {commit.id}: {stats.files} file(s), "
        f"{human_size(stats.bytes)} ({human_size(stats.new_bytes)} new) in {stats.seconds:.2f}s "
        f"({rate:.0f} MB/s)"
    )


@get_app.command("file")
def get_file(
    address: str = typer.Argument(..., help="repo@ref:/path"),
    output: Path = typer.Option(
        None, "--output", "-o", help="Local target (default stdout for a file)."
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Get a folder."),
) -> None:
    """Download a file (or a folder with -r)."""
    from kaon.cli.output import REPORTER

    parse_address(address)  # a malformed address fails before the platform is asked
    with _client() as client:
        if output is None and not recursive:
            client.stream(address, sys.stdout.buffer)
            return
        got = client.get(address, output, recursive=recursive, reporter=REPORTER)
    if recursive:
        success(f"{got.files} file(s), {human_size(got.bytes)} → {got.path}")
    else:
        success(f"{human_size(got.bytes)} → {got.path}")


@list_app.command("file")
def list_file(
    address: str = typer.Argument(..., help="repo@ref[:/path]"),
    history: str = typer.Option("0", "--history", help="Revisions per entry: N, or 'all'."),
    number: int = typer.Option(None, "--number", "-n", help="At most this many entries (a page)."),
    after: str = typer.Option(
        "", "--after", help="Entries named after this path (the last one of the previous page)."
    ),
    as_json: bool = JSON,
) -> None:
    """Files of a commit, sorted by name: NAME TYPE SIZE (--history N adds COMMIT and
    COMMITTED). Page through a big folder with -n N, then --after <the last path shown>."""
    addr = parse_address(address)
    depth = -1 if history in ("all", "-1") else int(history) if history.isdigit() else None
    if depth is None:
        raise InvalidInput(f"--history {history!r}: expected a number or 'all'")
    if number is not None and number < 1:
        raise InvalidInput(f"--number {number}: give at least 1 (entries per page)")
    with _client() as client:
        files = client.list_files(addr.repo, addr.ref_text, addr.path, depth, number, after)
    if as_json:
        emit_json(files)
        return
    if depth:
        t = now()
        table(
            ["COMMIT", "NAME", "TYPE", "COMMITTED", "SIZE"],
            [
                [f.commit, f.path, f.type, time_ago(f.committed or t, t), human_size(f.size)]
                for f in files
            ],
        )
    else:
        table(["NAME", "TYPE", "SIZE"], [[f.path, f.type, human_size(f.size)] for f in files])


@delete_app.command("file")
def delete_file(
    address: str = typer.Argument(..., help="repo@branch:/path"),
    message: str = typer.Option("", "--message", "-m"),
) -> None:
    """Delete a file or folder as a new commit."""
    addr = parse_address(address)
    if addr.path == "/":
        raise InvalidInput("name the path to delete: repo@branch:/path")
    from kaon.client.putget import branch_of

    with _client() as client:
        c = client.delete_file(addr.repo, branch_of(addr), addr.path, message)
    success(f"deleted {addr.path}: {c.repo}@{c.branch} {c.id}")


@diff_app.command("file")
def diff_file(
    new: str = typer.Argument(..., help="repo@ref[:/path]"),
    old: str = typer.Argument(None, help="repo@ref (default: the parent of NEW)"),
    as_json: bool = JSON,
) -> None:
    """Files added, removed or modified between two commits."""
    a = parse_address(new)
    b = parse_address(old) if old else None
    if b is not None and b.repo != a.repo:
        raise InvalidInput("diff compares two commits of the same repo")
    with _client() as client:
        changes = client.diff(a.repo, a.ref_text, b.ref_text if b else None, a.path)
    if as_json:
        emit_json(changes)
        return
    sign = {"added": "+", "removed": "-", "modified": "~"}
    table(
        ["CHANGE", "PATH", "OLD SIZE", "NEW SIZE"],
        [
            [
                sign[c.kind] + " " + c.kind,
                c.path,
                human_size(c.old_size) if c.old_size is not None else "-",
                human_size(c.new_size) if c.new_size is not None else "-",
            ]
            for c in changes
        ],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(repo_app, name="repo")
    for name, sub in [
        ("create", create_app),
        ("list", list_app),
        ("inspect", inspect_app),
        ("put", put_app),
        ("get", get_app),
        ("delete", delete_app),
        ("diff", diff_app),
    ]:
        app.add_typer(sub, name=name)
