"""Platform commands: up, down, status, version, server, init, gc."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import emit_json, human_size, table

if TYPE_CHECKING:
    from kaon.client.models import BackendOut

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_server(endpoint: str, token: str | None) -> str | None:
    """The token that works for `endpoint` (checked with a real call). Without one, a server on
    this machine is tried with the local platform's token; never sent elsewhere."""
    from urllib.parse import urlsplit

    from kaon.client import Client
    from kaon.client.connect import local_token
    from kaon.core.errors import BackendUnavailable, PermissionDenied

    host = urlsplit(endpoint).hostname or ""
    candidate = token
    if candidate is None and host in _LOOPBACK:
        candidate = local_token()
    hint = (
        f"{endpoint} needs its API token: on the server's machine `kaon auth token` prints it "
        f"(it is $KAON_HOME/token there); then run `kaon init -e {endpoint} --token <token>`"
    )
    with Client(endpoint, candidate) as client:
        try:
            client.health()
        except BackendUnavailable as exc:
            if "reason" not in exc.details:
                raise
            where = "the local platform" if host in _LOOPBACK else "it, on that machine"
            raise BackendUnavailable(
                f"cannot reach a kaon server at {endpoint} ({exc.details['reason']}), so nothing "
                f"changed: check the URL and that a server runs there (`kaon up` starts {where}; "
                "`kaon status` prints its URL)"
            ) from None
        if candidate is None:
            raise PermissionDenied(hint)
        try:
            client.list_repos()  # proves the token works
        except PermissionDenied:
            if token is not None:
                raise
            raise PermissionDenied(hint) from None
    return candidate


def show_version(as_json: bool) -> None:
    """`kaon version` and `kaon --version`: the client's version, and the server's when one
    answers (like `pachctl version`); an unreachable server is said, not an error."""
    from kaon import __version__
    from kaon.client import Client
    from kaon.client.connect import resolve_target
    from kaon.core.errors import KaonError

    target = resolve_target()
    server: str | None = None
    problem = "the local platform is not running: start it with `kaon up`"
    if target.endpoint is not None:
        try:
            with Client(target.endpoint, target.token) as client:
                server = str(client.health().get("version"))
        except KaonError as exc:
            problem = f"{target.endpoint}: {exc.message}"
    if as_json:
        emit_json(
            {
                "client": __version__,
                "server": server,
                "endpoint": target.endpoint,
                **({} if server else {"server_error": problem}),
            }
        )
        return
    typer.echo(f"COMPONENT VERSION\nkaon      {__version__}")
    typer.echo(f"server    {server}" if server else f"server    unreachable ({problem})")


DATABASE = typer.Option(
    None,
    "--database",
    help="Metadata database URL (KAON_DATABASE_URL; default sqlite:///$KAON_HOME/kaon.db).",
)
STORE = typer.Option(
    None,
    "--store",
    help="Object store URL (KAON_STORE_URL; default file://$KAON_HOME/objects).",
)
EXECUTOR = typer.Option(
    None,
    "--executor",
    help="Where jobs run: local, ray (the cluster of this host), ray://head:10001 "
    "(KAON_EXECUTOR; default local).",
)
ENGINES_HELP = """

    The engines: --database, --store, --executor win over KAON_DATABASE_URL,
    KAON_STORE_URL, KAON_EXECUTOR, which win over $KAON_HOME/config.toml:

    \b
      [platform]
      database = "postgresql://kaon:secret@db.example:5432/kaon"
      store = "s3://kaon-data/prod?endpoint=http://minio.example:9000"
      executor = "ray://ray-head.example:10001"

    Each engine is checked before the server listens: one that does not answer is one
    line and exit 3 (docs/deploy.md)."""


def _engine_args(database: str | None, store: str | None, executor: str | None) -> list[str]:
    given = {"--database": database, "--store": store, "--executor": executor}
    return [part for flag, value in given.items() if value for part in (flag, value)]


up_help = (
    """Start the local platform in the background (default: SQLite + a local store in
    $KAON_HOME, jobs as local processes).

    Examples:

      kaon up

    \b
      kaon up --database postgresql://kaon:secret@db.example/kaon \\
        --store file:///srv/kaon/objects"""
    + ENGINES_HELP
)
server_help = (
    """Run the platform server in the foreground (Ctrl-C stops it): one of several API
    servers sharing one database and one store behind a load balancer (docs/deploy.md).

    Examples:

      kaon server --host 0.0.0.0 --port 5266

    \b
      kaon server --database postgresql://kaon:secret@db/kaon \\
        --store 's3://kaon-data/prod?endpoint=http://minio:9000' \\
        --executor ray://ray-head:10001"""
    + ENGINES_HELP
)


def register(app: typer.Typer) -> None:
    @app.command(help=up_help)
    def up(
        port: int = typer.Option(None, "--port", "-p", help="Port (default 5266, KAON_PORT)."),
        database: str | None = DATABASE,
        store: str | None = STORE,
        executor: str | None = EXECUTOR,
    ) -> None:
        from urllib.parse import urlsplit

        from kaon.client import local
        from kaon.client.connect import local_server
        from kaon.config import ServerSettings, exposure_warning, kaon_home

        # a bad flag, variable or config.toml key: said here, before a server is spawned
        ServerSettings.from_env(port=port, database=database, store=store, executor=executor)
        engines = _engine_args(database, store, executor)
        if engines and (running := local_server()) is not None:
            typer.echo(
                f"Warning: kaon already runs at {running[0]} (pid {running[1]}); "
                f"{' '.join(engines[::2])} not applied: `kaon down` first",
                err=True,
            )
        url, pid = local.start(port=port, extra=engines)
        typer.echo(f"kaon is up at {url} (pid {pid}, home {kaon_home()})")
        warning = exposure_warning(urlsplit(url).hostname or "")
        if warning:
            typer.echo(f"Warning: {warning}", err=True)

    @app.command()
    def down() -> None:
        """Stop the local platform."""
        from kaon.client import local

        pid = local.stop()
        typer.echo(f"kaon stopped (pid {pid})" if pid else "kaon is not running")

    @app.command()
    def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Show whether the platform answers, where, its version, and each engine behind it:
        ROLE (database, store, executor, replicas), URL (passwords shown as ***), OK,
        VERSION, DETAIL (why one does not answer). Exit 3 when the platform is stopped or
        an engine does not answer."""
        from kaon.client import Client
        from kaon.client.connect import resolve_target
        from kaon.config import kaon_home
        from kaon.core.errors import NotFound, PermissionDenied

        target = resolve_target()
        doc: dict[str, object] = {
            "home": str(kaon_home()),
            "endpoint": target.endpoint,
            "local": target.local,
        }
        backends: list[BackendOut] = []
        if target.endpoint is None:
            doc["status"] = "stopped"
        else:
            with Client(target.endpoint, target.token) as client:
                doc.update(client.health())
                try:
                    answer = client.status()
                except (PermissionDenied, NotFound) as exc:  # no token; an older server
                    doc["backends_error"] = exc.message
                else:
                    backends = answer.backends
                    doc.update(status=answer.status, server=answer.server)
            doc["backends"] = backends
        failed = doc["status"] != "ok"
        if as_json:
            emit_json(doc)
            if failed:
                raise typer.Exit(3)  # scripts get the same answer with or without --json
            return
        if doc["status"] == "stopped":
            typer.echo(f"kaon is not running (home {doc['home']}): start it with `kaon up`")
            raise typer.Exit(3)
        typer.echo(
            f"kaon {doc.get('version')} is {doc['status']} at {doc['endpoint']} (home {doc['home']})"
        )
        if backends:
            table(
                ["ROLE", "URL", "OK", "VERSION", "DETAIL"],
                [
                    [b.role, b.url, "yes" if b.ok else "NO", b.version or "-", b.detail]
                    for b in backends
                ],
            )
        elif "backends_error" in doc:
            typer.echo(f"engines not shown: {doc['backends_error']}")
        if failed:
            raise typer.Exit(3)

    @app.command(help=server_help)
    def server(
        host: str = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
        port: int = typer.Option(None, help="Port (default 5266; 0 picks a free one)."),
        s3_port: int = typer.Option(
            None, "--s3-port", help="S3 gateway port (default 5267; 0 picks a free one)."
        ),
        database: str | None = DATABASE,
        store: str | None = STORE,
        executor: str | None = EXECUTOR,
    ) -> None:
        cmd = [sys.executable, "-m", "kaon.api"]
        if host:
            cmd += ["--host", host]
        if port is not None:
            cmd += ["--port", str(port)]
        if s3_port is not None:
            cmd += ["--s3-port", str(s3_port)]
        os.execv(sys.executable, cmd + _engine_args(database, store, executor))

    @app.command()
    def init(
        endpoint: str = typer.Option(
            None, "--endpoint", "-e", help="Server URL, e.g. http://host:5266."
        ),
        token: str | None = typer.Option(
            None, "--token", help="API token to act with (a user's, from `kaon user add`)."
        ),
    ) -> None:
        """Point the CLI at a server (no -e: back to the local platform) and say who it acts
        as. Without --token, a server on this machine is tried with the local platform's
        token ($KAON_HOME/token, the first admin's); for another machine, `kaon auth token`
        run there prints it, and `kaon user add NAME` makes a token per person.
        `kaon init --token T` (no -e) acts as T's user on the local platform.
        KAON_ENDPOINT and KAON_TOKEN, when set, win over what init saved."""
        from kaon.client.connect import local_server, save_config

        if endpoint:
            token = check_server(endpoint.rstrip("/"), token)
        elif token is not None and (running := local_server()) is not None:
            check_server(running[0], token)
        path = save_config(endpoint, token)
        who = " with the token given" if token and not endpoint else ""
        typer.echo(f"kaon now talks to {endpoint or 'the local platform'}{who} (config {path})")

    @app.command()
    def version(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Client and server versions (the server is asked, never started)."""
        show_version(as_json)

    @app.command()
    def gc(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Reclaim storage no commit references (killed uploads, deleted repos, expired
        S3 multipart uploads); uploads still going on are spared (their lease), and can run
        meanwhile."""
        from kaon.client import Client

        with Client.from_env() as client:
            report = client.gc()
        if as_json:
            emit_json(report)
            return
        typer.echo(
            f"freed {human_size(report.bytes_freed)}: {report.packs_deleted} pack(s) deleted, "
            f"{report.packs_rewritten} repacked, {report.chunks_dropped} chunk(s), "
            f"{report.trees_deleted} tree(s), {report.commits_deleted} commit object(s)"
        )
