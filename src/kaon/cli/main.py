"""kaon: versioned data, reproducible training and serving (the CLI).

Errors print one line on stderr and exit non-zero (2 bad input, 3 server unreachable,
4 not found, 5 conflict, 6 permission, 7 storage full); --debug shows the traceback.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence

import typer

from kaon.cli import platform
from kaon.cli.localerrors import local_error
from kaon.config import GC_THRESHOLDS
from kaon.core.errors import KaonError

app = typer.Typer(
    name="kaon",
    help=(
        "kaon: versioned data repos, reproducible training and serving on one machine.\n\n"
        "Data: `kaon repo create inputrepo`, "
        "`kaon put file inputrepo@master:/data/x.csv -f x.csv`. "
        "Training: `kaon workspace create -n mnist`, `kaon template get --name mnist`, "
        "`kaon train deploy -s templates/mnist/model-train -d templates/mnist/data`. "
        "Pipelines: `kaon create pipeline -f specs.yaml`, `kaon list job`, "
        "`kaon logs --pipeline edges` (docs/pipelines.md). "
        "The local platform starts on demand (`kaon up` / `kaon down` / `kaon status`). "
        "Sharing it: `kaon user add ann`, `kaon workspace share -n mnist --user ann --role "
        "viewer`; the CLI acts as KAON_TOKEN (`kaon auth whoami`)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        platform.show_version(False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_version,
        help="Client and server versions (as `kaon version`).",
    ),
) -> None:
    if debug:
        os.environ["KAON_DEBUG"] = "1"


# Commands are registered on demand: a command's run imports and converts (typer → click) only
# the modules of its own group; `kaon`, `kaon --help` and any word not in UNITS get them all.
# Each unit registers its modules' commands on a root app (module-level sub-apps: once per
# process). UNITS is checked against the units' real commands by tests/cli/test_lazy_commands.


def _data(root: typer.Typer) -> None:
    from kaon.cli import data, pipelines

    data.register(root)
    pipelines.register(root, data.create_app, data.list_app, data.inspect_app, data.delete_app)


def _workspace(root: typer.Typer) -> None:
    from kaon.cli import workspace

    root.add_typer(workspace.workspace_app, name="workspace")
    root.add_typer(workspace.template_app, name="template")


def _train_serve(root: typer.Typer) -> None:
    from kaon.cli import provenance, serve, train

    train.register(root)
    serve.register(root)
    provenance.register(train.train_app, serve.serve_app)


def _notebooks(root: typer.Typer) -> None:
    from kaon.cli import notebooks

    notebooks.register(root)


def _subvenance(root: typer.Typer) -> None:
    from kaon.cli import provenance

    provenance.register_data(root)


def _users(root: typer.Typer) -> None:
    from kaon.cli import auth, users

    root.add_typer(users.user_app, name="user")
    auth.auth_app.command("whoami")(users.whoami)
    auth.auth_app.add_typer(users.token_app, name="token")
    root.add_typer(auth.auth_app, name="auth")


def _audit(root: typer.Typer) -> None:
    from kaon.cli import audit

    audit.register(root)


def _ui(root: typer.Typer) -> None:
    from kaon.cli import ui

    ui.register(root)


# every unit, in the order `kaon --help` lists their commands
REGISTRARS: dict[str, Callable[[typer.Typer], None]] = {
    "platform": platform.register,
    "data": _data,
    "workspace": _workspace,
    "train": _train_serve,
    "notebook": _notebooks,
    "subvenance": _subvenance,
    "user": _users,
    "audit": _audit,
    "ui": _ui,
}
# the top-level commands and groups of each unit (what its registrar adds to the root)
UNITS: dict[str, tuple[str, ...]] = {
    "platform": ("up", "down", "status", "server", "init", "version", "gc"),
    "data": (
        *("repo", "create", "list", "inspect", "put", "get", "delete", "diff"),
        *("logs", "restart", "wait", "update", "stop", "start", "run"),
    ),
    "workspace": ("workspace", "template"),
    "train": ("train", "serve"),
    "notebook": ("notebook",),
    "subvenance": ("data",),
    "user": ("user", "auth"),
    "audit": ("audit",),
    "ui": ("ui",),
}
_UNIT_OF = {command: unit for unit, commands in UNITS.items() for command in commands}
_registered: set[str] = set()


def register(units: Iterable[str] = REGISTRARS) -> typer.Typer:
    """The root app with the commands of `units` (default: all) registered, once each."""
    for unit in REGISTRARS:  # in the order of REGISTRARS, whatever the order asked
        if unit in units and unit not in _registered:
            _registered.add(unit)
            REGISTRARS[unit](app)
    return app


def units_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The units a command line needs: its command's (the first word that is not an option:
    the root's options take no value), or all of them (no command, help, an unknown word)."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):  # the root's own help or version
            break
        if not arg.startswith("-"):
            unit = _UNIT_OF.get(arg)
            return tuple(REGISTRARS) if unit is None else (unit,)
    return tuple(REGISTRARS)


def usage_line(exc: Exception) -> str:
    """click's usage error (four lines: usage, try, blank, error) as one line and a hint."""
    import click

    assert isinstance(exc, click.exceptions.ClickException)
    text = " ".join(exc.format_message().split()).rstrip(".")
    # click and typer both append "Did you mean ...?" to an unknown command: say it once
    text = " ".join(dict.fromkeys(re.split(r"(?<=[.?!]) ", text)))
    ctx = getattr(exc, "ctx", None)
    if not isinstance(exc, click.exceptions.UsageError):
        return text
    if ctx is not None:
        return f"{text}: see `{ctx.command_path} --help`"
    words = []  # no context (an option's missing value): the command the words name
    for arg in sys.argv[1:3]:
        if arg.startswith("-"):
            break
        words.append(arg)
    return f"{text}: see `{' '.join(['kaon', *words])} --help`"


def run() -> None:
    """Console entry point: map KaonError to one line on stderr and its exit code."""
    debug = "--debug" in sys.argv or os.environ.get("KAON_DEBUG") == "1"
    gc.freeze()  # what the imports made is never garbage (see kaon.config.GC_THRESHOLDS)
    gc.set_threshold(*GC_THRESHOLDS)
    register(units_for(sys.argv[1:]))
    try:
        code = app(standalone_mode=False)  # typer.Exit(n) comes back as n, not raised
        if isinstance(code, int) and code:
            sys.exit(code)
    except KaonError as exc:
        if debug:
            raise
        sys.stderr.write(f"Error: {exc.message}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted: nothing was committed by the interrupted command.\n")
        sys.exit(130)
    except Exception as exc:  # click's own usage errors and aborts
        import click

        if isinstance(exc, click.exceptions.ClickException):
            sys.stderr.write(f"Error: {usage_line(exc)}\n")
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.stderr.write("Aborted.\n")
            sys.exit(1)
        local = local_error(exc)  # this machine's filesystem: a path, a full disk
        if debug:
            raise
        if local is not None:
            sys.stderr.write(f"Error: {local.message}\n")
            sys.exit(local.exit_code)
        sys.stderr.write(f"Error: unexpected {type(exc).__name__}: {exc} (rerun with --debug)\n")
        sys.exit(1)


if __name__ == "__main__":
    run()
