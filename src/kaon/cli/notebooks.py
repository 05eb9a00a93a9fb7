"""Notebook commands in kaos' grammar: `kaon notebook deploy [-s bundle] [-d data]`, list,
logs, build-logs, save, kill (docs/notebooks.md). The SDK does the work
(kaon.client.notebooks); these parse and print."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.options import JSON, created, ind, name_or_row
from kaon.cli.output import (
    REPORTER,
    boxed,
    confirm,
    emit_json,
    follow_log,
    info,
    reason_cell,
    success,
)
from kaon.cli.workspace import WORKSPACE, client
from kaon.core.notebooks import NotebookState

if TYPE_CHECKING:
    from kaon.wire.notebooks import NotebookInfo

NAME = typer.Option(None, "--name", "-n", help="Notebook name (see `kaon notebook list`).")
IND = ind("notebook")
notebook_app = typer.Typer(
    help="JupyterLab notebooks in the workspace's environment, with its data, behind the "
    "platform's gateway at <host>/<name>/lab; their folders saved as versioned bundles "
    "(docs/notebooks.md).",
    no_args_is_help=True,
)


def _ref(name: str | None, row: int | None) -> str:
    return name_or_row(name, row, "-n/--name", "notebook")


@notebook_app.command("deploy")
def deploy(
    source: Path = typer.Option(
        None,
        "--source_bundle",
        "--source-bundle",
        "-s",
        help="Notebook bundle: a folder with a requirements.txt (JupyterLab is added) and "
        "notebooks. Default: the built-in template.",
    ),
    data: Path = typer.Option(
        None,
        "--data_bundle",
        "--data-bundle",
        "-d",
        help="Data bundle, read-only in the cells at $KAON_DATA_DIR. Default: the "
        "workspace's latest data.",
    ),
    name: str = typer.Option(
        None,
        "--name",
        "-n",
        help="Unique on the platform (2-40 of a-z 0-9 '-'); it answers at /<name>/lab. "
        "Default: notebook-<workspace>-<user>.",
    ),
    cpu: float = typer.Option(
        None, "--cpu", help="CPUs its processes run on (whole CPUs: 0.5 is one)."
    ),
    memory: str = typer.Option(
        None,
        "--memory",
        help="Memory limit, e.g. 2Gi: its processes' together where the server has a cgroup, "
        "else each one's (deploy says which).",
    ),
    wait: bool = typer.Option(
        False, "--wait", help="Wait until JupyterLab answers (exit 1 if it fails)."
    ),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """Start a JupyterLab on a notebook bundle. Its token is printed once: JupyterLab and the
    gateway ask for it (open <url>?token=<token>)."""
    from kaon.client import state

    ws = state.require_workspace()
    with client() as c:
        done = c.deploy_notebook(
            ws, source, data, name=name, cpu=cpu, memory=memory, reporter=REPORTER
        )
        found = done.notebook
        if wait:
            found = c.wait_notebook(ws, found.name)
    if as_json:
        emit_json(done)
    else:
        success("Notebook deployed - check status with `kaon notebook list`")
        info(f'Info - Please use "{done.token}" as the notebook token (shown only now)')
        info(f"Open http://{found.url}?token={done.token}")
        if found.limits:
            info(f"Limits - {found.limits}")
    if wait and not found.ready:
        info(f"Notebook {found.name} did not start: {found.reason}")
        raise typer.Exit(1)


@notebook_app.command("list")
def list_(as_json: bool = JSON, workspace: str = WORKSPACE) -> None:
    """BUILDING (duration | job_id | started | state [| reason]) and RUNNING (ind |
    created_at | name | state | url | user) tables; a failed build shows in BUILDING with its
    reason (`kaon notebook build-logs -j <job_id>`). --json: every notebook, killed ones too."""
    from kaon.client import state

    ws = state.require_workspace()
    with client() as c:
        found = c.list_notebooks(ws)
    building = [n for n in found if n.state in (NotebookState.BUILDING, NotebookState.FAILED)]
    running = [n for n in found if n.state == NotebookState.RUNNING]
    state.save_index("notebook", [n.name for n in running])
    if as_json:
        emit_json(found)
        return
    if not building + running:
        info("There are currently no notebooks: first run `kaon notebook deploy`")
        return
    if building:
        now = time.time()
        rows = [
            [
                f"{now - n.created:.0f} s",
                n.build,
                created(n.created),
                n.state,
                reason_cell(n.reason),
            ]
            for n in building
        ]
        boxed(["duration", "job_id", "started", "state", "reason"], rows, "BUILDING")
    if running:
        boxed(
            ["ind", "created_at", "name", "state", "url", "user"],
            [
                [i, created(n.created), n.name, _state(n), n.url, n.author]
                for i, n in enumerate(running)
            ],
            "RUNNING",
        )


def _state(n: NotebookInfo) -> str:
    if n.ready:
        return n.state + (" (unsaved)" if n.unsaved else "")
    return f"{n.state} (starting)"


@notebook_app.command("logs")
def logs(
    name: str = NAME,
    ind: int = IND,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing as it grows."),
    workspace: str = WORKSPACE,
) -> None:
    """JupyterLab's log (its kernels' messages, restarts)."""
    from kaon.client import state

    ws = state.require_workspace()
    ref = _ref(name, ind)
    with client() as c:
        c.get_notebook(ws, ref)
        if not follow_log(c.follow_notebook(ws, ref, follow=follow), None):
            info(f"Notebook {ref} has logged nothing yet")


@notebook_app.command("build-logs")
def build_logs(
    job: str = typer.Option(
        ..., "--job_id", "--job-id", "-j", help="The build (job_id in `list`)."
    ),
    out: Path = typer.Option(
        None,
        "--out_dir",
        "--out-dir",
        "-o",
        help="Also write <out>/<ws>/logs/build-notebook-<job>.log.",
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Until the build ends."),
    workspace: str = WORKSPACE,
) -> None:
    """A notebook build's log: resolving and installing its requirements, starting JupyterLab."""
    from kaon.client import state

    ws = state.require_workspace()
    dest = None
    if out is not None:
        dest = out / ws / "logs" / f"build-notebook-{job}.log"
        dest.parent.mkdir(parents=True, exist_ok=True)
    with client() as c:
        c.notebook_build_logs(ws, job)  # an unknown build fails before anything is printed
        follow_log(c.follow_notebook(ws, "", build=job, follow=follow), dest)


@notebook_app.command("save")
def save(
    name: str = NAME,
    ind: int = IND,
    message: str = typer.Option("", "--message", "-m", help="The commit's message."),
    outputs: bool = typer.Option(False, "--with-outputs", help="Keep the cells' outputs."),
    as_json: bool = JSON,
    workspace: str = WORKSPACE,
) -> None:
    """Commit the notebook's folder to the branch <name> of the workspace's source repo
    (notebooks without their outputs unless --with-outputs)."""
    from kaon.client import state

    ws = state.require_workspace()
    ref = _ref(name, ind)
    with client() as c:
        saved = c.save_notebook(ws, ref, message, outputs=outputs)
    if as_json:
        emit_json(saved)
        return
    success(
        f"Saved notebook {ref} as bundle {saved.bundle} (commit {saved.commit[:12]} of {saved.repo})"
    )


@notebook_app.command("kill")
def kill(
    name: str = NAME,
    ind: int = IND,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask (unsaved changes are not saved to <name>)."
    ),
    workspace: str = WORKSPACE,
) -> None:
    """Stop a notebook. Its last folder is always kept, outputs included, in the branch
    <name>-last of the source repo; with unsaved changes it asks first."""
    from kaon.client import state

    ws = state.require_workspace()
    ref = _ref(name, ind)
    with client() as c:
        if not yes:
            found = c.get_notebook(ws, ref)
            if found.unsaved:
                confirm(
                    f"Notebook {ref} has unsaved changes (`kaon notebook save -n {ref}` saves "
                    f"them; they are kept in the branch {ref}-last anyway). Kill it?"
                )
            else:
                confirm(f"Are you sure about killing notebook {ref}?")
        done = c.kill_notebook(ws, ref)
    success(f"Successfully killed notebook {ref}")
    if done.kept is not None:
        info(
            f"Its last state is in branch {done.kept.branch} of {done.kept.repo} ({done.kept.bundle})"
        )


@notebook_app.command("provenance")
def provenance(
    name: str = NAME,
    ind: int = IND,
    out: Path = typer.Option(
        None, "--out_dir", "--out-dir", "-o", help="Also draw it: <out>/<ws>/provenance/."
    ),
    fmt: str = typer.Option("pdf", "--format", help="pdf, svg, png (need Graphviz), dot, json."),
    as_json: bool = typer.Option(False, "--json", help="Print the graph as JSON."),
    workspace: str = WORKSPACE,
) -> None:
    """What the notebook used (its bundles, environment, the data its S3 key read, as a
    job's reads are recorded) and the code commits its saves made: a model trained from
    one of them shows all this in `kaon train provenance`."""
    from kaon.cli.provenance import render
    from kaon.client import state

    ws = state.require_workspace()
    ref = _ref(name, ind)
    with client() as c:
        prov = c.notebook_provenance(ws, ref)
    if as_json:
        emit_json(prov.graph.to_dict())
        return
    typer.echo(prov.text)
    if out is not None:
        success(f"drawn to {render(prov, out / ws / 'provenance' / f'notebook-{ref}', fmt)}")


def register(app: typer.Typer) -> None:
    app.add_typer(notebook_app, name="notebook")
