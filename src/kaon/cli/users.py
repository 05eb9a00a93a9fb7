"""`kaon user add/list/remove`, `kaon auth whoami` and `kaon auth token [create|list|revoke]`:
people and their API tokens. The CLI acts as whoever its token names: KAON_TOKEN, else the
token of `kaon init --token`, else the local platform's ($KAON_HOME/token, the first admin's)."""

from __future__ import annotations

from datetime import datetime

import typer

from kaon.cli.output import emit_json, info, now, success, table, time_ago
from kaon.cli.workspace import JSON, client

user_app = typer.Typer(
    help=(
        "Users of a shared platform, each with their own API tokens. The first user (the OS "
        "user who started the platform) is an admin; admins add and remove users. Give a "
        "user access to a workspace with `kaon workspace share -n WS --user NAME --role "
        "viewer|editor|owner`."
    ),
    no_args_is_help=True,
)
token_app = typer.Typer(
    help=(
        "API tokens. With no subcommand: print this machine's platform token "
        "($KAON_HOME/token, the first admin's), for `kaon init -e URL --token ...` elsewhere. "
        "`create`, `list` and `revoke` manage the tokens of the user you act as."
    ),
    invoke_without_command=True,
)


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _how_to_use(secret: str, endpoint: str) -> None:
    typer.echo(f"Token: {secret}")
    info("It is shown only now: keep it safe. Act as this user with")
    info(f"  KAON_TOKEN={secret} kaon workspace list")
    info(f"or, on their machine: kaon init -e {endpoint} --token {secret}")


@user_app.command("add")
def add(
    name: str = typer.Argument(..., help="1-63 letters, digits, '_', '.' or '-'."),
    admin: bool = typer.Option(False, "--admin", help="Make the user an admin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the token)."),
) -> None:
    """Add a user (admins only) and print their first API token, once. The user sees no
    workspace until an owner runs `kaon workspace share -n WS --user NAME --role viewer`;
    the shared repos (`kaon create repo`) are everyone's."""
    with client() as c:
        made = c.add_user(name, admin)
        endpoint = c.endpoint
    if as_json:
        emit_json(made)
        return
    success(f"Added user {name}" + (" (admin)" if admin else ""))
    _how_to_use(made.secret, endpoint)


@user_app.command("list")
def list_(as_json: bool = JSON) -> None:
    """List users: NAME ADMIN CREATED WORKSPACES(role) (only the workspaces you may see)."""
    with client() as c:
        users = c.list_users()
    if as_json:
        emit_json(users)
        return
    t = now()
    table(
        ["NAME", "ADMIN", "CREATED", "WORKSPACES(role)"],
        [
            [
                u.name,
                "yes" if u.admin else "no",
                time_ago(u.created, t),
                ",".join(f"{w}({r})" for w, r in u.workspaces.items()) or "-",
            ]
            for u in users
        ],
    )


@user_app.command("remove")
def remove(name: str = typer.Argument(..., help="The user to remove.")) -> None:
    """Remove a user (admins only): their API tokens stop working and their workspace roles
    go. The last admin cannot be removed (make another admin first)."""
    with client() as c:
        c.remove_user(name)
    success(f"Removed user {name}: their tokens and roles are revoked")


# `kaon auth whoami` and `kaon auth token ...` --------------------------------------------------
def whoami(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Who the CLI acts as: the user, whether an admin, and which token. The CLI acts as
    the user whose token it sends: KAON_TOKEN, else the token of `kaon init --token`, else
    the local platform's ($KAON_HOME/token)."""
    with client() as c:
        me = c.whoami()
    if as_json:
        emit_json(me)
        return
    typer.echo(f"User:  {me.user}{' (admin)' if me.admin else ''}")
    if me.token is not None:
        typer.echo(f"Token: {me.token.id} ({me.token.name}, expires {_when(me.token.expires)})")
    if me.job:
        typer.echo(f"Job:   {me.job} (only workspace {me.workspace})")


@token_app.callback()
def token(ctx: typer.Context) -> None:
    """Print this machine's platform API token ($KAON_HOME/token) when no subcommand is
    given, for `kaon init -e http://<this machine>:5266 --token <token>` on another one."""
    if ctx.invoked_subcommand is not None:
        return
    from kaon.client.connect import local_token
    from kaon.config import TOKEN_FILE, kaon_home
    from kaon.core.errors import NotFound

    found = local_token()
    if found is None:
        raise NotFound(
            f"no token in {kaon_home() / TOKEN_FILE}: the platform writes it when it first "
            "starts (`kaon up`); set KAON_HOME if the server runs with another home"
        )
    typer.echo(found)


@token_app.command("create")
def token_create(
    name: str = typer.Option("", "--name", "-n", help="What it is for, e.g. laptop."),
    expires: str = typer.Option(
        None, "--expires", help="Lifetime, e.g. 30d, 12h, 90m (default: until revoked)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with the token)."),
) -> None:
    """Create an API token of the user you act as and print it, once."""
    with client() as c:
        made = c.create_token(name, expires)
        endpoint = c.endpoint
    if as_json:
        emit_json(made)
        return
    success(f"Created token {made.token.id} ({made.token.name})")
    _how_to_use(made.secret, endpoint)


@token_app.command("list")
def token_list(as_json: bool = JSON) -> None:
    """Your API tokens: ID NAME CREATED EXPIRES WORKSPACE JOB (never their secrets; a job's
    token reaches only its WORKSPACE and goes when the JOB ends)."""
    with client() as c:
        tokens = c.list_tokens()
    if as_json:
        emit_json(tokens)
        return
    table(
        ["ID", "NAME", "CREATED", "EXPIRES", "WORKSPACE", "JOB"],
        [
            [t.id, t.name, _when(t.created), _when(t.expires), t.workspace or "-", t.job or "-"]
            for t in tokens
        ],
    )


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(..., help="Its ID (`kaon auth token list`)."),
) -> None:
    """Revoke one of your API tokens: it stops working at once."""
    with client() as c:
        c.revoke_token(token_id)
    success(f"Revoked token {token_id}")
