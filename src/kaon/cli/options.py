"""Options and arguments the resource commands share (`kaon serve`, `kaon notebook`): --json,
-i/--ind (a row of the last `list`), "exactly one of a name or a row", a created time."""

from __future__ import annotations

import time
from typing import Any

import typer

from kaon.core.errors import InvalidInput

JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
TAIL = typer.Option(
    None,
    "--tail",
    "-n",
    min=0,
    help="Only the last N lines (then, with --follow, what comes); default: the whole log.",
)


def ind(command: str) -> Any:
    """-i/--ind: a row of the last `kaon <command> list`."""
    return typer.Option(None, "--ind", "-i", help=f"Row of the last `kaon {command} list`.")


def name_or_row(name: str | None, row: int | None, flag: str, command: str) -> str:
    """The name given with `flag`, or the one in row `row` of the last `kaon <command> list`
    (exactly one of them)."""
    from kaon.client import state

    if (name is None) == (row is None):
        raise InvalidInput(f"give exactly one of {flag} or -i/--ind (see `kaon {command} list`)")
    return name if name is not None else state.from_index(command, row or 0)


def created(ts: float) -> str:
    """A creation time as the tables show it: local, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
