"""Serving commands in kaos' grammar: `kaon serve deploy -s <bundle> -m <model id>`, list,
get, logs, build-logs, kill, predict."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.output import (
    REPORTER,
    boxed,
    confirm,
    emit_json,
    follow_log,
    info,
    no_run_log,
    reason_cell,
    success,
)
from kaon.cli.workspace import WORKSPACE, client
from kaon.core.errors import InvalidInput, KaonError

if TYPE_CHECKING:
    from kaon.client.models import EndpointInfo

JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
ENDPOINT = typer.Option(None, "--endpoint", "-e", help="Endpoint name (serve-<ws>-<hex>).")
IND = typer.Option(None, "--ind", "-i", help="Row of the last `kaon serve list`.")
WAIT = 600.0  # seconds `deploy --wait` waits for the endpoint to answer at most
serve_app = typer.Typer(
    help="Serve trained models as HTTP endpoints (serve bundle: model.py + requirements.txt).",
    no_args_is_help=True,
)


def endpoint_ref(name: str | None, ind: int | None) -> str:
    from kaon.client import state

    if (name is None) == (ind is None):
        raise InvalidInput("give exactly one of -e/--endpoint or -i/--ind (see `kaon serve list`)")
    return name if name is not None else state.from_index("serve", ind or 0)


@serve_app.command("deploy")
def deploy(
    source: Path = typer.Option(
        ..., "--source_bundle", "--source-bundle", "-s", help="Serve bundle."
    ),
    model_id: str = typer.Option(None, "--model_id", "--model-id", "-m", help="Trained model."),
    replicas: int = typer.Option(1, "--replicas", min=1, help="Processes serving it."),
    batch: str = typer.Option(None, "--batch", help="Group requests: MAX/WAITms, e.g. 32/5ms."),
    timeout: str = typer.Option(None, "--timeout", help="Per request (default 30s)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until it answers (exit 1 if it fails)."),
    env: list[str] = typer.Option(
        None, "--env", help="KEY=VALUE for the replicas' environment (repeatable); recorded."
    ),
    auth: bool = typer.Option(
        False,
        "--auth",
        help="Predictions need `Authorization: Bearer <token>` of a user (or job) that may "
        "read the workspace (default: open, as in kaos).",
    ),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """Deploy an endpoint: the serve bundle with the model's files beside its model.py.
    Its prediction routes answer anyone who reaches the server unless --auth."""
    from kaon.client import state
    from kaon.client.follow import running
    from kaon.core.envvars import parse_pairs

    variables = parse_pairs(env or [])
    ws = state.require_workspace()
    with client() as c:
        endpoint = c.serve(
            ws,
            source=source,
            model_id=model_id,
            replicas=replicas,
            batch=batch,
            timeout=timeout,
            env=variables,
            auth=auth,
            reporter=REPORTER,
        )
        if wait:
            endpoint = c.wait(endpoint, timeout=WAIT)
    if as_json:
        emit_json(endpoint)
    else:
        info(f"Endpoint {endpoint.name} {endpoint.state}: http://{endpoint.url}")
    if wait and not running(endpoint):
        info(f"Endpoint {endpoint.name} did not start: {endpoint.reason}")
        raise typer.Exit(1)


def _created(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


@serve_app.command("list")
def list_(
    show_all: bool = typer.Option(
        False, "--all", "-a", help="Also killed endpoints (KILLED table, ind after RUNNING)."
    ),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """BUILDING (created_at | name | state | user | reason: address these with -e) and
    RUNNING (ind | created_at | name | state | url | user | auth [| reason]) tables; auth is
    `token` for an endpoint deployed with --auth, else `open`. Killed endpoints are hidden
    unless --all. `ind` is what -i takes in serve logs, get, kill..."""
    from kaon.client import state
    from kaon.client.follow import killed, never_started

    ws = state.require_workspace()
    with client() as c:
        endpoints = c.list_endpoints(ws)
    building = [e for e in endpoints if never_started(e) and not killed(e)]
    up = [e for e in endpoints if not never_started(e) and not killed(e)]
    gone = [e for e in endpoints if killed(e)] if show_all else []
    state.save_index("serve", [e.name for e in up + gone])
    if as_json:
        emit_json(building + up + gone)
        return
    if not building + up + gone:
        more = "" if show_all or not endpoints else " (killed ones: `kaon serve list --all`)"
        info(f"There are currently no endpoints: first run `kaon serve deploy`{more}")
        return
    if building:
        rows = [[_created(e.created), e.name, e.state, e.author] for e in building]
        _boxed(["created_at", "name", "state", "user"], rows, building, "BUILDING")
    headers = ["ind", "created_at", "name", "state", "url", "user", "auth"]
    for title, group, first in (("RUNNING", up, 0), ("KILLED", gone, len(up))):
        table: list[list[Any]] = [
            [first + i, _created(e.created), e.name, e.state, e.url, e.author, _auth(e)]
            for i, e in enumerate(group)
        ]
        if group:
            _boxed(headers, table, group, title)


def _auth(e: EndpointInfo) -> str:
    return "token" if e.auth else "open"


def _boxed(
    headers: list[str], rows: list[list[Any]], endpoints: list[EndpointInfo], title: str
) -> None:
    """A table with a `reason` column when one of its endpoints has a reason."""
    if any(e.reason for e in endpoints) and title != "KILLED":
        headers = [*headers, "reason"]
        rows = [[*r, reason_cell(e.reason)] for r, e in zip(rows, endpoints, strict=True)]
    boxed(headers, rows, title)


@serve_app.command("get")
def get(
    endpoint: str = ENDPOINT,
    ind: int = IND,
    out: Path = typer.Option(Path(), "--out_dir", "--out-dir", "-o", help="Parent folder."),
) -> None:
    """Download what an endpoint serves (bundle + model files) into
    <out>/<workspace>/<endpoint>/code/<name>:<hash>/. Deploy it again (edited or not) with
    `kaon serve deploy -s <endpoint>/code -m <model id>`: a new endpoint, the same bundle id
    when unchanged (it prints the command)."""
    with client() as c:
        e = c.get_endpoint(endpoint_ref(endpoint, ind))
        dest = c.download_endpoint(e, out, reporter=REPORTER)
    success(f"Extracted to {dest}")
    model = f" -m {e.model_id}" if e.model_id else ""
    auth = " --auth" if e.auth else ""  # its predictions need a token: the new one's too
    info(f"Deploy it again with `kaon serve deploy -s {dest.parent}{model}{auth}` (after editing)")


def _logs(name: str, kind: str, follow: bool, out: Path | None) -> None:
    from kaon.client.follow import failed, never_started

    with client() as c:
        found = c.get_endpoint(name)
        printed = follow_log(c.logs(found, build=kind == "build", follow=follow), out)
        if kind == "serve" and not printed:
            e = c.get_endpoint(name)
            if never_started(e):
                pointer = f"kaon serve build-logs -e {name}"
                no_run_log(f"endpoint {name}", e.state, failed(e.state), e.reason, pointer)


@serve_app.command("logs")
def logs(
    endpoint: str = ENDPOINT,
    ind: int = IND,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the log to this file."),
) -> None:
    """The replicas' output, timestamped: start-up, errors with full tracebacks. An endpoint
    whose build failed has none: exit 1 with its reason and `build-logs`."""
    _logs(endpoint_ref(endpoint, ind), "serve", follow, out)


@serve_app.command("build-logs")
def build_logs(
    job: str = typer.Option(None, "--job_id", "--job-id", "-j", help="Endpoint name."),
    endpoint: str = ENDPOINT,
    ind: int = IND,
    out: Path = typer.Option(None, "--out", "-o", help="Also write the log to this file."),
) -> None:
    """How the endpoint's environment was built (lock, install, errors)."""
    _logs(endpoint_ref(job or endpoint, ind), "build", False, out)


@serve_app.command("kill")
def kill(
    endpoint: str = ENDPOINT,
    ind: int = IND,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop an endpoint's replicas."""
    name = endpoint_ref(endpoint, ind)
    if not yes:
        confirm(f"Are you sure about killing endpoint {name}?")
    with client() as c:
        c.kill_endpoint(name)
    success(f"Successfully killed endpoint {name}")


@serve_app.command("predict")
def predict(
    endpoint: str = ENDPOINT,
    ind: int = IND,
    file: Path = typer.Option(..., "--file", "-f", help="Payload (JSON or any bytes)."),
    content_type: str = typer.Option(None, "--content-type", help="Default: by extension."),
) -> None:
    """Send one payload to an endpoint and print its answer (exit 1 on an error answer)."""
    name = endpoint_ref(endpoint, ind)
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    ctype = content_type or (
        "application/json" if file.suffix == ".json" else "application/octet-stream"
    )
    with client() as c:
        status, headers, body = c.predict(name, file.read_bytes(), ctype)
    if status != 200:
        try:
            message = json.loads(body).get("error", body.decode("utf-8", "replace"))
        except ValueError:
            message = body.decode("utf-8", "replace")
        raise KaonError(f"{name} answered HTTP {status}: {message}")
    sys.stdout.write(body.decode("utf-8", "replace") + "\n")
    info(f"model {headers.get('x-kaon-model-id', '?')}, request {headers.get('x-request-id', '?')}")


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
