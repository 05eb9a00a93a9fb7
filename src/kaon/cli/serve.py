"""Serving commands in kaos' grammar: `kaon serve deploy -s <bundle> -m <model id>
[--name petset]`, list, get, logs, build-logs, kill, predict; a named endpoint's versions and
traffic (update, promote, rollback, versions, feedback) are in kaon.cli.releases."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kaon.cli.options import JSON, TAIL, created, ind, name_or_row
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

ENDPOINT = typer.Option(
    None,
    "--endpoint",
    "-e",
    help="Endpoint name: petset (--name), a version of it (petset-c517ec), or serve-<ws>-<hex>.",
)
IND = ind("serve")
WAIT = 600.0  # seconds `deploy --wait` waits for the endpoint to answer at most
serve_app = typer.Typer(
    help="Serve trained models as HTTP endpoints (serve bundle: model.py + requirements.txt). "
    "A named endpoint (`deploy --name petset`) gets new versions with `update` (rolling, "
    "--canary N, --shadow), `promote`, `rollback`; `versions` and `feedback` show them "
    "(docs/serving.md).",
    no_args_is_help=True,
)


def endpoint_ref(name: str | None, ind: int | None) -> str:
    return name_or_row(name, ind, "-e/--endpoint", "serve")


@serve_app.command("deploy")
def deploy(
    source: Path = typer.Option(
        None, "--source_bundle", "--source-bundle", "-s", help="Serve bundle (with a model.py)."
    ),
    model_id: str = typer.Option(
        None,
        "--model_id",
        "--model-id",
        "-m",
        help="Trained model. Alone (no -s, no --mlflow): a model whose files hold an MLflow "
        "model (an MLmodel file), served as --mlflow serves one.",
    ),
    mlflow: Path = typer.Option(
        None,
        "--mlflow",
        help="Instead of -s: a folder with an MLmodel file (an MLflow pyfunc model, e.g. "
        "saved by mlflow.sklearn.save_model), served with no model.py in an environment of "
        "its own requirements.txt.",
    ),
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
    name: str = typer.Option(
        None,
        "--name",
        "-n",
        help="Endpoint name, unique on the platform (2-40 of a-z 0-9 '-', e.g. petset): it "
        "answers at /<name>/invocations and gets new versions with `kaon serve update -e "
        "<name>`. Default: serve-<workspace>-<6 hex>.",
    ),
    version: str = typer.Option(
        None,
        "--version",
        help="This version's label (1-32 of a-z 0-9 . _, e.g. c517ec); it also answers at "
        "/<name>-<version>/. Default: the first 6 hex of the model's data commit.",
    ),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """Deploy an endpoint: the serve bundle with the model's files beside its model.py.
    Its prediction routes answer anyone who reaches the server unless --auth.

    With --name: the same inputs deployed again to the same name answer with the version
    that exists (nothing new starts); a name that exists with another model or bundle is
    refused: use `kaon serve update -e <name> -m <model id>`."""
    from kaon.client import state
    from kaon.client.follow import running
    from kaon.core.envvars import parse_pairs
    from kaon.core.releases import release_name, version_label

    variables = parse_pairs(env or [])
    if source is not None and mlflow is not None:
        raise InvalidInput("give a serve bundle (-s FOLDER) or an MLflow model (--mlflow FOLDER)")
    if source is None and mlflow is None and model_id is None:
        raise InvalidInput(
            "give a serve bundle (-s FOLDER), an MLflow model (--mlflow FOLDER) or the model "
            "id of a job's MLflow model (-m MODEL_ID)"
        )
    if name is not None:
        release_name(name)  # before anything else: the name is the first thing to fix
    if version is not None:
        version_label(version)
    ws = state.require_workspace()
    with client() as c:
        endpoint = c.serve(
            ws,
            source=source,
            mlflow=mlflow,
            model_id=model_id,
            replicas=replicas,
            batch=batch,
            timeout=timeout,
            env=variables,
            auth=auth,
            name=name,
            version=version,
            reporter=REPORTER,
        )
        if wait:
            endpoint = c.wait(endpoint, timeout=WAIT)
    if as_json:
        emit_json(endpoint)
    elif name is not None:
        release = endpoint.release or name
        info(
            f"Endpoint {release} version {endpoint.version} {endpoint.state}: "
            f"http://{release_url(endpoint)} (this version alone: http://{endpoint.url})"
        )
    else:
        info(f"Endpoint {endpoint.name} {endpoint.state}: http://{endpoint.url}")
    if wait and not running(endpoint):
        info(f"Endpoint {endpoint.name} did not start: {endpoint.reason}")
        raise typer.Exit(1)


def release_url(e: EndpointInfo) -> str:
    """The address of the endpoint `e` is a version of: <host:port>/<release>/invocations."""
    base = e.url.rsplit("/", 2)[0]
    return f"{base}/{e.release or e.name}/invocations"


@serve_app.command("list")
def list_(
    show_all: bool = typer.Option(
        False, "--all", "-a", help="Also killed endpoints (KILLED table, ind after RUNNING)."
    ),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """One row per endpoint (a named one with all its versions: `kaon serve versions -e
    <name>` lists them). BUILDING (created_at | name | version | state | user | reason:
    address these with -e) and RUNNING (ind | created_at | name | version | state | url |
    user | auth [| reason]) tables; `version` is the version that answers, or each one with
    its share during a canary (`c517ec 90%`, `d41d8c 10%`), a shadow (`d41d8c shadow`), one
    a change waits for (`d41d8c starting`) and one replaced (`c517ec draining`). auth is `token` for an endpoint deployed with --auth, else `open`.
    Killed endpoints are hidden unless --all. `ind` is what -i takes in serve logs, get,
    kill... --json: the versions behind the rows (one object per version)."""
    from kaon.cli.releaseview import listing
    from kaon.client import state

    ws = state.require_workspace()
    with client() as c:
        shown = listing(c, c.list_endpoints(ws), show_all)
    building, up, gone = shown.building, shown.up, shown.gone
    state.save_index("serve", [r.name for r in up + gone])
    if as_json:
        emit_json([v for r in building + up + gone for v in r.versions])
        return
    if not building + up + gone:
        more = " (killed ones: `kaon serve list --all`)" if shown.hidden else ""
        info(f"There are currently no endpoints: first run `kaon serve deploy`{more}")
        return
    if building:
        rows = [[created(r.created), r.name, r.cell, r.main.state, r.main.author] for r in building]
        _boxed(
            ["created_at", "name", "version", "state", "user"],
            rows,
            [r.main for r in building],
            "BUILDING",
        )
    headers = ["ind", "created_at", "name", "version", "state", "url", "user", "auth"]
    for title, group, first in (("RUNNING", up, 0), ("KILLED", gone, len(up))):
        table: list[list[Any]] = [
            [
                first + i,
                created(r.created),
                r.name,
                r.cell,
                r.main.state,
                release_url(r.main),
                r.main.author,
                _auth(r.main),
            ]
            for i, r in enumerate(group)
        ]
        if group:
            _boxed(headers, table, [r.main for r in group], title)


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
    when unchanged (it prints the command); a named endpoint's as a new version with `kaon
    serve update -e <name> -s <endpoint>/code`."""
    with client() as c:
        e = c.get_endpoint(endpoint_ref(endpoint, ind))
        dest = c.download_endpoint(e, out, reporter=REPORTER)
    success(f"Extracted to {dest}")
    model = f" -m {e.model_id}" if e.model_id else ""
    if e.release and e.release != e.name:  # a named endpoint: edited, it is a new version
        info(
            f"Deploy it as a new version with `kaon serve update -e {e.release} -s "
            f"{dest.parent}{model} --version <label>` (after editing)"
        )
        return
    auth = " --auth" if e.auth else ""  # its predictions need a token: the new one's too
    info(f"Deploy it again with `kaon serve deploy -s {dest.parent}{model}{auth}` (after editing)")


def _logs(name: str, kind: str, follow: bool, out: Path | None, tail: int | None) -> None:
    from kaon.client.follow import failed, never_started

    with client() as c:
        found = c.get_endpoint(name)
        pieces = c.logs(found, build=kind == "build", follow=follow, tail=tail)
        printed = follow_log(pieces, out)
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
    tail: int | None = TAIL,
) -> None:
    """The replicas' output, timestamped: start-up, errors with full tracebacks. An endpoint
    whose build failed has none: exit 1 with its reason and `build-logs`."""
    _logs(endpoint_ref(endpoint, ind), "serve", follow, out, tail)


@serve_app.command("build-logs")
def build_logs(
    job: str = typer.Option(None, "--job_id", "--job-id", "-j", help="Endpoint name."),
    endpoint: str = ENDPOINT,
    ind: int = IND,
    out: Path = typer.Option(None, "--out", "-o", help="Also write the log to this file."),
    tail: int | None = TAIL,
) -> None:
    """How the endpoint's environment was built (lock, install, errors)."""
    _logs(endpoint_ref(job or endpoint, ind), "build", False, out, tail)


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
    """Send one payload to an endpoint and print its answer (exit 1 on an error answer); the
    model and version that answered and the request id (for feedback) go to stderr."""
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
    model, version = headers.get("x-kaon-model-id", "?"), headers.get("x-kaon-version", "?")
    info(f"model {model}, version {version}, request {headers.get('x-request-id', '?')}")


def register(app: typer.Typer) -> None:
    from kaon.cli import releases

    releases.register(serve_app)
    app.add_typer(serve_app, name="serve")
