"""Workspaces and templates, in kaos' grammar: `kaon workspace create -n mnist`,
`kaon template get --name mnist`."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import boxed, confirm, emit_json, info, success
from kaon.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from kaon.client import Client

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
workspace_app = typer.Typer(
    help="Workspaces: a namespace for bundles, jobs, models and endpoints.", no_args_is_help=True
)
template_app = typer.Typer(
    help="Ready-to-run example bundles shipped with kaon.", no_args_is_help=True
)


def _use_workspace(value: str | None) -> str | None:
    if value:
        from kaon.client import state

        state.use_workspace(value)
    return value


WORKSPACE = typer.Option(
    None,
    "--workspace",
    "-w",
    callback=_use_workspace,
    help="Workspace for this command (default: $KAON_WORKSPACE, else the current one).",
)


def client() -> Client:
    from kaon.client import Client

    return Client.from_env()


def _pick(kind: str, name: str | None, ind: int | None) -> str:
    from kaon.client import state

    if (name is None) == (ind is None):
        raise InvalidInput(f"give exactly one of -n/--name or -i/--ind (see `kaon {kind} list`)")
    return name if name is not None else state.from_index(kind, ind or 0)


@workspace_app.command("create")
def create(name: str = typer.Option(..., "--name", "-n", help="Letters, digits and _.")) -> None:
    """Create a workspace and make it the current one."""
    from kaon.client import state

    with client() as c:
        ws = c.create_workspace(name)
    state.set_workspace(ws.name)
    success(f"Successfully set {ws.name} workspace")


@workspace_app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List workspaces (ind | name); `-i` of other commands refers to this listing."""
    from kaon.client import state

    with client() as c:
        spaces = c.list_workspaces()
    state.save_index("workspace", [w.name for w in spaces])
    if as_json:
        emit_json(spaces)
        return
    if not spaces:
        info("There are currently no workspaces: first run `kaon workspace create -n <name>`")
        return
    current = state.current_workspace()
    boxed(
        ["ind", "name", "jobs", "current"],
        [[i, w.name, w.jobs, "*" if w.name == current else ""] for i, w in enumerate(spaces)],
    )


@workspace_app.command("set")
def set_(
    name: str = typer.Option(None, "--name", "-n"), ind: int = typer.Option(None, "--ind", "-i")
) -> None:
    """Make a workspace the current one."""
    from kaon.client import state

    chosen = _pick("workspace", name, ind).lower()
    with client() as c:
        try:
            ws = c.get_workspace(chosen)
        except NotFound:
            names = [w.name for w in c.list_workspaces()]
            close = difflib.get_close_matches(chosen, names, n=3, cutoff=0.6)
            hint = f" Did you mean one of these? {', '.join(close)}" if close else ""
            raise NotFound(f"workspace {chosen} does not exist.{hint}") from None
    state.set_workspace(ws.name)
    success(f"Successfully set {ws.name} workspace")


@workspace_app.command("current")
def current(workspace: str = WORKSPACE) -> None:
    """Show the current workspace and where it comes from (-w, $KAON_WORKSPACE or the one
    saved by `kaon workspace create` or `set`, in that order)."""
    from kaon.client import state

    name = state.require_workspace()
    typer.echo(f"Workspace {name} is currently set ({state.workspace_origin()[1]})")


@workspace_app.command("info")
def info_(as_json: bool = JSON, workspace: str = WORKSPACE) -> None:
    """The current workspace: its repos, jobs and latest inputs."""
    from kaon.client import state

    with client() as c:
        ws = c.get_workspace(state.require_workspace())
    if as_json:
        emit_json(ws)
        return
    typer.echo(f"--- Workspace {ws.name} ---  (created by {ws.author or '?'})")
    typer.echo("Repos:")
    for repo in ws.repos:
        typer.echo(f"  - {repo}")
    typer.echo(f"Jobs: {ws.jobs}")
    for kind in ("source", "data"):
        doc = ws.current.get(kind)
        if isinstance(doc, dict):
            typer.echo(f"Latest {kind} bundle: {doc.get('path')}")


@workspace_app.command("kill")
def kill(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    workspace: str = WORKSPACE,
) -> None:
    """Kill the current workspace: stop its jobs, delete its repos, jobs and models."""
    from kaon.client import state

    name = state.require_workspace()
    if not yes:
        confirm(f"Are you sure about killing all {name} resources?")
    with client() as c:
        c.kill_workspace(name)
    if state.saved_workspace() == name:  # killing another one (-w) keeps the current one
        state.set_workspace(None)
    success(f"Successfully killed all {name} resources")


# members -----------------------------------------------------------------------------------
ROLES = "owner (all, and sharing), editor (read and write: put, deploy, kill), viewer (list, get)"
WS_NAME = typer.Option(
    None, "--name", "-n", help="The workspace (default: -w, $KAON_WORKSPACE, else the current)."
)


def _named(name: str | None) -> str:
    from kaon.client import state

    return name.lower() if name else state.require_workspace()


@workspace_app.command("share")
def share(
    name: str = WS_NAME,
    user: str = typer.Option(..., "--user", "-u", help="Who gets the role (`kaon user list`)."),
    role: str = typer.Option(..., "--role", "-r", help=f"One of: {ROLES}."),
    workspace: str = WORKSPACE,
) -> None:
    """Give a user a role in a workspace, replacing the one they had (its owners and admins
    only). Roles: owner (all, and sharing), editor (read and write: put, deploy, kill),
    viewer (list and get). A user with no role does not see the workspace at all."""
    from kaon.core.users import Role

    ws = _named(name)
    chosen = Role.parse(role)  # a typo fails here, before any request
    with client() as c:
        member = c.share(ws, user, chosen.value)
    success(f"{member.user} is now {member.role} of workspace {member.workspace}")


@workspace_app.command("unshare")
def unshare(
    name: str = WS_NAME,
    user: str = typer.Option(..., "--user", "-u", help="Whose role goes."),
    workspace: str = WORKSPACE,
) -> None:
    """Take a user's role in a workspace away: they no longer see it (its owners and admins
    only; never its last owner)."""
    ws = _named(name)
    with client() as c:
        c.unshare(ws, user)
    success(f"{user} has no role in workspace {ws} any more")


@workspace_app.command("members")
def members(name: str = WS_NAME, as_json: bool = JSON, workspace: str = WORKSPACE) -> None:
    """Who has which role in a workspace: USER ROLE."""
    from kaon.cli.output import table

    ws = _named(name)
    with client() as c:
        found = c.members(ws)
    if as_json:
        emit_json(found)
        return
    table(["USER", "ROLE"], [[m.user, m.role] for m in found])


# templates ---------------------------------------------------------------------------------
def templates_root() -> Path:
    from importlib import resources

    return Path(str(resources.files("kaon") / "templates"))


def _templates() -> list[dict[str, str]]:
    import json

    doc = json.loads((templates_root() / "metadata.json").read_text())
    return [dict(t) for t in doc]


@template_app.command("list")
def template_list(as_json: bool = JSON) -> None:
    """Templates shipped with kaon (ind | name | description | input_type)."""
    from kaon.client import state

    items = _templates()
    state.save_index("template", [t["name"] for t in items])
    if as_json:
        emit_json(items)
        return
    boxed(
        ["ind", "name", "description", "input_type"],
        [[i, t["name"], t["description"], t["input_type"]] for i, t in enumerate(items)],
    )


@template_app.command("get")
def template_get(
    name: str = typer.Option(None, "--name", "-n"),
    ind: int = typer.Option(None, "--ind", "-i"),
    out: Path = typer.Option(Path("templates"), "--out", "-o", help="Parent folder."),
) -> None:
    """Copy a template to ./templates/<name> (an existing copy is replaced)."""
    chosen = _pick("template", name, ind)
    names = [t["name"] for t in _templates()]
    if chosen not in names:
        raise NotFound(f"no template {chosen!r}: use one of {', '.join(names)}")
    target = out / chosen
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        templates_root() / chosen, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    from kaon.client.bundles import restore_modes

    restore_modes(target)  # an installer may drop the executable bit of `train` and co
    success(f"Successfully loaded {chosen} template into {target}")
