"""`kaon ui`: the web UI's URL of the current platform (the local one, started on demand, or
`kaon init`'s), opened in a browser unless --no-open."""

from __future__ import annotations

import os
import sys

import typer

from kaon.cli.output import emit_json, info
from kaon.cli.workspace import client


def _graphical() -> bool:
    """Whether a browser window can open here (never a text browser taking the terminal)."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(url: str) -> bool:
    import webbrowser

    if not _graphical():
        return False
    try:
        return webbrowser.open(url, new=2)
    except Exception:  # noqa: BLE001 - a browser that cannot start is said, never fatal
        return False


def register(app: typer.Typer) -> None:
    @app.command("ui")
    def ui(
        no_open: bool = typer.Option(False, "--no-open", help="Print the URL only."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON: url, opened."),
    ) -> None:
        """Print the web UI's URL (the platform's /ui/ on its API port) and open it in a
        browser. Sign in with your token: `kaon auth token` prints this machine's platform
        token, `kaon auth token create` makes one of your own. See docs/ui.md."""
        with client() as c:
            c.health()  # the platform answers (the local one is started if it has to be)
            url = f"{c.endpoint}/ui/"
        opened = False if no_open else _open(url)
        if as_json:
            emit_json({"url": url, "opened": opened})
            return
        typer.echo(url)
        if not no_open and not opened:
            info("No browser could be opened here: open the URL above in yours.")
        info("Sign in with your kaon token (`kaon auth token` prints the platform's).")
