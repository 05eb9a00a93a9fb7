"""Provenance and reproduction commands: `kaon train provenance -m <model>`,
`kaon serve provenance -e <endpoint>`, `kaon data subvenance <commit>`,
`kaon train reproduce -j <job> --verify`."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kaon.cli.output import REPORTER, boxed, emit_json, info, success
from kaon.cli.workspace import WORKSPACE, client
from kaon.core.errors import BackendUnavailable, InvalidInput, KaonError

if TYPE_CHECKING:
    from kaon.client import Client
    from kaon.client.models import ProvenanceInfo

FORMATS = ("pdf", "svg", "png", "dot", "json")
FORMAT = typer.Option("pdf", "--format", help="pdf, svg, png (need Graphviz), dot or json.")
OUT = typer.Option(Path(), "--out_dir", "--out-dir", "-o", help="Parent folder.")
data_app = typer.Typer(help="Questions about data: what was made from it.", no_args_is_help=True)


def render(prov: ProvenanceInfo, target: Path, fmt: str) -> Path:
    """Write the graph as `fmt` to `target` (suffix added); Graphviz `dot` for drawings."""
    import json

    if fmt not in FORMATS:
        raise InvalidInput(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    path = target.with_name(target.name + "." + fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps(prov.graph.to_dict(), indent=2) + "\n")
        return path
    if fmt == "dot":
        path.write_text(prov.dot)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise BackendUnavailable(
            "Graphviz `dot` is not installed, so no drawing can be made: install it "
            "(apt-get install graphviz, brew install graphviz) or use --format dot or json"
        )
    done = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(path)], input=prov.dot.encode(), capture_output=True
    )
    if done.returncode != 0:
        raise KaonError(f"dot failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    return path


def train_provenance(
    model_id: str = typer.Option(
        ..., "--model_id", "--model-id", "-m", help="e.g. e23a2_9fd9d:b82151"
    ),
    out: Path = OUT,
    fmt: str = FORMAT,
    workspace: str = WORKSPACE,
) -> None:
    """Draw a model's provenance: data, code, params, environment, job → model. Writes
    <out>/<workspace>/provenance/model-<id>.<format> and prints the tree."""
    from kaon.client import state

    ws = state.require_workspace()
    with client() as c:
        prov = c.provenance(ws, model_id)
    path = render(prov, out / ws / "provenance" / f"model-{model_id}", fmt)
    typer.echo(prov.text)
    success(f"Provenance of model {model_id} drawn to {path}")


def serve_provenance(
    endpoint: str = typer.Option(None, "--endpoint", "-e", help="Endpoint name."),
    ind: int = typer.Option(None, "--ind", "-i", help="Row of the last `kaon serve list`."),
    out: Path = OUT,
    fmt: str = FORMAT,
) -> None:
    """Draw an endpoint's provenance (training and serving): writes
    <out>/<workspace>/provenance/<endpoint>.<format>."""
    from kaon.cli.serve import endpoint_ref

    name = endpoint_ref(endpoint, ind)
    with client() as c:
        prov = c.endpoint_provenance(name)
        ws = c.get_endpoint(name).workspace
    path = render(prov, out / ws / "provenance" / name, fmt)
    typer.echo(prov.text)
    success(f"Provenance of endpoint {name} drawn to {path}")


@data_app.command("subvenance")
def subvenance(
    commit: str = typer.Argument(
        ..., help="A data commit: <repo>@<commit>, or a commit id prefix."
    ),
    out: Path = typer.Option(None, "--out_dir", "--out-dir", "-o", help="Also draw it here."),
    fmt: str = FORMAT,
    as_json: bool = typer.Option(False, "--json", help="Print the graph as JSON."),
) -> None:
    """Every job, model and endpoint downstream of a data commit (an empty table when
    nothing used it yet)."""
    from kaon.core.errors import NotFound

    ref = commit.rsplit("@", 1)[-1]
    with client() as c:
        if "@" in commit:  # repo@branch or repo@prefix: resolved first, so it exists
            ref = c.inspect_commit(commit.rsplit("@", 1)[0], ref).id
        try:
            prov = c.subvenance(ref)
        except NotFound:
            if "@" not in commit and not _is_commit(c, ref):  # a typo, not an unused commit
                raise
            prov = None
    if as_json:
        emit_json(prov.graph.to_dict() if prov else {"nodes": [], "edges": []})
        return
    nodes = [n for n in prov.graph.nodes if n.id != prov.root] if prov else []  # not itself
    rows = [
        [n.kind.value, n.label, str(n.attrs.get("created", "")).replace("T", " ")] for n in nodes
    ]
    boxed(["kind", "name", "created"], rows, f"DOWNSTREAM OF {ref[:12]}")
    if prov is None:
        info(f"Nothing is downstream of {commit}: no job has used commit {ref[:12]} yet")
        return
    if out is not None:
        success(f"drawn to {render(prov, out / 'provenance' / f'subvenance-{ref[:12]}', fmt)}")


def _is_commit(c: Client, prefix: str) -> bool:
    """Whether some repo has a commit starting with `prefix` (asked only when nothing used it)."""
    for repo in c.list_repos():
        try:
            c.inspect_commit(repo.name, prefix)
        except KaonError:
            continue
        return True
    return False


def reproduce(
    job: str = typer.Option(None, "--job_id", "--job-id", "-j", help="The job to re-run."),
    ind: int = typer.Option(None, "--ind", "-i", help="Row of the last `kaon train list`."),
    verify: bool = typer.Option(False, "--verify", help="Exit 1 unless every file is identical."),
    timeout: float = typer.Option(3600, "--timeout", help="Seconds to wait for the re-run."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Re-run a job from its recorded inputs (same code and data commits, same parameters,
    same environment lock, rebuilt if deleted) and compare every output file's hash."""
    from kaon.cli.train import job_ref
    from kaon.client.follow import succeeded

    with client() as c:
        original = c.get_job(job_ref(job, ind))
        done, compared = c.reproduce_and_compare(original, timeout, reporter=REPORTER)
    rows = [asdict(r) for r in compared]
    different = [r for r in compared if not r.identical]
    if as_json:
        emit_json(
            {"original": original.id, "reproduction": done.id, "state": done.state, "files": rows}
        )
    else:
        boxed(
            ["trial", "file", "original", "reproduced", "result"],
            [[r.trial, r.file, r.original[:12], r.reproduced[:12], r.result] for r in compared],
            f"REPRODUCTION OF {original.id[:8]} AS {done.id[:8]} ({done.state})",
        )
    if not succeeded(done):
        info(f"The reproduction ended {done.state}: {done.reason}")
    if verify and (different or not succeeded(done) or not rows):
        raise typer.Exit(1)
    if not different and rows:
        success(f"All {len(rows)} output files are identical, bit for bit")


def register(train_app: typer.Typer, serve_app: typer.Typer) -> None:
    """`kaon train provenance|reproduce`, `kaon serve provenance` (`kaon data`: register_data)."""
    train_app.command("provenance")(train_provenance)
    train_app.command("reproduce")(reproduce)
    serve_app.command("provenance")(serve_provenance)


def register_data(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
