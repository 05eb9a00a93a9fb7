"""`kaon audit`: the audit log of writes and permission changes, newest first."""

from __future__ import annotations

import time

import typer

from kaon.cli.output import emit_json, table
from kaon.cli.workspace import client


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at))


def register(app: typer.Typer) -> None:
    @app.command()
    def audit(
        user: str = typer.Option(
            None,
            "--user",
            "-u",
            help="Only this user's entries ('': writes refused for no valid token).",
        ),
        workspace: str = typer.Option(
            None, "--workspace", "-w", help="Only the entries of this workspace."
        ),
        action: str = typer.Option(
            None, "--action", "-a", help="Only actions containing this text (POST, train, S3)."
        ),
        since: str = typer.Option(
            None, "--since", help="From this moment: 1h (ago), 2d, or 2026-12-06T08:00 (local)."
        ),
        until: str = typer.Option(None, "--until", help="Before this moment (as --since)."),
        limit: int = typer.Option(100, "--limit", "-l", help="At most this many (1-10000)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """Writes and permission changes (REST API and S3 gateway, refused ones too), newest
        first. An admin sees every entry; another user those of the workspaces they own and
        their own."""
        from kaon.core.errors import InvalidInput
        from kaon.core.units import parse_when

        if not 1 <= limit <= 10_000:
            raise InvalidInput(f"invalid --limit {limit}: use 1 to 10000")
        now = time.time()
        start = parse_when(since, now) if since is not None else None
        end = parse_when(until, now) if until is not None else None
        with client() as c:
            entries = c.audit(
                user=user, workspace=workspace, action=action, since=start, until=end, limit=limit
            )
        if as_json:
            emit_json(entries)
            return
        table(
            ["TIME", "USER", "ACTION", "TARGET", "WORKSPACE", "STATUS"],
            [
                [_when(e.at), e.user or "-", e.action, e.target, e.workspace or "-", e.status]
                for e in entries
            ],
        )
